#!/usr/bin/env bash
# A next_step study, then `surge predict --initial` on a fresh member file: the rollout file
# passes the Well checker, has the member's frames and times, starts from the member's exact
# initial state, and stays within a loose error bound of the solver at its last frame.
# usage: rollout_predict.sh <surge> <experiment.yaml>
set -eu
surge=$1 yaml=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
here=$(cd "$(dirname "$0")" && pwd)
"$surge" run "$yaml" study.output_dir="$tmp/out" --no-plots </dev/null >"$tmp/run.log" 2>&1 ||
  { cat "$tmp/run.log"; exit 1; }
"$surge" solve mhd2d problem=orszag_tang nx=16 ny=16 n_outputs=8 ot_velocity=1.05 \
  ot_b0_scale=0.9 --out "$tmp/member.h5" --log-level warn
"$surge" predict "$tmp/out/model" --initial "$tmp/member.h5" --out "$tmp/rollout.h5" \
  --log-level warn
# Bad input: a field-from-parameters option on a rollout, a frame past the end.
if "$surge" predict "$tmp/out/model" ot_velocity=1 2>"$tmp/err"; then
  echo "FAIL: a next_step model predicted without --initial"; exit 1
fi
grep -q "give the state to start from with --initial" "$tmp/err" || { cat "$tmp/err"; exit 1; }
/usr/bin/python3 "$here/../../scripts/check_well_file.py" "$tmp/rollout.h5"
/usr/bin/python3 - "$tmp/member.h5" "$tmp/rollout.h5" <<'PY'
import sys
import h5py
import numpy as np
member, rollout = (h5py.File(p, "r") for p in sys.argv[1:3])
def fail(m):
    print("FAIL:", m)
    sys.exit(1)
if not np.allclose(member["dimensions/time"][:], rollout["dimensions/time"][:], rtol=0, atol=1e-6):
    fail(f"times {rollout['dimensions/time'][:]} differ from the member's")
for group in ["t0_fields", "t1_fields"]:
    if sorted(member[group]) != sorted(rollout[group]):
        fail(f"{group}: {sorted(rollout[group])} instead of {sorted(member[group])}")
    for name in member[group]:
        a, b = member[group][name][0], rollout[group][name][0]
        if a.shape != b.shape:
            fail(f"{name}: shape {b.shape} instead of {a.shape}")
        if not np.array_equal(a[0], b[0]):
            fail(f"{name}: the rollout does not start from the member's initial state")
        rel = np.linalg.norm(b[-1] - a[-1]) / np.linalg.norm(a[-1])
        if not rel < 1.0:
            fail(f"{name}: relative L2 {rel:.3f} at the last frame")
        print(f"{name}: relative L2 at the last frame {rel:.3f}")
print("ok: rollout file matches the member file's layout")
PY
