#pragma once
// Block decomposition of an nx x ny grid of nodes (or cells) over an MPI Cartesian
// communicator, periodic or not along each axis, and the non-blocking halo exchange of the
// ghost layers between neighbouring blocks.

#include <mpi.h>

#include <array>

#include "surge/solvers/kokkos_aliases.hpp"

namespace surge::solvers {

class Decomposition2D {
 public:
  // Builds a 2D Cartesian communicator over `comm` (MPI_Dims_create) and this rank's block;
  // along a periodic axis the first and the last block are neighbours (possibly one rank,
  // its own neighbour). Throws ConfigError if the grid has fewer nodes than ranks along an
  // axis.
  Decomposition2D(MPI_Comm comm, int nx, int ny, std::array<bool, 2> periodic = {false, false});
  ~Decomposition2D();
  Decomposition2D(const Decomposition2D&) = delete;
  Decomposition2D& operator=(const Decomposition2D&) = delete;

  [[nodiscard]] MPI_Comm comm() const noexcept { return cart_; }
  [[nodiscard]] int rank() const noexcept { return rank_; }
  [[nodiscard]] int size() const noexcept { return size_; }
  [[nodiscard]] std::array<int, 2> dims() const noexcept { return dims_; }

  // Global grid and this rank's owned block [offset, offset + local) per axis.
  [[nodiscard]] int nx() const noexcept { return n_[0]; }
  [[nodiscard]] int ny() const noexcept { return n_[1]; }
  [[nodiscard]] int local_nx() const noexcept { return local_[0]; }
  [[nodiscard]] int local_ny() const noexcept { return local_[1]; }
  [[nodiscard]] int offset_x() const noexcept { return offset_[0]; }
  [[nodiscard]] int offset_y() const noexcept { return offset_[1]; }

  [[nodiscard]] bool periodic(int axis) const noexcept { return periodic_[axis]; }
  // Neighbour ranks (MPI_PROC_NULL on a non-periodic physical boundary).
  [[nodiscard]] int neighbor_low(int axis) const noexcept { return low_[axis]; }
  [[nodiscard]] int neighbor_high(int axis) const noexcept { return high_[axis]; }

  // Start and length of block `coord` when n nodes are split over p blocks (the first
  // n % p blocks get one node more).
  [[nodiscard]] static std::array<int, 2> block(int n, int p, int coord) noexcept;

 private:
  MPI_Comm cart_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  std::array<int, 2> dims_{1, 1}, coords_{0, 0}, n_{0, 0}, local_{0, 0}, offset_{0, 0};
  std::array<int, 2> low_{MPI_PROC_NULL, MPI_PROC_NULL}, high_{MPI_PROC_NULL, MPI_PROC_NULL};
  std::array<bool, 2> periodic_{false, false};
};

// Fills the `ghost` outer layers of a field from the neighbouring blocks: a Field2D, or the
// `components` planes of a Fields2D at once (one message per face). Owned cells sit at
// [ghost, ghost + local_n) along each axis; corner ghosts are not filled (the stencils are
// split by axis). Faces are packed on the device, copied through host mirrors (no-ops when
// the device is the host), exchanged with MPI_Isend/MPI_Irecv, and unpacked on the device.
// Ghosts on a non-periodic physical boundary are left to the caller.
class HaloExchange {
 public:
  // Throws ConfigError if a block is thinner than `ghost` along an axis with neighbours.
  explicit HaloExchange(const Decomposition2D& decomposition, int ghost = 1, int components = 1);
  // Requires components == 1 and extents (local_nx + 2 ghost, local_ny + 2 ghost).
  void exchange(const Field2D& field);
  // Requires extents (components, local_nx + 2 ghost, local_ny + 2 ghost).
  void exchange(const Fields2D& fields);

 private:
  const Decomposition2D& d_;
  int ghost_, components_;
  // Index: 0 = low x, 1 = high x, 2 = low y, 3 = high y.
  std::array<Buffer1D, 4> send_, recv_;
  std::array<Buffer1D::HostMirror, 4> send_host_, recv_host_;
};

}  // namespace surge::solvers
