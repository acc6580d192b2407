#!/usr/bin/env bash
# Continuous ensembles (parameters.continuous: true, issue 24): the member table keeps drawing
# training members while training runs, and training stopping stops them.
# usage: continuous_study.sh <surge> <experiment.yaml> <frames per member> <case> [key=value ...]
#   budget   a batch budget: the study ends at it, members past the first ones were drawn,
#            counts exact (check_continuous.py), no member process left
#   time     a time budget (training.max_seconds, no batch budget): the same
#   workers  budget with persistent workers (simulations_per_member 4): fewer workers than
#            simulations
#   resume   the server SIGKILLed once a study checkpoint exists, then `surge resume`: the
#            sequence goes on (ids without gaps, no parameter set twice), the batch total is
#            the budget, counts exact
#   memory   two studies on 96x96 fields and a 200-sample buffer, 3 s and 30 s of training:
#            the long one receives >= 10x the buffer's capacity, and its peak RSS (VmHWM)
#            exceeds the short one's by at most 2 x the buffer's bytes + 16 MiB
# Further arguments are added to surge run's. Exits 0 after "ok: ...", 1 after "FAIL: ...".
set -u
surge=$1 yaml=$2 steps=$3 case=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
name="continuous$$"
leftovers() { pgrep -f -- "--experiment $name " || true; }
trap 'pkill -9 -f -- "--experiment $name " 2>/dev/null; rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  tail -8 "$tmp"/*.err 2>/dev/null
  exit 1
}
# 2 validation + 2 training members to begin with, one MPI rank each, drawn on and on.
first=4
keys=(study.name="$name" parameters.continuous=true "parameters.sampler={type: halton}"
  parameters.train_members=2 solver.ranks=1 --no-plots)
run() {  # run <tag> [key=value ...]: surge run in the background of $tmp/<tag>.{out,err}
  local tag=$1
  shift
  "$surge" run "$yaml" study.output_dir="$tmp/$tag" "${keys[@]}" "$@" \
    >"$tmp/$tag.out" 2>"$tmp/$tag.err" </dev/null &
  pid=$!
}
check() {  # check <tag> <stop reason> [options of check_continuous.py]
  local tag=$1
  shift
  [[ -z $(leftovers) ]] || fail "member processes left: $(leftovers)"
  result=$(/usr/bin/python3 "$here/check_continuous.py" "$tmp/$tag" "$steps" "$1" "$first" \
    "${@:2}") || fail "$tag: $result"
}
peak_kib() {  # peak_kib <pid>: the process's VmHWM until it exits, in KiB
  local peak=0 v
  while kill -0 "$1" 2>/dev/null; do
    v=$(awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null)
    [[ -n $v && $v -gt $peak ]] && peak=$v
    sleep 0.2
  done
  echo "$peak"
}

case $case in
  budget | time | workers)
    budget=(training.max_batches=150)
    reason="batch budget spent" expect=(batches=150)
    if [[ $case == time ]]; then
      budget=(training.max_batches=0 training.max_seconds=8) reason="time budget spent" expect=()
    fi
    [[ $case == workers ]] && budget+=(launcher.parameters.simulations_per_member=4)
    run "$case" "${budget[@]}" "$@"
    wait "$pid" || fail "surge run exited with $?"
    check "$case" "$reason" "${expect[@]}"
    if [[ $case == workers ]]; then
      workers=$(ls "$tmp/$case/logs"/worker_*.log | wc -l)
      members=$(ls "$tmp/$case/logs"/member_*_attempt1.log | wc -l)
      [[ $workers -ge 1 && $workers -lt $members ]] ||
        fail "$workers workers for $members simulations"
      result+=", $workers workers"
    fi
    echo "$result"
    ;;
  resume)
    # The budget is 10x what a fast machine trains before the kill (CI trained 400 batches
    # in 1.4 s), so the kill always lands mid-study; a slow one takes ~40 s for the rest.
    budget=4000
    run resume training.max_batches=$budget study.checkpoint_every_s=0.5 \
      streaming.server_timeout_s=3 "$@"
    for _ in $(seq 1 600); do
      ls -d "$tmp/resume"/checkpoints/study_[0-9]* 2>/dev/null | grep -vq partial && break
      kill -0 "$pid" 2>/dev/null || fail "the study ended before its first checkpoint"
      sleep 0.05
    done
    sleep 0.2
    kill -9 "$pid" 2>/dev/null || fail "the study ended before it could be killed"
    wait "$pid" 2>/dev/null
    for _ in $(seq 1 80); do
      [[ -z $(leftovers) ]] && break
      sleep 0.1
    done
    [[ -z $(leftovers) ]] || fail "member processes still running 8 s after the kill"
    "$surge" resume "$tmp/resume" >"$tmp/resumed.out" 2>"$tmp/resumed.err" </dev/null ||
      fail "surge resume exited with $?"
    grep -q "resuming study" "$tmp/resumed.err" || fail "the resume did not say where it resumed from"
    check resume "batch budget spent" batches=$budget resumed=1
    echo "$result, resumed after SIGKILL"
    ;;
  memory)
    capacity=200 sample_bytes=$((96 * 96 * 4))
    keys+=("solver.parameters={nx: 96, ny: 96, t_end: 0.01, n_outputs: 10}"
      "reservoir={type: fifo, parameters: {capacity: $capacity, watermark: 32, batch_size: 16}}"
      launcher.parameters.simulations_per_member=1000 training.max_batches=0)
    run short training.max_seconds=3 "$@"
    short=$(peak_kib "$pid")
    wait "$pid" || fail "the short study exited with $?"
    run long training.max_seconds=30 "$@"
    long=$(peak_kib "$pid")
    wait "$pid" || fail "the long study exited with $?"
    check long "time budget spent" min_samples=$((10 * capacity))
    bound=$((2 * capacity * sample_bytes / 1024 + 16 * 1024))
    [[ $((long - short)) -le $bound ]] ||
      fail "peak RSS $long KiB after 30 s, $short KiB after 3 s: grew past $bound KiB"
    echo "$result; peak RSS $((short / 1024)) MiB (3 s), $((long / 1024)) MiB (30 s)," \
      "bound +$((bound / 1024)) MiB"
    ;;
  *)
    fail "unknown case $case"
    ;;
esac
