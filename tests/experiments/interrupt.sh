#!/usr/bin/env bash
# Ctrl-C during `surge run`: members are stopped, what was trained is written (results.h5,
# model/), the exit code is 130, and no member process is left behind.
# usage: interrupt.sh <surge> <experiment.yaml>
set -u
surge=$1 yaml=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; tail -5 "$tmp/stderr"; exit 1; }
# Slow members (many outputs) so that the interrupt lands while they run.
"$surge" run "$yaml" study.output_dir="$tmp/out" solver.parameters.n_outputs=400 \
  solver.parameters.nx=48 solver.parameters.ny=48 --no-plots >"$tmp/stdout" 2>"$tmp/stderr" </dev/null &
pid=$!
for _ in $(seq 1 300); do
  # Wait until training members are running (validation members come first).
  [[ $(ls "$tmp/out/logs" 2>/dev/null | wc -l) -ge 4 ]] && break
  sleep 0.1
done
[[ $(ls "$tmp/out/logs" 2>/dev/null | wc -l) -ge 4 ]] || fail "members never started"
sleep 1
kill -INT "$pid"
wait "$pid"
rc=$?
[[ $rc -eq 130 ]] || fail "exit code $rc, expected 130"
[[ -f $tmp/out/results.h5 ]] || fail "no results.h5 after the interrupt"
[[ -f $tmp/out/model/surrogate.yaml ]] || fail "no model after the interrupt"
grep -q "interrupted" "$tmp/stderr" || fail "no word of the interrupt on stderr"
if pgrep -f -- "--stream .* --experiment e2e" >/dev/null; then fail "member processes left behind"; fi
echo "ok: interrupted run exited 130 with results.h5 and model/"
