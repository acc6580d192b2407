#!/usr/bin/env bash
# Runs `surge <args...> --out <tmp>/out.h5` and checks what a user sees on bad input:
# exit code <code>, exactly one line on stderr matching <regex>, nothing on stdout, and no
# output file (final or partial) left behind. Exits 1 naming the first check that failed.
# usage: expect_error.sh <code> <surge> <regex> <args...>
set -u
code=$1 surge=$2 regex=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$surge" "$@" --out "$tmp/out.h5" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
rc=$?
fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$tmp/stdout"; echo "--- stderr"; cat "$tmp/stderr"; exit 1; }
[[ $rc -eq $code ]] || fail "exit code $rc, expected $code"
[[ $(wc -l <"$tmp/stderr") -eq 1 ]] || fail "expected exactly one line on stderr"
grep -Eq -- "$regex" "$tmp/stderr" || fail "stderr does not match '$regex'"
[[ ! -s $tmp/stdout ]] || fail "unexpected output on stdout"
[[ ! -e $tmp/out.h5 && ! -e $tmp/out.h5.partial ]] || fail "an output file was left behind"
echo "ok (exit $rc): $(cat "$tmp/stderr")"
