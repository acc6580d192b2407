#!/usr/bin/env bash
# `surge run` on bad input: exit code 2 (a configuration error), one line on stderr matching
# <regex>, and nothing started or created (the output directory does not appear).
# usage: expect_run_error.sh <surge> <regex> <yaml> [args...]
# SURGE_TEST_PATH, if set, is the PATH surge runs with (e.g. one without Slurm's commands).
set -u
surge=$1 regex=$2 yaml=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ ${SURGE_TEST_PRECREATE:-0} == 1 ]]; then mkdir -p "$tmp/out" && echo keep >"$tmp/out/old"; fi
env ${SURGE_TEST_PATH+PATH="$SURGE_TEST_PATH"} "$surge" run "$yaml" study.output_dir="$tmp/out" "$@" \
  >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
rc=$?
fail() { echo "FAIL: $*"; echo "--- stderr"; cat "$tmp/stderr"; exit 1; }
[[ $rc -eq 2 ]] || fail "exit code $rc, expected 2"
[[ $(wc -l <"$tmp/stderr") -eq 1 ]] || fail "expected exactly one line on stderr"
grep -Eq -- "$regex" "$tmp/stderr" || fail "stderr does not match '$regex'"
if [[ ${SURGE_TEST_PRECREATE:-0} == 1 ]]; then
  [[ $(ls "$tmp/out") == old ]] || fail "the existing output directory was changed"
else
  [[ ! -e $tmp/out ]] || fail "the output directory was created"
fi
echo "ok (exit $rc): $(cat "$tmp/stderr")"
