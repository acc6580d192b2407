#!/usr/bin/env bash
# `mpirun -np 4 surge solve heat2d` writes the same file as one rank.
# usage: ranks_same_file.sh <surge> <mpiexec> <scheme> [h5diff options]
set -eu
surge=$1 mpiexec=$2 scheme=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(solve heat2d nx=45 ny=38 n_outputs=5 t_end=0.02 scheme="$scheme" --log-level warn)
"$surge" "${args[@]}" --out "$tmp/one.h5"
"$mpiexec" -np 4 --oversubscribe "$surge" "${args[@]}" --out "$tmp/four.h5"
h5diff "$@" "$tmp/one.h5" "$tmp/four.h5"
echo "ok: 1 and 4 ranks wrote identical files ($scheme)"
