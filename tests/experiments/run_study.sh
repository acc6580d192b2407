#!/usr/bin/env bash
# Runs `surge run` on a study in a fresh directory and checks its results.
# usage: run_study.sh <surge> <experiment.yaml> <outputs per member> "<check args>" [key=value ...]
# SERVER_RANKS=P (default 1) starts the server on P MPI ranks (mpirun -np P --oversubscribe).
set -eu
surge=$1 yaml=$2 steps=$3 checks=$4
shift 4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export SURGE_TEST_TMP=$tmp  # scratch space for test members (faulty_member.py)
ranks=${SERVER_RANKS:-1}
if [ "$ranks" -gt 1 ]; then
  mpirun -np "$ranks" --oversubscribe "$surge" run "$yaml" study.output_dir="$tmp/out" "$@" </dev/null
else
  "$surge" run "$yaml" study.output_dir="$tmp/out" "$@" </dev/null
fi
# shellcheck disable=SC2086
/usr/bin/python3 "$(dirname "$0")/check_results.py" "$tmp/out" "$steps" "ranks=$ranks" $checks
