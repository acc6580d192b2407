#!/usr/bin/env bash
# Runs a shipped example study (examples/<language>/advection.yaml) as a user would, from a
# directory laid out like the repository root (build/ and examples/ linked), then checks it:
# exact counts, a falling loss and a validation error bound (check_results.py), the members'
# fields against a reference of the scheme and `surge predict` from the exported model
# (check_advection.py).
# usage: run_example.sh <surge> <source dir> <binary dir> <examples/.../x.yaml> <max relative L2>
#        [key=value ...]
set -euo pipefail
surge=$1 src=$2 bin=$3 yaml=$4 bound=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
here=$(cd "$(dirname "$0")" && pwd)
ln -s "$bin" "$tmp/build"
ln -s "$src/examples" "$tmp/examples"
cd "$tmp"
export PYTHONPATH=$tmp/build/python${PYTHONPATH:+:$PYTHONPATH}
"$surge" run "$yaml" study.output_dir="$tmp/out" "${@:6}" </dev/null
if [[ " ${*:6} " == *" streaming.curve.enabled=true "* ]]; then
  # The study made its keys; its members could only stream holding the client pair.
  [ "$(stat -c %a "$tmp/out/keys/client.key_secret")" = 600 ] || {
    echo "FAIL: no client secret key of mode 600 in $tmp/out/keys"
    exit 1
  }
fi
/usr/bin/python3 "$here/check_results.py" "$tmp/out" 10 ranks=1 "max_relative_l2=$bound" |
  sed 's/^ok:/counts ok:/'
"$surge" predict "$tmp/out/model" vx=0.6 kappa=0.004 --out "$tmp/predict.h5" --log-level warn
/usr/bin/python3 "$src/scripts/check_well_file.py" "$tmp/predict.h5"
/usr/bin/python3 "$here/check_advection.py" "$tmp/out" "$tmp/predict.h5"
