#!/usr/bin/env bash
# README command 1: installs what is missing, builds, and runs the default experiment: the
# Melissa heat-equation study at laptop scale (experiments/heat2d_mlp.yaml), with results in
# results/heat2d_mlp/ (results.h5, model/, plots/). Arguments go to `surge run`, e.g.
# `training.max_batches=2000`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
build/bin/surge run experiments/heat2d_mlp.yaml --overwrite "$@"
