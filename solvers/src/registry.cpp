#include <cstdio>

#include "surge/core/config.hpp"
#include "surge/solvers/heat2d.hpp"
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

SolverRegistry make_registry() {
  SolverRegistry registry("solver");
  registry.add("heat2d",
               {[](const YAML::Node& parameters, const core::ConfigSource& source, MPI_Comm comm) {
                  const auto config = core::read_config<Heat2dConfig>(parameters, source);
                  return std::make_unique<Heat2dSolver>(config, comm);
                },
                "2D heat equation, Dirichlet boundaries (the Melissa heat study)",
                [] { return core::describe_config<Heat2dConfig>(); }});
  return registry;
}

}  // namespace

const SolverRegistry& solver_registry() {
  static const SolverRegistry registry = make_registry();
  return registry;
}

}  // namespace surge::solvers
