#!/usr/bin/env bash
# Runs a shipped example study (examples/<language>/advection.yaml) as a user of an installed
# surge would: in a directory laid out like the repository root (examples/<language>/ with the
# example's files), builds the example's own CMake project against <prefix> (a `cmake
# --install` tree; and, for C and Fortran, with mpicc or mpif90 and the prefix's directories; the
# Python example imports the installed module instead), then runs the
# study with <prefix>/bin/surge and checks it: exact counts and a falling loss
# (check_results.py), the fields the members streamed against a reference of the scheme
# (check_advection.py: the C member's blocks over 2 ranks, the Fortran member's reversed
# shapes, the C++ member's second field of another shape), and, for a model of fields from
# parameters, `surge predict` from the exported model.
# usage: run_example.sh <prefix> <source dir> <examples/.../x.yaml> <max relative L2>
#        <regex of libraries the member must not load> [key=value ...]
set -euo pipefail
prefix=$1 src=$2 yaml=$3 bound=$4 forbidden=$5
shift 5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
here=$(cd "$(dirname "$0")" && pwd)
fail() {
  echo "FAIL: $*"
  exit 1
}
example=$(dirname "$yaml")
mkdir -p "$tmp/$example"
ln -s "$src/$example"/* "$tmp/$example/"
cd "$tmp"
if [[ -f $example/CMakeLists.txt ]]; then
  cmake -S "$example" -B "$example/build" -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_PREFIX_PATH=$prefix" >"$tmp/cmake.log" 2>&1 &&
    cmake --build "$example/build" >>"$tmp/cmake.log" 2>&1 ||
    fail "the example did not build against $prefix: $(tail -20 "$tmp/cmake.log")"
  member=$(find "$example/build" -maxdepth 1 -type f -executable -name 'example_*')
  [[ -n $member ]] || fail "no example_* executable in $example/build"
  # The client comes from the prefix, and nothing the client does not need comes with it.
  libraries=$(ldd "$member")
  grep -q "libsurge_client.so.* => $prefix/lib/" <<<"$libraries" ||
    fail "$member does not load libsurge_client.so from $prefix: $libraries"
  if awk '{print $1}' <<<"$libraries" | grep -Ei "$forbidden"; then
    fail "$member loads the libraries above"
  fi
  echo "built $member against $prefix: $(wc -l <<<"$libraries") shared libraries"
  # Without CMake, as README.md shows: the compiler wrapper and the prefix's directories.
  wrapped=$tmp/wrapped_member
  if [[ -f $example/advection.c ]]; then
    mpicc -std=c99 "$example/advection.c" -I"$prefix/include" -L"$prefix/lib" -lsurge_client -lm \
      -Wl,-rpath,"$prefix/lib" -o "$wrapped" || fail "mpicc against $prefix"
  elif [[ -f $example/advection.f90 ]]; then
    mpif90 "$example/advection.f90" -I"$prefix/include/surge/fortran" -L"$prefix/lib" \
      -lsurge_client_fortran -lsurge_client -Wl,-rpath,"$prefix/lib" -J "$tmp" -o "$wrapped" ||
      fail "mpif90 against $prefix"
  fi
  if [[ -f $wrapped ]]; then
    grep -q "libsurge_client.so.* => $prefix/lib/" <<<"$(ldd "$wrapped")" ||
      fail "$wrapped does not load libsurge_client.so from $prefix"
    echo "built $(basename "$wrapped") with the compiler wrapper against $prefix"
  fi
else
  # The Python module from the prefix, as the README says; members inherit PYTHONPATH.
  export PYTHONPATH=$prefix/lib/python3/dist-packages
  /usr/bin/python3 -c 'import surge_client, sys; sys.exit(not surge_client.__file__.startswith(sys.argv[1]))' \
    "$prefix" || fail "surge_client is not imported from $prefix"
fi
"$prefix/bin/surge" run "$yaml" study.output_dir="$tmp/out" "$@" </dev/null
if [[ " $* " == *" streaming.curve.enabled=true "* ]]; then
  # The study made its keys; its members could only stream holding the client pair.
  [[ $(stat -c %a "$tmp/out/keys/client.key_secret") == 600 ]] ||
    fail "no client secret key of mode 600 in $tmp/out/keys"
fi
/usr/bin/python3 "$here/check_results.py" "$tmp/out" 10 ranks=1 "max_relative_l2=$bound" |
  sed 's/^ok:/counts ok:/'
if grep -q "type: mlp" "$yaml"; then
  "$prefix/bin/surge" predict "$tmp/out/model" vx=0.6 kappa=0.004 --out "$tmp/predict.h5" \
    --log-level warn
  /usr/bin/python3 "$src/scripts/check_well_file.py" "$tmp/predict.h5"
fi
/usr/bin/python3 "$here/check_advection.py" "$tmp/out" "$tmp/predict.h5"
