#include "surge/solvers/mesh_heat.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>

#include "surge/core/error.hpp"

namespace surge::solvers {

namespace fs = std::filesystem;

namespace {

// Checks that mesh_heat runs on one rank, then reads its mesh (a relative path from the
// current directory, where `surge run` starts its members too).
Mesh load_mesh(const MeshHeatConfig& c, MPI_Comm comm, std::string& absolute) {
  int size = 1;
  SURGE_MPI_CHECK(MPI_Comm_size(comm, &size));
  SURGE_REQUIRE(size == 1, ConfigError,
                "mesh_heat runs on one MPI rank, got " << size << " (in a study: solver.ranks: 1)");
  SURGE_REQUIRE(!c.mesh.empty(), ConfigError,
                "mesh_heat needs a mesh file: mesh=<path> (format: experiments/meshes/README.md)");
  std::error_code ec;
  absolute = fs::absolute(c.mesh, ec).lexically_normal().string();
  const std::string looked = fs::path(c.mesh).is_relative() ? " (looked for " + absolute + ")" : "";
  SURGE_REQUIRE(fs::is_regular_file(c.mesh, ec), ConfigError,
                "mesh_heat: no mesh file '" << c.mesh << "'" << looked);
  Mesh mesh = read_mesh(c.mesh);
  // Without a wall `boundary` would change nothing and the heat would only even out.
  const auto walls = std::count(mesh.node_type.begin(), mesh.node_type.end(), kMeshBoundary);
  SURGE_REQUIRE(walls > 0, ConfigError,
                "mesh_heat: mesh '" << c.mesh << "' has no boundary node (node_type 1) to hold "
                                    << "at 'boundary'");
  return mesh;
}

// The dimension spanned by the edges from x_i to its neighbours: 1 if they are all parallel.
int spanned_dimension(const Mesh& m, int i, const std::vector<int>& neighbours) {
  const auto& p = m.positions;
  const auto edge = [&](int j) {
    return std::array<double, 2>{p[j][0] - p[i][0], p[j][1] - p[i][1]};
  };
  const auto e0 = edge(neighbours.front());
  for (int j : neighbours) {
    const auto e = edge(j);
    const double cross = e0[0] * e[1] - e0[1] * e[0];
    if (std::abs(cross) > 1e-9 * std::hypot(e0[0], e0[1]) * std::hypot(e[0], e[1])) return 2;
  }
  return 1;
}

}  // namespace

MeshHeat::MeshHeat(const MeshHeatConfig& config, MPI_Comm comm)
    : config_(config),
      mesh_(load_mesh(config_, comm, mesh_path_)),
      decomposition_(comm, mesh_.nodes(), 1) {
  const int n = mesh_.nodes();
  const auto& p = mesh_.positions;
  std::vector<std::vector<int>> adjacent(static_cast<std::size_t>(n));
  for (const auto& [a, b] : mesh_.edges) {
    SURGE_REQUIRE(p[a] != p[b], ConfigError,
                  config_.mesh << ": edge [" << a << ", " << b << "] joins two nodes at ("
                               << p[a][0] << ", " << p[a][1] << "); w = 1 / |x_a - x_b|^2 "
                               << "needs distinct positions");
    adjacent[a].push_back(b);
    adjacent[b].push_back(a);
  }

  std::vector<int> updated, offsets = {0}, neighbours;
  std::vector<double> coefficients;
  stable_dt_ = std::numeric_limits<double>::infinity();
  for (int i = 0; i < n; ++i) {
    if (mesh_.node_type[i] != kMeshInterior) continue;
    updated.push_back(i);
    const auto& adj = adjacent[i];
    if (!adj.empty()) {
      const double area =
          static_cast<double>(adj.size()) / (2.0 * spanned_dimension(mesh_, i, adj));
      double sum = 0.0;
      for (int j : adj) {
        const double dx = p[j][0] - p[i][0], dy = p[j][1] - p[i][1];
        neighbours.push_back(j);
        coefficients.push_back(1.0 / ((dx * dx + dy * dy) * area));
        sum += coefficients.back();
      }
      // Explicit Euler keeps u_i^{n+1} a convex combination of u^n while alpha dt sum <= 1.
      stable_dt_ = std::min(stable_dt_, 1.0 / (config_.alpha * sum));
    }
    offsets.push_back(static_cast<int>(neighbours.size()));
  }

  const double interval = config_.t_end / config_.n_outputs;
  const double max_dt = std::min(interval, config_.cfl * stable_dt_);
  // Shorten the step so that every output interval holds a whole number of steps.
  const double steps_per_output = std::ceil(interval / max_dt * (1.0 - 1e-12));
  SURGE_REQUIRE(steps_per_output * config_.n_outputs < 2e9, ConfigError,
                "mesh_heat would need " << steps_per_output * config_.n_outputs
                                        << " time steps; shorten t_end or use a coarser mesh");
  dt_ = interval / steps_per_output;

  const auto to_device = [](const char* name, const auto& values, auto& view) {
    using View = std::decay_t<decltype(view)>;
    view = View(std::string(name), values.size());
    auto host = Kokkos::create_mirror_view(view);
    for (std::size_t k = 0; k < values.size(); ++k) host(k) = values[k];
    Kokkos::deep_copy(view, host);
  };
  to_device("mesh_heat_updated_nodes", updated, updated_);
  to_device("mesh_heat_row_offsets", offsets, offsets_);
  to_device("mesh_heat_neighbours", neighbours, neighbours_);
  to_device("mesh_heat_coefficients", coefficients, coefficients_);

  std::vector<double> initial(static_cast<std::size_t>(n));
  const double two_s2 = 2.0 * config_.ic_width * config_.ic_width;
  for (int i = 0; i < n; ++i) {
    const double dx = p[i][0] - config_.ic_x, dy = p[i][1] - config_.ic_y;
    initial[i] = mesh_.node_type[i] == kMeshBoundary
                     ? config_.boundary
                     : config_.ic_amplitude * std::exp(-(dx * dx + dy * dy) / two_s2);
  }
  to_device("temperature", initial, u_);
  to_device("temperature_next", initial, u_next_);  // boundary nodes are never updated
}

void MeshHeat::step() {
  const double alpha_dt = config_.alpha * dt_;
  auto u = u_, un = u_next_, coefficients = coefficients_;
  auto updated = updated_, offsets = offsets_, neighbours = neighbours_;
  // u_i^{n+1} = u_i^n + alpha dt sum_j (w_ij / A_i) (u_j^n - u_i^n): each node sums its own
  // neighbours, so no two threads write one value.
  Kokkos::parallel_for(
      "mesh_heat_euler_step", Range1D(0, static_cast<std::int64_t>(updated.extent(0))),
      KOKKOS_LAMBDA(std::int64_t k) {
        const int i = updated(k);
        const double ui = u(i);
        double flux = 0.0;
        for (int e = offsets(k); e < offsets(k + 1); ++e)
          flux += coefficients(e) * (u(neighbours(e)) - ui);
        un(i) = ui + alpha_dt * flux;
      });
  std::swap(u_, u_next_);
  ++steps_;
}

void MeshHeat::advance_to(double t) {
  const long target = std::lround(t / dt_);
  SURGE_REQUIRE(std::abs(static_cast<double>(target) * dt_ - t) <= 1e-9 * std::max(1.0, t),
                ConfigError, "mesh_heat: time " << t << " does not fall on a step of " << dt_);
  while (steps_ < target) step();
}

void MeshHeat::copy_output(std::vector<float>& out) const {
  const int n = mesh_.nodes();
  OutputBlock block(Kokkos::view_alloc(Kokkos::WithoutInitializing, "mesh_heat_output_block"), n,
                    1);
  auto u = u_;
  Kokkos::parallel_for(
      "mesh_heat_pack_output", Range1D(0, n),
      KOKKOS_LAMBDA(std::int64_t i) { block(i, 0) = static_cast<float>(u(i)); });
  auto host = Kokkos::create_mirror_view(block);
  Kokkos::deep_copy(host, block);
  out.resize(static_cast<std::size_t>(n));
  std::memcpy(out.data(), host.data(), out.size() * sizeof(float));
}

std::vector<double> MeshHeat::values() const {
  auto host = Kokkos::create_mirror_view(u_);
  Kokkos::deep_copy(host, u_);
  return std::vector<double>(host.data(), host.data() + host.extent(0));
}

void MeshHeat::set_interior(const std::vector<double>& values) {
  const int n = mesh_.nodes();
  SURGE_REQUIRE(values.size() == static_cast<std::size_t>(n), ConfigError,
                "mesh_heat: " << values.size() << " values for " << n << " nodes");
  auto host = Kokkos::create_mirror_view(u_);
  Kokkos::deep_copy(host, u_);
  for (int i = 0; i < n; ++i)
    if (mesh_.node_type[i] == kMeshInterior) host(i) = values[i];
  Kokkos::deep_copy(u_, host);
  Kokkos::deep_copy(u_next_, host);
}

std::vector<double> MeshHeat::output_times() const {
  std::vector<double> times;
  for (int k = 1; k <= config_.n_outputs; ++k)
    times.push_back(config_.t_end * static_cast<double>(k) / config_.n_outputs);
  return times;
}

}  // namespace surge::solvers
