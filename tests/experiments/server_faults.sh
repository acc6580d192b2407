#!/usr/bin/env bash
# A study stops cleanly on every server rank, with its results, whatever goes wrong on one.
# usage: server_faults.sh <surge> <experiment.yaml> <frames per member> <case> [server ranks]
#   feeder      an exception injected into the feeder thread of the last server rank
#               (SURGE_TEST_FEEDER_THROW_AT): exit 1, results.h5 whose stop_reason names the
#               error and its rank, model/ written, no member left, no rank hanging
#   interrupt   Ctrl-C (SIGINT to mpirun, or to surge on one rank) while members run:
#               exit 130, results.h5 and model/ written, no member left
#   checkpoint  the second study checkpoint fails to write (SURGE_TEST_FAIL_CHECKPOINT=2):
#               one warning line, the previous checkpoint intact, the study completes
set -u
surge=$1 yaml=$2 steps=$3 case=$4 ranks=${5:-1}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
name="faults$$"
trap 'pkill -9 -f -- "--experiment $name " 2>/dev/null; rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  tail -8 "$tmp/stderr"
  exit 1
}
leftovers() { pgrep -f -- "--experiment $name " || true; }
run() {
  if [[ $ranks -gt 1 ]]; then
    timeout 300 mpirun -np "$ranks" --oversubscribe "$surge" run "$yaml" study.output_dir="$tmp/out" \
      study.name="$name" "$@" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
  else
    timeout 300 "$surge" run "$yaml" study.output_dir="$tmp/out" study.name="$name" "$@" \
      >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
  fi
}
stop_reason() {
  /usr/bin/python3 -c 'import h5py,sys; print(h5py.File(sys.argv[1])["/"].attrs["stop_reason"])' \
    "$tmp/out/results.h5"
}

case $case in
  feeder)
    SURGE_TEST_FEEDER_THROW_AT=30 SURGE_TEST_FEEDER_RANK=$((ranks - 1)) run --no-plots
    rc=$?
    [[ $rc -eq 1 ]] || fail "exit code $rc, expected 1"
    [[ -f $tmp/out/results.h5 && -f $tmp/out/model/surrogate.yaml ]] || fail "no results or model"
    reason=$(stop_reason)
    [[ $reason == *"server rank $((ranks - 1))"*"injected failure"* ]] ||
      fail "stop_reason does not name the error and its rank: $reason"
    grep -q "injected failure" "$tmp/stderr" || fail "no word of the failure on stderr"
    ;;
  interrupt)
    if [[ $ranks -gt 1 ]]; then
      # Under mpirun the ranks have 2 s between Ctrl-C and SIGKILL (Open MPI sends SIGCONT,
      # SIGTERM 1 s later, SIGKILL 1 s after that): small members, so that results.h5 is
      # quick to write.
      mpirun -np "$ranks" --oversubscribe "$surge" run "$yaml" study.output_dir="$tmp/out" \
        study.name="$name" --no-plots >"$tmp/stdout" 2>"$tmp/stderr" </dev/null &
    else
      "$surge" run "$yaml" study.output_dir="$tmp/out" study.name="$name" \
        solver.parameters.n_outputs=400 solver.parameters.nx=48 solver.parameters.ny=48 \
        --no-plots >"$tmp/stdout" 2>"$tmp/stderr" </dev/null &
    fi
    pid=$!
    for _ in $(seq 1 600); do
      # Training members run (validation members come first).
      [[ $(ls "$tmp/out/logs" 2>/dev/null | wc -l) -ge 4 ]] && break
      sleep 0.1
    done
    [[ $(ls "$tmp/out/logs" 2>/dev/null | wc -l) -ge 4 ]] || fail "members never started"
    sleep 1
    kill -INT "$pid"
    wait "$pid"
    rc=$?
    # mpirun itself exits 1 once it has passed Ctrl-C on, whatever its ranks return.
    if [[ $ranks -gt 1 ]]; then
      [[ $rc -eq 130 || $rc -eq 1 ]] || fail "exit code $rc, expected 130 (or mpirun's 1)"
    else
      [[ $rc -eq 130 ]] || fail "exit code $rc, expected 130"
    fi
    [[ -f $tmp/out/results.h5 && -f $tmp/out/model/surrogate.yaml ]] || fail "no results or model"
    grep -q "surge run $name: .* samples received" "$tmp/stdout" || fail "no summary on stdout"
    [[ $(stop_reason) == interrupted ]] || fail "stop_reason '$(stop_reason)', expected interrupted"
    ;;
  checkpoint)
    SURGE_TEST_FAIL_CHECKPOINT=2 run study.checkpoint_every_s=0.2
    rc=$?
    [[ $rc -eq 0 ]] || fail "exit code $rc, expected 0"
    [[ $(grep -c "study checkpoint at batch .* not written.*injected failure" "$tmp/stderr") -ge 1 ]] ||
      fail "no warning line for the failed checkpoint"
    ls -d "$tmp"/out/checkpoints/*.partial 2>/dev/null && fail "a partial checkpoint was left"
    n=$(ls -d "$tmp"/out/checkpoints/study_* 2>/dev/null | wc -l)
    [[ $n -ge 1 ]] || fail "no complete checkpoint"
    /usr/bin/python3 "$here/check_results.py" "$tmp/out" "$steps" "ranks=$ranks" || fail "results"
    ;;
  *) fail "unknown case $case" ;;
esac
for _ in $(seq 1 100); do
  [[ -z $(leftovers) ]] && break
  sleep 0.1
done
[[ -z $(leftovers) ]] || fail "member processes left behind: $(leftovers)"
echo "ok: $case on $ranks server rank(s)"
