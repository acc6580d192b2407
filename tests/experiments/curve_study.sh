#!/usr/bin/env bash
# streaming.curve.enabled on a study of 2 server ranks with no key files: the study makes its
# keys (secret files 0600, public ones 0644) and hands them to its members, which complete
# with exact counts. While it runs, a stranger (intruder.cpp) connects to every TCP port the
# server ranks listen on (ss -ltnp, by pid) without CURVE and with its own CURVE pair, and
# sends the control channel's texts: nothing is admitted, the study is unchanged, and
# results.h5 counts every attempt exactly (streaming/curve_refused, .../control_refused).
# usage: curve_study.sh <surge> <intruder> <experiment.yaml> <frames per member> [key=value ...]
set -euo pipefail
surge=$1 intruder=$2 yaml=$3 steps=$4
shift 4
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
out=$tmp/out
fail() { echo "FAIL: $*"; echo "--- surge run"; cat "$tmp/run.log"; exit 1; }
# No TCP transport between the ranks: every port the ranks listen on is then surge's.
export OMPI_MCA_btl=self,vader
mpirun -np 2 --oversubscribe "$surge" run "$yaml" study.output_dir="$out" \
  streaming.curve.enabled=true "$@" </dev/null >"$tmp/run.log" 2>&1 &
pid=$!
# Rank 0 writes the endpoint file once every rank has bound its sockets.
for _ in $(seq 1200); do
  [ -s "$out/server_endpoint" ] && break
  kill -0 "$pid" 2>/dev/null || fail "surge run ended before listening"
  sleep 0.05
done
[ -s "$out/server_endpoint" ] || fail "no server endpoint after 60 s"
ranks=$(pgrep -P "$pid" -x surge || true)
[ "$(echo "$ranks" | wc -w)" -eq 2 ] || fail "expected 2 server rank processes, found '$ranks'"
endpoints=()
for r in $ranks; do
  while read -r address; do endpoints+=("tcp://$address"); done < <(
    ss -ltnpH | awk -v p="pid=$r," 'index($0, p) { print $4 }')
done
echo "server ranks $(echo $ranks) listen on: ${endpoints[*]}"
# Rank 0: front, data, control; rank 1: data, control.
[ "${#endpoints[@]}" -eq 5 ] || fail "expected 5 listening ports, found ${#endpoints[*]}"
"$intruder" "$out/keys/server.key" "${endpoints[@]}" | tee "$tmp/intruder.log" ||
  fail "the intruder was admitted"
grep -q "^intruder: 10 attempts, 10 refused, 0 admitted" "$tmp/intruder.log" ||
  fail "not every attempt was refused"
wait "$pid" || { pid=; fail "surge run failed"; }
pid=
cat "$tmp/run.log"
for f in server.key_secret client.key_secret; do
  [ "$(stat -c %a "$out/keys/$f")" = 600 ] || fail "$f has mode $(stat -c %a "$out/keys/$f")"
done
for f in server.key client.key; do
  [ "$(stat -c %a "$out/keys/$f")" = 644 ] || fail "$f has mode $(stat -c %a "$out/keys/$f")"
done
/usr/bin/python3 "$(dirname "$0")/check_results.py" "$out" "$steps" ranks=2 refused=0 |
  sed 's/^ok:/counts ok:/'
# The stranger's CURVE pair was refused by the ZAP handlers of the front and both receivers
# (3, exactly: each socket tried once); each control socket saw 2 failed handshakes (no
# CURVE; another server key). Each receiver saw the stranger's 2 attempts fail
# (handshake_failures >= 4, summed over the receivers), the front its plain one
# (front_handshake_failures >= 1; its CURVE one is curve_refused). More are possible: a
# member that ends within milliseconds closes its heartbeat socket in the middle of its
# handshake, which counts too, but how many do depends on timing (an earlier bound of 6
# relied on them and failed on a busy machine).
/usr/bin/python3 - "$out/results.h5" <<'PY'
import sys
import h5py
with h5py.File(sys.argv[1], "r") as f:
    got = {k: int(v) for k, v in f["streaming"].attrs.items()}
if got["curve_refused"] != 3 or got["control_refused"] != 4 or got["handshake_failures"] < 4 \
        or got["front_handshake_failures"] < 1:
    print(f"FAIL: results.h5 streaming/ counts {got}, expected curve_refused 3, "
          "control_refused 4, handshake_failures >= 4, front_handshake_failures >= 1")
    sys.exit(1)
print(f"ok: CURVE study complete, strangers refused and counted {got}")
PY
