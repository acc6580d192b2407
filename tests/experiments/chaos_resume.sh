#!/usr/bin/env bash
# A study survives its server: the server of a small study is SIGKILLed at seeded random
# moments three times (each time after a study checkpoint exists) and `surge resume`d each
# time. Checks: no member process is left within streaming.server_timeout_s + 5 s of each
# kill; the last resume exits 0; every member's frames were received exactly once
# (check_results.py); the batch total equals the budget; the final validation error is within
# a factor 3 of an uninterrupted run of the same study.
# With P > 1 server ranks the study runs under mpirun and each kill is, at random, SIGKILL of
# one server rank (mpirun then ends the others) or of mpirun itself; it is resumed on P ranks.
# usage: chaos_resume.sh <surge> <experiment.yaml> <frames per member> [seed] [server ranks P]
set -u
surge=$1 yaml=$2 steps=$3 seed=${4:-1} ranks=${5:-1}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
name="chaos$$"
leftovers() { pgrep -f -- "--experiment $name " || true; }
trap 'pkill -9 -f -- "--experiment $name " 2>/dev/null; rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  tail -5 "$tmp"/*.err 2>/dev/null
  exit 1
}
budget=400
timeout_s=3
# The budget, not the data, ends the study: with small.yaml's 3 extra passes a resumed two-rank
# study could run its buffer dry before the budget, depending on where the kills fell (215 of
# 400 batches once), which says nothing about the resume's counts.
keys=(study.name="$name" study.checkpoint_every_s=0.5 streaming.server_timeout_s=$timeout_s
  training.max_batches=$budget study.wait_for_members=true reservoir.parameters.extra_passes=1000000)
RANDOM=$seed
# The server on $ranks rank(s): "${server[@]}" run|resume ... ($! is then mpirun's pid).
server=("$surge")
[[ $ranks -gt 1 ]] && server=(mpirun -np "$ranks" --oversubscribe "$surge")
# SIGKILL the server: the process itself on one rank, or (P > 1, at random) one of its ranks
# (rank_pids) or mpirun. Prints what was killed.
kill_server() {
  local victim=$pid what="the server"
  if [[ $ranks -gt 1 ]]; then
    if [[ ${#rank_pids[@]} -gt 0 && $((RANDOM % 2)) -eq 0 ]]; then
      victim=${rank_pids[$((RANDOM % ${#rank_pids[@]}))]}
      what="server rank process $victim"
    else
      what="mpirun"
    fi
  fi
  kill -9 "$victim" 2>/dev/null || return 1
  echo "$what"
}

# The reference: the same study, never interrupted.
"${server[@]}" run "$yaml" study.output_dir="$tmp/ref" "${keys[@]}" --no-plots \
  >"$tmp/ref.out" 2>"$tmp/ref.err" </dev/null || fail "the uninterrupted run failed"

out="$tmp/out"
"${server[@]}" run "$yaml" study.output_dir="$out" "${keys[@]}" --no-plots \
  >"$tmp/run0.out" 2>"$tmp/run0.err" </dev/null &
pid=$!
kills=0
for round in 1 2 3; do
  # Wait for a checkpoint newer than any before this round, then a random moment.
  before=$(ls -d "$out"/checkpoints/study_[0-9]* 2>/dev/null | grep -v partial | sort -V | tail -1)
  for _ in $(seq 1 600); do
    now=$(ls -d "$out"/checkpoints/study_[0-9]* 2>/dev/null | grep -v partial | sort -V | tail -1)
    [[ -n $now && $now != "$before" ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "note: the study ended before kill $round"
    break
  fi
  sleep "0.$((RANDOM % 10))"
  rank_pids=()
  [[ $ranks -gt 1 ]] && mapfile -t rank_pids < <(pgrep -P "$pid" -f -- "$surge")
  killed=$(kill_server) && kills=$((kills + 1))
  wait "$pid" 2>/dev/null
  echo "round $round: $killed killed (SIGKILL) after checkpoint $(basename "$now")"
  # Members hear nothing from the server and end on their own; the server's other ranks end
  # with it.
  gone=0
  for _ in $(seq 1 $(((timeout_s + 5) * 10))); do
    alive=""
    for p in "${rank_pids[@]}"; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    if [[ -z $(leftovers) && -z $alive ]]; then
      gone=1
      break
    fi
    sleep 0.1
  done
  [[ $gone -eq 1 ]] ||
    fail "processes still running $((timeout_s + 5)) s after the kill: members $(leftovers), server ranks$alive"
  "${server[@]}" resume "$out" >"$tmp/run$round.out" 2>"$tmp/run$round.err" </dev/null &
  pid=$!
done
wait "$pid"
rc=$?
[[ $rc -eq 0 ]] || fail "the last run exited $rc"
[[ $kills -ge 1 ]] || fail "the study was never killed"
grep -q "resuming study" "$tmp/run1.err" || fail "the first resume did not say where it resumed from"
/usr/bin/python3 "$here/check_results.py" "$out" "$steps" "ranks=$ranks" || fail "results after $kills kills"
/usr/bin/python3 - "$tmp/ref" "$out" "$budget" <<'EOF' || fail "resumed study differs from the reference"
import sys
import h5py
import numpy as np

ref, out, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])
with h5py.File(f"{ref}/results.h5") as r, h5py.File(f"{out}/results.h5") as f:
    batches = f["training/batch"][:]
    if batches[-1] != budget:
        sys.exit(f"the resumed study ended at batch {batches[-1]}, the budget is {budget}")
    if len(np.unique(batches)) != len(batches) or not np.all(np.diff(batches) == 1):
        sys.exit("the training curve has gaps or repeats: batches were lost or redone")
    e_ref = float(np.mean(r["final_validation/relative_l2"][:]))
    e_out = float(np.mean(f["final_validation/relative_l2"][:]))
    print(f"final validation relative L2: uninterrupted {100 * e_ref:.2f} %, "
          f"resumed {100 * e_out:.2f} %")
    if not e_out < 3 * e_ref:
        sys.exit(f"resumed error {e_out:.4f} is not within a factor 3 of {e_ref:.4f}")
EOF
echo "ok: $kills kills on $ranks server rank(s), resumed each time; counts exact, $budget batches"
