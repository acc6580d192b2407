#include "surge/solvers/decomposition.hpp"

#include "surge/core/error.hpp"
#include "surge/core/log.hpp"

namespace surge::solvers {

std::array<int, 2> Decomposition2D::block(int n, int p, int coord) noexcept {
  const int base = n / p, extra = n % p;
  return {coord * base + (coord < extra ? coord : extra), base + (coord < extra ? 1 : 0)};
}

Decomposition2D::Decomposition2D(MPI_Comm comm, int nx, int ny, std::array<bool, 2> periodic)
    : n_{nx, ny}, periodic_(periodic) {
  int size = 0;
  SURGE_MPI_CHECK(MPI_Comm_size(comm, &size));
  int dims[2] = {0, 0};
  SURGE_MPI_CHECK(MPI_Dims_create(size, 2, dims));
  SURGE_REQUIRE(dims[0] <= nx && dims[1] <= ny, ConfigError,
                "grid " << nx << " x " << ny << " is too small for " << size << " ranks ("
                        << dims[0] << " x " << dims[1] << " blocks)");
  const int periods[2] = {periodic[0] ? 1 : 0, periodic[1] ? 1 : 0};
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
  if (cart_ == MPI_COMM_NULL) return;
  if (const int rc = MPI_Comm_free(&cart_);
      rc != MPI_SUCCESS)  // a destructor reports, never throws
    core::Logger("decomposition").warn("MPI_Comm_free failed: " + core::detail::mpi_error_text(rc));
}

HaloExchange::HaloExchange(const Decomposition2D& decomposition, int ghost, int components)
    : d_(decomposition), ghost_(ghost), components_(components) {
  for (int axis = 0; axis < 2; ++axis) {
    const bool has_neighbours =
        d_.neighbor_low(axis) != MPI_PROC_NULL || d_.neighbor_high(axis) != MPI_PROC_NULL;
    const int local = axis == 0 ? d_.local_nx() : d_.local_ny();
    SURGE_REQUIRE(!has_neighbours || local >= ghost, ConfigError,
                  "a block of " << local << " cells along " << (axis == 0 ? "x" : "y")
                                << " is thinner than the " << ghost
                                << " ghost layers; use fewer ranks or a finer grid");
  }
  // A face buffer holds `ghost` layers of every component: (component, layer, position).
  const int face = components * ghost;
  const int lengths[4] = {face * d_.local_ny(), face * d_.local_ny(), face * d_.local_nx(),
                          face * d_.local_nx()};
  const char* names[4] = {"halo_low_x", "halo_high_x", "halo_low_y", "halo_high_y"};
  for (int f = 0; f < 4; ++f) {
    send_[f] = Buffer1D(std::string("send_") + names[f], lengths[f]);
    recv_[f] = Buffer1D(std::string("recv_") + names[f], lengths[f]);
    send_host_[f] = Kokkos::create_mirror_view(send_[f]);
    recv_host_[f] = Kokkos::create_mirror_view(recv_[f]);
  }
}

void HaloExchange::exchange(const Field2D& u) {
  SURGE_REQUIRE(components_ == 1, ConfigError,
                "halo exchange of one field with a " << components_ << "-component exchanger");
  // The same memory seen as one component plane (unmanaged: no copy, no ownership).
  exchange(Fields2D(u.data(), 1, u.extent(0), u.extent(1)));
}

void HaloExchange::exchange(const Fields2D& u) {
  const int nx = d_.local_nx(), ny = d_.local_ny(), g = ghost_;
  SURGE_REQUIRE(static_cast<int>(u.extent(0)) == components_ &&
                    static_cast<int>(u.extent(1)) == nx + 2 * g &&
                    static_cast<int>(u.extent(2)) == ny + 2 * g,
                ConfigError, "halo exchange of a field with the wrong extents");
  const int peer[4] = {d_.neighbor_low(0), d_.neighbor_high(0), d_.neighbor_low(1),
                       d_.neighbor_high(1)};
  // Pack the `g` owned layers next to each neighbour; buffer index (c * g + layer) * n + k.
  auto s0 = send_[0], s1 = send_[1], s2 = send_[2], s3 = send_[3];
  const int face_x = components_ * g * ny, face_y = components_ * g * nx;
  Kokkos::parallel_for(
      "halo_pack_x", Range1D(0, face_x), KOKKOS_LAMBDA(int k) {
        const int j = k % ny, cl = k / ny, layer = cl % g, c = cl / g;
        s0(k) = u(c, g + layer, g + j);
        s1(k) = u(c, nx + layer, g + j);
      });
  Kokkos::parallel_for(
      "halo_pack_y", Range1D(0, face_y), KOKKOS_LAMBDA(int k) {
        const int i = k % nx, cl = k / nx, layer = cl % g, c = cl / g;
        s2(k) = u(c, g + i, g + layer);
        s3(k) = u(c, g + i, ny + layer);
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
    // Layer `layer` of the low ghosts is index `layer` (counted from the outside), of the
    // high ghosts n + g + layer; the neighbour packed its owned layers in the same order.
    if (f < 2) {
      const int i0 = (f == 0) ? 0 : nx + g;
      Kokkos::parallel_for(
          "halo_unpack_x", Range1D(0, face_x), KOKKOS_LAMBDA(int k) {
            const int j = k % ny, cl = k / ny, layer = cl % g, c = cl / g;
            u(c, i0 + layer, g + j) = r(k);
          });
    } else {
      const int j0 = (f == 2) ? 0 : ny + g;
      Kokkos::parallel_for(
          "halo_unpack_y", Range1D(0, face_y), KOKKOS_LAMBDA(int k) {
            const int i = k % nx, cl = k / nx, layer = cl % g, c = cl / g;
            u(c, g + i, j0 + layer) = r(k);
          });
    }
  }
  Kokkos::fence();
}

}  // namespace surge::solvers
