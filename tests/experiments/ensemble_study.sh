#!/usr/bin/env bash
# Ensemble throughput (issue 15): persistent workers and the end of the ensemble with training.
# usage: ensemble_study.sh <surge> <experiment.yaml> <frames per member> <case> [key=value ...]
#   workers  simulations_per_member 4, one worker killed mid-simulation (fail_once_simulation
#            5 crashes its worker after output 4): that simulation is retried under its id in
#            a fresh worker (2 attempts, every other simulation 1), every simulation's samples
#            arrive exactly once (check_results.py), fewer workers than simulations ran, each
#            attempt's log is its worker's
#   stop     40 members and a 30-batch budget: the study ends within a few seconds of the
#            budget, members running then are `stopped`, pending ones never started, counts
#            balance (samples received = sum over the members), no member process is left
#   wait     the same with study.wait_for_members: true and 10 members: every member is done
# Further arguments are added to surge run's.
set -u
surge=$1 yaml=$2 steps=$3 case=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
name="ensemble$$"
trap 'pkill -9 -f -- "--experiment $name " 2>/dev/null; rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  tail -8 "$tmp/stderr"
  exit 1
}
# SERVER_RANKS=P (default 1) runs the server on P MPI ranks.
ranks=${SERVER_RANKS:-1}
run() {
  local launch=()
  [[ $ranks -gt 1 ]] && launch=(mpirun -np "$ranks" --oversubscribe)
  timeout 300 "${launch[@]}" "$surge" run "$yaml" study.output_dir="$tmp/out" study.name="$name" \
    "$@" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
}
leftovers() { pgrep -f -- "--experiment $name " || true; }

case $case in
  workers)
    run launcher.parameters.simulations_per_member=4 launcher.parameters.fail_once_simulation=5 \
      launcher.parameters.fail_once_at_output=4 "$@" || fail "surge run exited with $?"
    attempts="0:1 1:1 2:1 3:1 4:1 5:2 6:1 7:1 8:1 9:1"
    # shellcheck disable=SC2086
    /usr/bin/python3 "$here/check_results.py" "$tmp/out" "$steps" $attempts \
      "error:5=worker.[0-9]+.exited.with.code.3" | tail -1 | grep "^ok: " || fail "check_results.py"
    workers=$(ls "$tmp/out/logs"/worker_*.log | wc -l)
    # 10 simulations and the retry, at most 4 a worker: 3 workers at least (usually 4 or 5: a
    # worker that finds nothing pending when it is free is ended, and one whose last
    # simulation runs late leaves the rest to the others: 0 2 4 6 / 1 3 5-crash / 5 7 8 9).
    [[ $workers -ge 3 && $workers -lt 10 ]] || fail "$workers workers for 10 simulations"
    for f in "$tmp/out/logs"/member_*_attempt*.log; do
      [[ $(readlink "$f") == worker_*.log ]] || fail "$f is not a link to its worker's log"
    done
    [[ $(ls "$tmp/out/logs"/member_5_attempt*.log | wc -l) -eq 2 ]] || fail "simulation 5's logs"
    grep -q "streamed $steps frames of simulation 4 " "$tmp/out/logs/member_4_attempt1.log" ||
      fail "the worker's log does not hold simulation 4"
    echo "ok: workers: 10 simulations on $workers workers, simulation 5 retried"
    ;;
  stop | wait)
    members=40 keys=()
    if [[ $case == wait ]]; then
      members=10 keys=(study.wait_for_members=true)
    fi
    start=$(date +%s.%N)
    run --no-plots parameters.train_members=$members training.max_batches=30 "${keys[@]}" "$@" ||
      fail "surge run exited with $?"
    wall=$(/usr/bin/python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" \
      "$start" "$(date +%s.%N)")
    [[ -z $(leftovers) ]] || fail "member processes left: $(leftovers)"
    gap=$(sed -n 's/.*reception over \([0-9.e+-]*\) s after training.*/\1/p' "$tmp/stderr")
    /usr/bin/python3 - "$tmp/out/results.h5" "$steps" "$case" "$members" "$gap" <<'PY' ||
import sys
import h5py
path, steps, case, members, gap = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
with h5py.File(path, "r") as f:
    m = f["members"]
    status = [s.decode() if isinstance(s, bytes) else s for s in m.attrs["status"]]
    samples, attempts = m["samples"][:], m["attempts"][:]
    received = int(f["server_ranks/samples_received"][:].sum())
    if f.attrs["stop_reason"] != "batch budget spent":
        sys.exit(f"stop_reason {f.attrs['stop_reason']}")
    if received != int(samples.sum()):
        sys.exit(f"{received} samples received, the members table sums to {int(samples.sum())}")
    count = {s: status.count(s) for s in set(status)}
    for i, s in enumerate(status):
        if s == "done" and samples[i] != steps:
            sys.exit(f"member {i} done with {samples[i]} samples, expected {steps}")
        if s == "stopped" and not (samples[i] <= steps and attempts[i] == 1):
            sys.exit(f"stopped member {i}: {samples[i]} samples, {attempts[i]} attempts")
        if s == "pending" and (samples[i] != 0 or attempts[i] != 0):
            sys.exit(f"pending member {i} started: {samples[i]} samples, {attempts[i]} attempts")
        if s not in ("done", "stopped", "pending"):
            sys.exit(f"member {i} is {s}")
    if case == "wait":
        if count.get("done", 0) != len(status) or len(status) != members + 2:
            sys.exit(f"statuses {count}, expected every member done")
    else:
        if count.get("done", 0) == len(status):
            sys.exit(f"every member done ({count}): the budget came too late to stop any")
        if count.get("stopped", 0) + count.get("pending", 0) == 0:
            sys.exit(f"statuses {count}")
        if not gap or float(gap) > 5:
            sys.exit(f"reception ended {gap or '?'} s after training, expected within 5 s")
    print(f"ok: {case}: {len(status)} members {count}, {received} samples, "
          f"reception over {gap or '-'} s after training")
PY
      fail "results"
    echo "ok: $case in $wall s"
    ;;
  *)
    fail "unknown case $case"
    ;;
esac
