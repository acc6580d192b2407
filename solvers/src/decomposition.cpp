#include "surge/solvers/decomposition.hpp"

#include "surge/core/error.hpp"

namespace surge::solvers {

std::array<int, 2> Decomposition2D::block(int n, int p, int coord) noexcept {
  const int base = n / p, extra = n % p;
  return {coord * base + (coord < extra ? coord : extra), base + (coord < extra ? 1 : 0)};
}

Decomposition2D::Decomposition2D(MPI_Comm comm, int nx, int ny) : n_{nx, ny} {
  int size = 0;
  SURGE_MPI_CHECK(MPI_Comm_size(comm, &size));
  int dims[2] = {0, 0};
  SURGE_MPI_CHECK(MPI_Dims_create(size, 2, dims));
  SURGE_REQUIRE(dims[0] <= nx && dims[1] <= ny, ConfigError,
                "grid " << nx << " x " << ny << " is too small for " << size << " ranks ("
                        << dims[0] << " x " << dims[1] << " blocks)");
  const int periods[2] = {0, 0};
  SURGE_MPI_CHECK(MPI_Cart_create(comm, 2, dims, periods, /*reorder=*/0, &cart_));
  SURGE_MPI_CHECK(MPI_Comm_rank(cart_, &rank_));
  SURGE_MPI_CHECK(MPI_Comm_size(cart_, &size_));
  int coords[2] = {0, 0};
  SURGE_MPI_CHECK(MPI_Cart_coords(cart_, rank_, 2, coords));
  for (int axis = 0; axis < 2; ++axis) {
    dims_[axis] = dims[axis];
    coords_[axis] = coords[axis];
    const auto [start, length] = block(n_[axis], dims[axis], coords[axis]);
    offset_[axis] = start;
    local_[axis] = length;
    SURGE_MPI_CHECK(MPI_Cart_shift(cart_, axis, 1, &low_[axis], &high_[axis]));
  }
}

Decomposition2D::~Decomposition2D() {
  if (cart_ != MPI_COMM_NULL) MPI_Comm_free(&cart_);
}

HaloExchange::HaloExchange(const Decomposition2D& decomposition) : d_(decomposition) {
  const int lengths[4] = {d_.local_ny(), d_.local_ny(), d_.local_nx(), d_.local_nx()};
  const char* names[4] = {"halo_low_x", "halo_high_x", "halo_low_y", "halo_high_y"};
  for (int f = 0; f < 4; ++f) {
    send_[f] = Buffer1D(std::string("send_") + names[f], lengths[f]);
    recv_[f] = Buffer1D(std::string("recv_") + names[f], lengths[f]);
    send_host_[f] = Kokkos::create_mirror_view(send_[f]);
    recv_host_[f] = Kokkos::create_mirror_view(recv_[f]);
  }
}

void HaloExchange::exchange(const Field2D& u) {
  const int nx = d_.local_nx(), ny = d_.local_ny();
  const int peer[4] = {d_.neighbor_low(0), d_.neighbor_high(0), d_.neighbor_low(1),
                       d_.neighbor_high(1)};
  // Pack the owned edge rows/columns next to each neighbour.
  auto s0 = send_[0], s1 = send_[1], s2 = send_[2], s3 = send_[3];
  Kokkos::parallel_for(
      "halo_pack_x", Range1D(0, ny), KOKKOS_LAMBDA(int j) {
        s0(j) = u(1, j + 1);
        s1(j) = u(nx, j + 1);
      });
  Kokkos::parallel_for(
      "halo_pack_y", Range1D(0, nx), KOKKOS_LAMBDA(int i) {
        s2(i) = u(i + 1, 1);
        s3(i) = u(i + 1, ny);
      });
  for (int f = 0; f < 4; ++f) Kokkos::deep_copy(send_host_[f], send_[f]);  // fences

  MPI_Request requests[8];
  int count = 0;
  for (int f = 0; f < 4; ++f) {
    if (peer[f] == MPI_PROC_NULL) continue;
    // A message sent towards the high side is tagged with the face it arrives at (low).
    const int recv_tag = f, send_tag = f ^ 1;
    SURGE_MPI_CHECK(MPI_Irecv(recv_host_[f].data(), static_cast<int>(recv_host_[f].extent(0)),
                              MPI_DOUBLE, peer[f], recv_tag, d_.comm(), &requests[count++]));
    SURGE_MPI_CHECK(MPI_Isend(send_host_[f].data(), static_cast<int>(send_host_[f].extent(0)),
                              MPI_DOUBLE, peer[f], send_tag, d_.comm(), &requests[count++]));
  }
  SURGE_MPI_CHECK(MPI_Waitall(count, requests, MPI_STATUSES_IGNORE));

  for (int f = 0; f < 4; ++f) {
    if (peer[f] == MPI_PROC_NULL) continue;
    Kokkos::deep_copy(recv_[f], recv_host_[f]);
    auto r = recv_[f];
    if (f < 2) {
      const int i = (f == 0) ? 0 : nx + 1;
      Kokkos::parallel_for(
          "halo_unpack_x", Range1D(0, ny), KOKKOS_LAMBDA(int j) { u(i, j + 1) = r(j); });
    } else {
      const int j = (f == 2) ? 0 : ny + 1;
      Kokkos::parallel_for(
          "halo_unpack_y", Range1D(0, nx), KOKKOS_LAMBDA(int i) { u(i + 1, j) = r(i); });
    }
  }
  Kokkos::fence();
}

}  // namespace surge::solvers
