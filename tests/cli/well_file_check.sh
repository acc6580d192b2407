#!/usr/bin/env bash
# A member file passes scripts/check_well_file.py, the rules of The Well's own checker.
# usage: well_file_check.sh <check_well_file.py> <command...>  (the command writes the file
# named by the --out FILE appended to it)
set -eu
checker=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$@" --log-level warn --out "$tmp/member.h5"
/usr/bin/python3 "$checker" "$tmp/member.h5"
