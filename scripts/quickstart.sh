#!/usr/bin/env bash
# README command 1: installs what is missing, builds, and runs the default experiment.
# Until `surge run` lands, the default experiment is one heat2d ensemble member written to
# results/heat2d.h5 in The Well's layout.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
mkdir -p results
build/bin/surge solve heat2d --out results/heat2d.h5
