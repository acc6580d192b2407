#include <algorithm>
#include <cstdio>

#include "surge/core/config.hpp"
#include "surge/solvers/heat2d.hpp"
#include "surge/solvers/mesh_heat.hpp"
#include "surge/solvers/mhd2d.hpp"
#include "surge/solvers/solver.hpp"

namespace surge::solvers {

namespace {

class Heat2dSolver final : public Solver {
 public:
  Heat2dSolver(const Heat2dConfig& config, MPI_Comm comm) : heat_(config, comm) {}

  std::string name() const override { return "heat2d"; }
  const Decomposition2D& decomposition() const override { return heat_.decomposition(); }
  std::vector<std::string> field_names() const override { return {"temperature"}; }
  void copy_field(const std::string& field, std::vector<float>& out) const override {
    SURGE_REQUIRE(field == "temperature", ConfigError, "heat2d has no field '" << field << "'");
    heat_.copy_owned(out);
  }
  std::vector<std::pair<std::string, double>> parameters() const override {
    const auto& c = heat_.config();
    return {{"ic", c.ic}, {"b1", c.b1}, {"b2", c.b2},
            {"b3", c.b3}, {"b4", c.b4}, {"alpha", c.alpha}};
  }
  std::vector<double> output_times() const override { return heat_.output_times(); }
  std::vector<BoundaryCondition> boundary_conditions() const override {
    const auto& c = heat_.config();
    return {{"x", "dirichlet", {"temperature"}, {c.b1, c.b2}},
            {"y", "dirichlet", {"temperature"}, {c.b3, c.b4}}};
  }
  void advance_to(double t) override { heat_.advance_to(t); }
  double time() const override { return heat_.time(); }
  YAML::Node resolved_config() const override {
    YAML::Node node;
    node["type"] = "heat2d";
    node["parameters"] = core::dump_config(heat_.config());
    return node;
  }
  std::string summary() const override {
    const auto& c = heat_.config();
    const auto dims = heat_.decomposition().dims();
    char line[256];
    std::snprintf(line, sizeof line,
                  "heat2d %dx%d on %dx%d ranks, %s scheme, dt = %.4g (explicit limit %.4g), "
                  "%d outputs to t = %.4g",
                  c.nx, c.ny, dims[0], dims[1],
                  heat_.scheme() == Heat2dScheme::kExplicit ? "explicit" : "implicit", heat_.dt(),
                  heat_.stable_dt(), c.n_outputs, c.t_end);
    return line;
  }

 private:
  Heat2d heat_;
};

class Mhd2dSolver final : public Solver {
 public:
  Mhd2dSolver(const Mhd2dConfig& config, MPI_Comm comm) : mhd_(config, comm) {}

  std::string name() const override { return "mhd2d"; }
  const Decomposition2D& decomposition() const override { return mhd_.decomposition(); }
  std::vector<FieldDescriptor> fields() const override {
    std::vector<FieldDescriptor> out = {{"density", 0, 1}, {"pressure", 0, 1}};
    if (mhd_.config().write_z_components) {
      out.push_back({"velocity_z", 0, 1});
      out.push_back({"magnetic_field_z", 0, 1});
    }
    out.push_back({"velocity", 1, 2});
    out.push_back({"magnetic_field", 1, 2});
    return out;
  }
  std::vector<std::string> field_names() const override {
    std::vector<std::string> names;
    for (const auto& f : fields()) names.push_back(f.name);
    return names;
  }
  void copy_field(const std::string& field, std::vector<float>& out) const override {
    mhd_.copy_output(field, out);
  }
  // Cell centres.
  std::vector<float> coordinates(int axis) const override {
    const int n = axis == 0 ? mhd_.config().nx : mhd_.config().ny;
    const double h = axis == 0 ? mhd_.dx() : mhd_.dy();
    std::vector<float> coords(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
      coords[static_cast<std::size_t>(i)] = static_cast<float>((i + 0.5) * h);
    return coords;
  }
  std::vector<std::pair<std::string, double>> parameters() const override {
    const auto& c = mhd_.config();
    if (c.problem == "linear_wave")
      return {{"gamma", c.gamma}, {"wave_amplitude", c.wave_amplitude}};
    if (c.problem == "orszag_tang")
      return {{"gamma", c.gamma},
              {"ot_b0_scale", c.ot_b0_scale},
              {"ot_velocity", c.ot_velocity},
              {"ot_phase", c.ot_phase}};
    if (c.problem == "brio_wu")
      return {{"gamma", c.gamma},
              {"bw_bx", c.bw_bx},
              {"bw_density_right", c.bw_density_right},
              {"bw_pressure_right", c.bw_pressure_right}};
    return {{"gamma", c.gamma},
            {"loop_amplitude", c.loop_amplitude},
            {"loop_radius", c.loop_radius},
            {"loop_vx", c.loop_vx},
            {"loop_vy", c.loop_vy}};
  }
  std::vector<double> output_times() const override { return mhd_.output_times(); }
  std::vector<BoundaryCondition> boundary_conditions() const override {
    const auto& c = mhd_.config();
    return {{"x", c.boundary_x, field_names(), {}}, {"y", c.boundary_y, field_names(), {}}};
  }
  void advance_to(double t) override { mhd_.advance_to(t); }
  double time() const override { return mhd_.time(); }
  YAML::Node resolved_config() const override {
    YAML::Node node;
    node["type"] = "mhd2d";
    node["parameters"] = core::dump_config(mhd_.config());
    return node;
  }
  std::string summary() const override {
    const auto& c = mhd_.config();
    const auto dims = mhd_.decomposition().dims();
    char line[256];
    std::snprintf(line, sizeof line,
                  "mhd2d %s %dx%d on %dx%d ranks, %s + %s + %s, gamma = %.4g, cfl = %.3g, "
                  "%d outputs to t = %.4g",
                  c.problem.c_str(), c.nx, c.ny, dims[0], dims[1], c.riemann_solver.c_str(),
                  c.limiter.c_str(), c.integrator.c_str(), c.gamma, c.cfl, c.n_outputs, c.t_end);
    return line;
  }

 private:
  // advance_to and the output read it; the halo exchange inside needs it mutable.
  mutable Mhd2d mhd_;
};

// A mesh of N nodes is carried as a grid of N x 1 (node k = grid point (k, 0)), as the graph
// network expects; dimensions/ hold the default x = k / (N - 1), y = 0, and the group mesh/ the
// node positions and edges: the Well's dimensions/ hold axes of a grid, and its
// per-axis boundary masks cannot name the mesh's boundary nodes, so a member file declares no
// boundary conditions (`boundary` is in scalars/).
class MeshHeatSolver final : public Solver {
 public:
  MeshHeatSolver(const MeshHeatConfig& config, MPI_Comm comm) : heat_(config, comm) {}

  std::string name() const override { return "mesh_heat"; }
  const Decomposition2D& decomposition() const override { return heat_.decomposition(); }
  std::vector<std::string> field_names() const override { return {"temperature"}; }
  void copy_field(const std::string& field, std::vector<float>& out) const override {
    SURGE_REQUIRE(field == "temperature", ConfigError, "mesh_heat has no field '" << field << "'");
    heat_.copy_output(out);
  }
  std::vector<std::pair<std::string, double>> parameters() const override {
    const auto& c = heat_.config();
    return {{"ic_amplitude", c.ic_amplitude}, {"ic_x", c.ic_x},         {"ic_y", c.ic_y},
            {"ic_width", c.ic_width},         {"boundary", c.boundary}, {"alpha", c.alpha}};
  }
  std::vector<double> output_times() const override { return heat_.output_times(); }
  std::vector<BoundaryCondition> boundary_conditions() const override { return {}; }
  const core::Mesh* mesh() const override { return &heat_.mesh(); }
  void advance_to(double t) override { heat_.advance_to(t); }
  double time() const override { return heat_.time(); }
  YAML::Node resolved_config() const override {
    YAML::Node node;
    node["type"] = "mesh_heat";
    node["parameters"] = core::dump_config(heat_.config());
    return node;
  }
  std::string summary() const override {
    const auto& c = heat_.config();
    const auto& m = heat_.mesh();
    const auto walls = std::count(m.node_type.begin(), m.node_type.end(), kMeshBoundary);
    char line[512];
    std::snprintf(line, sizeof line,
                  "mesh_heat %s: %d nodes (%ld boundary), %zu edges, explicit Euler, dt = %.4g "
                  "(limit %.4g), %d outputs to t = %.4g",
                  heat_.mesh_path().c_str(), m.nodes(), static_cast<long>(walls), m.edges.size(),
                  heat_.dt(), heat_.stable_dt(), c.n_outputs, c.t_end);
    return line;
  }

 private:
  MeshHeat heat_;
};

SolverRegistry make_registry() {
  SolverRegistry registry("solver");
  registry.add("heat2d",
               {[](const YAML::Node& parameters, const core::ConfigSource& source, MPI_Comm comm) {
                  const auto config = core::read_config<Heat2dConfig>(parameters, source);
                  return std::make_unique<Heat2dSolver>(config, comm);
                },
                "2D heat equation, Dirichlet boundaries (the Melissa heat study)",
                [] { return core::describe_config<Heat2dConfig>(); }});
  registry.add("mhd2d",
               {[](const YAML::Node& parameters, const core::ConfigSource& source, MPI_Comm comm) {
                  const auto config = core::read_config<Mhd2dConfig>(parameters, source);
                  return std::make_unique<Mhd2dSolver>(config, comm);
                },
                "2D ideal MHD with GLM cleaning (linear_wave, orszag_tang, brio_wu, field_loop)",
                [] { return core::describe_config<Mhd2dConfig>(); }});
  registry.add("mesh_heat",
               {[](const YAML::Node& parameters, const core::ConfigSource& source, MPI_Comm comm) {
                  const auto config = core::read_config<MeshHeatConfig>(parameters, source);
                  return std::make_unique<MeshHeatSolver>(config, comm);
                },
                "heat diffusion on an unstructured mesh (graph Laplacian), Dirichlet walls",
                [] { return core::describe_config<MeshHeatConfig>(); }});
  return registry;
}

}  // namespace

const SolverRegistry& solver_registry() {
  static const SolverRegistry registry = make_registry();
  return registry;
}

}  // namespace surge::solvers
