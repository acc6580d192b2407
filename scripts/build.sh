#!/usr/bin/env bash
# Configures and builds surge in ./build (Release). Extra arguments go to CMake's configure
# step, e.g. -DKokkos_ROOT=/opt/kokkos -DTorch_DIR=/opt/libtorch/share/cmake/Torch.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${SURGE_BUILD_DIR:-build}
jobs=${SURGE_BUILD_JOBS:-$(nproc)}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-Release} "$@" >/dev/null
cmake --build "$build_dir" -j "$jobs"
