#!/usr/bin/env bash
# `surge resume` on an output directory it cannot continue: exit 2 and one line matching
# the pattern on stderr.
# usage: expect_resume_error.sh <surge> <regex>
set -u
surge=$1 pattern=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/out/checkpoints/study_5.partial"
"$surge" resume "$tmp/out" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
rc=$?
[[ $rc -eq 2 ]] || { echo "FAIL: exit code $rc, expected 2"; cat "$tmp/stderr"; exit 1; }
[[ $(wc -l <"$tmp/stderr") -eq 1 ]] || { echo "FAIL: more than one line:"; cat "$tmp/stderr"; exit 1; }
grep -Eq "$pattern" "$tmp/stderr" || { echo "FAIL: stderr does not match '$pattern':"; cat "$tmp/stderr"; exit 1; }
echo "ok: $(cat "$tmp/stderr")"
