#!/usr/bin/env bash
# libsurge_client.so loads no MPI, HDF5, LibTorch or Kokkos: a Python solver that imports
# mpi4py built on another MPI (conda's MPICH), or a serial C solver, must be able to load it.
# Checks the libraries it needs, directly and through what it loads (ldd).
# usage: client_dependencies.sh <libsurge_client.so>
set -u
lib=$1
[[ -f $lib ]] || { echo "FAIL: $lib does not exist"; exit 1; }
needed=$(ldd "$lib") || { echo "FAIL: ldd $lib failed"; exit 1; }
bad=$(grep -Ei "lib(mpi|open-rte|open-pal|hdf5|torch|c10|kokkos)" <<<"$needed")
if [[ -n $bad ]]; then
  echo "FAIL: $lib loads:"
  echo "$bad"
  exit 1
fi
grep -q "libzmq" <<<"$needed" || { echo "FAIL: $lib does not load libzmq: is this the client?"; exit 1; }
echo "ok: $lib loads $(grep -c '=>' <<<"$needed") libraries, none of MPI, HDF5, LibTorch, Kokkos"
