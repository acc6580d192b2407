#pragma once
// The Kokkos types every solver uses. Kernels run in the default execution space (Serial on
// Debian, CUDA or OpenMP with a user's Kokkos); nothing here assumes the host.

#include <Kokkos_Core.hpp>

namespace surge::solvers {

using DevExec = Kokkos::DefaultExecutionSpace;
using DevMem = DevExec::memory_space;
// A 2D field with one ghost layer: index (i, j) = (x, y), owned cells at [1, n] in each axis.
// LayoutRight on every device: j (y) is contiguous, as in the HDF5 output, and the row loops
// of grid_loops.hpp put vector lanes along it.
using Field2D = Kokkos::View<double**, Kokkos::LayoutRight, DevMem>;
// Several 2D fields in one allocation, index (component, i, j): each component is a
// contiguous LayoutRight plane, so Kokkos::subview(f, c, ALL, ALL) is a Field2D.
using Fields2D = Kokkos::View<double***, Kokkos::LayoutRight, DevMem>;
// A 1D device buffer (halo faces, packed output blocks).
using Buffer1D = Kokkos::View<double*, DevMem>;
// Indices on the device (the row offsets and neighbours of a mesh's CSR adjacency).
using IndexBuffer1D = Kokkos::View<int*, DevMem>;
// Row-major (y fastest) float block on the device, copied to the host for HDF5.
using OutputBlock = Kokkos::View<float**, Kokkos::LayoutRight, DevMem>;
using Range2D = Kokkos::MDRangePolicy<DevExec, Kokkos::Rank<2>>;
using Range1D = Kokkos::RangePolicy<DevExec>;

// Initialises Kokkos for the lifetime of the object unless it already is (tests, embedding).
class KokkosSession {
 public:
  KokkosSession(int& argc, char** argv) {
    if (!Kokkos::is_initialized()) {
      Kokkos::initialize(argc, argv);
      owns_ = true;
    }
  }
  KokkosSession() {
    if (!Kokkos::is_initialized()) {
      Kokkos::initialize();
      owns_ = true;
    }
  }
  ~KokkosSession() {
    if (owns_) Kokkos::finalize();
  }
  KokkosSession(const KokkosSession&) = delete;
  KokkosSession& operator=(const KokkosSession&) = delete;

 private:
  bool owns_ = false;
};

}  // namespace surge::solvers
