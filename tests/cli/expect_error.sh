#!/usr/bin/env bash
# Runs `surge <args...> --out <tmp>/out.h5` and checks what a user sees on bad input:
# a non-zero exit code, exactly one line on stderr matching <regex>, nothing on stdout,
# and no output file (final or partial) left behind.
# usage: expect_error.sh <surge> <regex> <args...>
set -u
surge=$1 regex=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$surge" "$@" --out "$tmp/out.h5" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
rc=$?
fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$tmp/stdout"; echo "--- stderr"; cat "$tmp/stderr"; exit 1; }
[[ $rc -ne 0 ]] || fail "exit code 0 for bad input"
[[ $(wc -l <"$tmp/stderr") -eq 1 ]] || fail "expected exactly one line on stderr"
grep -Eq -- "$regex" "$tmp/stderr" || fail "stderr does not match '$regex'"
[[ ! -s $tmp/stdout ]] || fail "unexpected output on stdout"
[[ ! -e $tmp/out.h5 && ! -e $tmp/out.h5.partial ]] || fail "an output file was left behind"
echo "ok (exit $rc): $(cat "$tmp/stderr")"
