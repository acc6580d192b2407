#!/usr/bin/env bash
# `surge run --dry-run`: exit 0, the resolved configuration on stdout matches <regex>, and
# nothing is started or created.
# usage: expect_dry_run.sh <surge> <regex> <yaml> [args...]
set -u
surge=$1 regex=$2 yaml=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$surge" run "$yaml" study.output_dir="$tmp/out" --dry-run "$@" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
rc=$?
fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$tmp/stdout"; echo "--- stderr"; cat "$tmp/stderr"; exit 1; }
[[ $rc -eq 0 ]] || fail "exit code $rc"
grep -Eq -- "$regex" "$tmp/stdout" || fail "the resolved configuration does not match '$regex'"
[[ ! -e $tmp/out ]] || fail "the output directory was created"
echo "ok: $(grep -Eo -- "$regex" "$tmp/stdout" | head -1)"
