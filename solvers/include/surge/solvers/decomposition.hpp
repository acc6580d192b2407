#pragma once
// Block decomposition of an nx x ny grid of nodes over an MPI Cartesian communicator, and
// the non-blocking halo exchange of one ghost layer between neighbouring blocks.

#include <mpi.h>

#include <array>

#include "surge/solvers/kokkos_aliases.hpp"

namespace surge::solvers {

class Decomposition2D {
 public:
  // Builds a 2D Cartesian communicator over `comm` (MPI_Dims_create) and this rank's block.
  // Throws ConfigError if the grid has fewer nodes than ranks along an axis.
  Decomposition2D(MPI_Comm comm, int nx, int ny);
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

  // Neighbour ranks (MPI_PROC_NULL on the physical boundary).
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
};

// Fills the ghost layer of a Field2D from the neighbouring blocks. Faces are packed on the
// device, copied through host mirrors (no-ops when the device is the host), exchanged with
// MPI_Isend/MPI_Irecv, and unpacked on the device.
class HaloExchange {
 public:
  explicit HaloExchange(const Decomposition2D& decomposition);
  void exchange(const Field2D& field);

 private:
  const Decomposition2D& d_;
  // Index: 0 = low x, 1 = high x, 2 = low y, 3 = high y.
  std::array<Buffer1D, 4> send_, recv_;
  std::array<Buffer1D::HostMirror, 4> send_host_, recv_host_;
};

}  // namespace surge::solvers
