#!/usr/bin/env bash
# The online-against-offline comparison at its --quick size: compare.py exits 0 and prints its
# table with its three rows in order ((a) offline, (b) online, (c) online), each with a time
# to result and a validation error.
# usage: online_vs_offline_quick.sh <compare.py> <surge> <work dir>
set -uo pipefail
compare=$1 surge=$2 work=$3
out=$(/usr/bin/python3 "$compare" --quick --surge "$surge" --out "$work" 2>&1)
rc=$?
echo "$out"
[[ $rc -eq 0 ]] || { echo "FAIL: compare.py exited $rc"; exit 1; }
rows=$(echo "$out" | grep -E '^\| \((a|b|c)\) ' | sed -E 's/^\| \((.)\).*/\1/' | tr -d '\n')
[[ $rows == abc ]] || { echo "FAIL: table rows '$rows', expected (a), (b), (c) in order"; exit 1; }
row='^\| \([abc]\) [^|]+ \| [0-9]+ \| [0-9.]+ s \| [0-9.]+ % \|'
[[ $(echo "$out" | grep -cE "$row") -eq 3 ]] ||
  { echo "FAIL: a row lacks its member count, time or error"; exit 1; }
echo "ok: the table has its three rows"
