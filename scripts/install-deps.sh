#!/usr/bin/env bash
# Installs every Debian 12 package surge needs (build, tests, plots).
# Idempotent: asks dpkg first and only calls apt-get when something is missing.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config git clang-format
  # Fortran: the streaming client's and the surrogate C API's modules, their examples and
  # tests (optional: built only when CMake finds a compiler)
  gfortran
  # numerical stack
  libtorch-dev libopenblas0-pthread libtrilinos-kokkos-dev
  # parallel I/O and MPI
  libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
  # streaming and configuration; jemalloc, the server's allocator (memory flat over hours)
  libzmq3-dev cppzmq-dev libyaml-cpp-dev libxxhash-dev libjemalloc-dev
  # tests and benchmarks (procps: pgrep, which the interrupt test uses to find leftovers)
  libgtest-dev libgmock-dev libbenchmark-dev procps
  # launcher type slurm and its tests (a one-node cluster: tests/experiments/slurm_cluster.sh)
  slurm-wlm munge
  # the live page (--serve, surge view): its HTTP server and charts; chromium loads it in tests
  libcpp-httplib-dev libjs-chart.js chromium
  # plots and HDF5 inspection for /usr/bin/python3
  python3-h5py python3-matplotlib python3-numpy
  # examples/fenics: a FEniCSx solver as a study's members (about 320 MB with its deps)
  python3-dolfinx
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${#missing[@]} missing package(s): ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-deps: all ${#packages[@]} packages present"
fi

# LibTorch calls whatever libblas.so.3 is selected; the reference BLAS is ~15x slower
# than OpenBLAS on a 1024^2 matmul, so make sure OpenBLAS is the selected one.
blas_lib=/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3
if [[ -e $blas_lib ]] && command -v update-alternatives >/dev/null; then
  current=$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | awk '/^Value:/{print $2}')
  if [[ "$current" != "$blas_lib" ]]; then
    ${SUDO:-} update-alternatives --set libblas.so.3-x86_64-linux-gnu "$blas_lib" >/dev/null
    echo "install-deps: selected OpenBLAS for libblas.so.3"
  fi
fi
