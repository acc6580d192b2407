#!/usr/bin/env bash
# README command 2 (and CI): installs what is missing, builds, and runs the whole test suite
# with ctest. Extra arguments go to ctest, e.g. `-L quick` for the fast inner-loop subset.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
# Tests run as root in CI containers: let Open MPI start there.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir "${SURGE_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" --timeout 900 "$@"
