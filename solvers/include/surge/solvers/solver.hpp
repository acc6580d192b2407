#pragma once
// What every ensemble member's solver offers the rest of surge (`surge solve`, the Well
// writer, later the streaming client), and the registry that builds one from
// `type:` + `parameters:`.

#include <mpi.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <utility>
#include <vector>

#include "surge/core/mesh.hpp"
#include "surge/core/registry.hpp"
#include "surge/solvers/decomposition.hpp"

namespace surge::solvers {

// The boundaries of one axis, at its low and its high end.
struct BoundaryCondition {
  std::string axis;  // "x" or "y"
  std::string type;  // "dirichlet", "outflow" or "periodic" (The Well's WALL, OPEN, PERIODIC)
  std::vector<std::string> fields;
  std::vector<double> values;  // {low, high}; empty when not value-based
};

// One output field: scalar fields (order 0) go to the Well's t0_fields as (1, T, nx, ny),
// vector fields (order 1) to t1_fields as (1, T, nx, ny, components).
struct FieldDescriptor {
  std::string name;
  int order = 0;       // tensor order: 0 scalar, 1 vector
  int components = 1;  // values per cell: 1 for a scalar, the stored components of a vector
};

class Solver {
 public:
  virtual ~Solver() = default;

  [[nodiscard]] virtual std::string name() const = 0;
  [[nodiscard]] virtual const Decomposition2D& decomposition() const = 0;
  [[nodiscard]] virtual std::vector<std::string> field_names() const = 0;
  // Every output field with its tensor order, in output order. The default makes every
  // name of field_names() a scalar.
  [[nodiscard]] virtual std::vector<FieldDescriptor> fields() const {
    std::vector<FieldDescriptor> out;
    for (auto& name : field_names()) out.push_back({name, 0, 1});
    return out;
  }
  // This rank's owned block of `field` as float, row-major (y fastest, then the components
  // of a vector field), on the host. Throws ConfigError for an unknown field.
  virtual void copy_field(const std::string& field, std::vector<float>& out) const = 0;
  // The global coordinates of the grid points along `axis` (0 = x, 1 = y), as written to the
  // Well's dimensions/. The default is nodes on the unit interval, i / (n - 1), and 0 on an
  // axis of one node (a mesh of N nodes carried as N x 1).
  [[nodiscard]] virtual std::vector<float> coordinates(int axis) const {
    const int n = axis == 0 ? decomposition().nx() : decomposition().ny();
    std::vector<float> coords(static_cast<std::size_t>(n), 0.0f);
    for (int i = 1; i < n; ++i)
      coords[static_cast<std::size_t>(i)] = static_cast<float>(i) / static_cast<float>(n - 1);
    return coords;
  }
  // The mesh whose nodes the fields are on (a grid of N x 1), or nullptr on a grid: the Well
  // writer stores its coordinates and edges in the group mesh/.
  [[nodiscard]] virtual const core::Mesh* mesh() const { return nullptr; }
  // The member's parameters (name, value), in the order a surrogate takes them.
  [[nodiscard]] virtual std::vector<std::pair<std::string, double>> parameters() const = 0;
  // The times of the outputs after the initial state (frame_times() in member.hpp puts the
  // initial time first).
  [[nodiscard]] virtual std::vector<double> output_times() const = 0;
  [[nodiscard]] virtual std::vector<BoundaryCondition> boundary_conditions() const = 0;
  // Advances to time t (an output time). Throws NumericalError on failure.
  virtual void advance_to(double t) = 0;
  [[nodiscard]] virtual double time() const = 0;
  // The configuration actually used, defaults filled in.
  [[nodiscard]] virtual YAML::Node resolved_config() const = 0;
  // One line for the log: scheme, step, grid.
  [[nodiscard]] virtual std::string summary() const = 0;
};

using SolverRegistry = core::Registry<Solver, MPI_Comm>;

// All solvers surge knows, by name ("heat2d", ...).
[[nodiscard]] const SolverRegistry& solver_registry();

}  // namespace surge::solvers
