#!/usr/bin/env bash
# A long study under faults (issue 30): a continuous study for the given minutes (default 30)
# with members SIGKILLed at random, the server SIGKILLed and resumed every few minutes, and
# hostile peers at random; ends with one table (counts, RSS, file descriptors, threads,
# checkpoint and log bytes) and exits 0 only if every count is exact and resources stay flat.
# usage: scripts/soak.sh [minutes] [--seed N] [--restarts N] [--keep DIR]
# Needs a build (./scripts/build.sh; SURGE_BUILD_DIR, default build). ctest runs a 2-minute
# variant (soak_two_minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SURGE_BUILD_DIR:-build}
minutes=${1:-30}
[[ $# -gt 0 ]] && shift
for program in surge hostile_peer; do
  [[ -x $build/bin/$program ]] || { echo "soak: $build/bin/$program is missing: run ./scripts/build.sh first" >&2; exit 2; }
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec /usr/bin/python3 scripts/soak.py "$build/bin/surge" "$build/bin/hostile_peer" \
  tests/experiments/small.yaml "$minutes" "$@"
