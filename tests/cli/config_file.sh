#!/usr/bin/env bash
# A member YAML file (type + parameters) with a key=value override on top: the override
# wins, the rest comes from the file, and the resolved config is what --dump-config prints.
set -eu
surge=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/member.yaml" <<'YAML'
type: heat2d
parameters:
  alpha: 0.25
  nx: 20
YAML
"$surge" solve --config "$tmp/member.yaml" nx=24 --dump-config >"$tmp/out.yaml"
grep -q "alpha: 0.25" "$tmp/out.yaml"
grep -q "nx: 24" "$tmp/out.yaml"
grep -q "type: heat2d" "$tmp/out.yaml"
# The dump is itself a valid member file.
"$surge" solve --config "$tmp/out.yaml" --dump-config | cmp - "$tmp/out.yaml"
echo ok
