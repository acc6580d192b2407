#!/usr/bin/env bash
# `surge keys DIR`: two key pairs with their modes, the YAML to use them, no overwrite without
# --force; and a study naming a secret key file that others may read stops before anything
# starts, with one line saying `chmod 600 <file>`.
# usage: keys_command.sh <surge> <experiment.yaml>
set -uo pipefail
surge=$1 yaml=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
k=$tmp/keys
(umask 000 && "$surge" keys "$k") >"$tmp/out" 2>&1 || fail "surge keys failed: $(cat "$tmp/out")"
for f in server.key_secret client.key_secret; do
  [ "$(stat -c %a "$k/$f")" = 600 ] || fail "$f has mode $(stat -c %a "$k/$f")"
done
for f in server.key client.key; do
  [ "$(stat -c %a "$k/$f")" = 644 ] || fail "$f has mode $(stat -c %a "$k/$f")"
  [ "$(tr -d '\n' <"$k/$f" | wc -c)" = 40 ] || fail "$f does not hold 40 characters"
done
[ "$(ls "$k" | wc -l)" = 4 ] || fail "expected 4 files in $k: $(ls "$k")"
grep -qx "    server_secret_key_file: $k/server.key_secret" "$tmp/out" ||
  fail "no YAML for the server secret key in: $(cat "$tmp/out")"
grep -qx "    client_secret_key_file: $k/client.key_secret" "$tmp/out" || fail "no YAML for the client"
before=$(cat "$k/server.key")
"$surge" keys "$k" >"$tmp/out" 2>&1 && fail "surge keys replaced existing keys"
grep -qx "surge: config error: '$k/server.key' exists: surge keys does not replace keys (use --force)" \
  "$tmp/out" || fail "unexpected refusal: $(cat "$tmp/out")"
[ "$(cat "$k/server.key")" = "$before" ] || fail "the refused call changed server.key"
"$surge" keys "$k" --force >/dev/null || fail "surge keys --force failed"
[ "$(cat "$k/server.key")" != "$before" ] || fail "--force did not make new keys"
keys=(streaming.curve.server_public_key_file="$k/server.key"
      streaming.curve.server_secret_key_file="$k/server.key_secret"
      streaming.curve.client_public_key_file="$k/client.key"
      streaming.curve.client_secret_key_file="$k/client.key_secret")
"$surge" run "$yaml" study.output_dir="$tmp/ok" "${keys[@]}" --dry-run >"$tmp/out" 2>&1 ||
  fail "a dry run with the keys failed: $(cat "$tmp/out")"
grep -qx "    client_secret_key_file: $k/client.key_secret" "$tmp/out" ||
  fail "the resolved configuration does not name the client key: $(cat "$tmp/out")"
chmod 640 "$k/server.key_secret"
"$surge" run "$yaml" study.output_dir="$tmp/out_dir" "${keys[@]}" >"$tmp/out" 2>&1 </dev/null &&
  fail "surge run accepted a group-readable secret key"
expected="surge: config error: CURVE secret key file '$k/server.key_secret' may be accessed by others (mode 640): run \`chmod 600 $k/server.key_secret\`"
[ "$(cat "$tmp/out")" = "$expected" ] || fail "unexpected error: $(cat "$tmp/out")"
[ ! -e "$tmp/out_dir" ] || fail "the output directory was created"
echo "ok: surge keys wrote 2 pairs (0600/0644), refused to overwrite, a 0640 secret key stopped surge run"
