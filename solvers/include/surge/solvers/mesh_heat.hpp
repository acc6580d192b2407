#pragma once
// mesh_heat: heat diffusion du/dt = alpha L u on the nodes of an unstructured 2D mesh (the
// format of experiments/meshes/README.md), the data a graph network on that mesh learns from.
// Boundary nodes (node_type 1) are Dirichlet walls held at `boundary`. The graph Laplacian is
//   (L u)_i = sum_{j in N(i)} w_ij (u_j - u_i) / A_i,  w_ij = 1 / |x_i - x_j|^2,
//   A_i = deg_i / (2 d_i),
// deg_i the number of neighbours of node i and d_i the dimension its edges span (1 when they
// are collinear, as on a chain of nodes; else 2). Where the neighbours lie symmetrically and
// spread evenly (sum of the unit edge vectors' outer products = deg_i / d_i I: a chain, the
// 5-point grid stencil, a regular triangulation's six neighbours) L u = laplacian(u) + O(h^2);
// on irregular meshes it is only an approximation. Explicit Euler, one Kokkos kernel over the
// nodes on a CSR adjacency, one MPI rank; the mesh is carried as a grid of N x 1 nodes.

#include <mpi.h>

#include <string>
#include <vector>

#include "surge/core/config.hpp"
#include "surge/core/mesh.hpp"
#include "surge/solvers/decomposition.hpp"
#include "surge/solvers/kokkos_aliases.hpp"

namespace surge::solvers {

using core::kMeshBoundary;
using core::kMeshInterior;
using core::Mesh;
using core::read_mesh;

// Every key of `surge solve mesh_heat`, with its default and range.
struct MeshHeatConfig {
  std::string mesh;
  // The member's parameters (what a surrogate learns to map).
  double ic_amplitude = 1.0;
  double ic_x = 0.0;
  double ic_y = 0.0;
  double ic_width = 0.25;
  double boundary = 0.0;
  double alpha = 1.0;
  // Time stepping and output.
  double t_end = 0.1;
  int n_outputs = 20;
  double cfl = 0.4;

  template <class V>
  void visit(V& v) {
    v("mesh", mesh,
      "mesh file (format: experiments/meshes/README.md); a relative path is resolved against "
      "the current directory; required");
    v("ic_amplitude", ic_amplitude,
      "amplitude A of the initial bump u0 = A exp(-|x - c|^2 / (2 ic_width^2)) on the interior "
      "nodes");
    v("ic_x", ic_x, "x of the bump's centre c");
    v("ic_y", ic_y, "y of the bump's centre c");
    v("ic_width", ic_width, "width of the initial bump", core::greater_than(0.0));
    v("boundary", boundary, "temperature of the boundary nodes (node_type 1), held fixed");
    v("alpha", alpha, "thermal diffusivity", core::greater_than(0.0));
    v("t_end", t_end, "end time", core::greater_than(0.0));
    v("n_outputs", n_outputs,
      "output times, equally spaced in (0, t_end]; a member file holds n_outputs + 1 frames, "
      "the initial state at t = 0 first",
      core::in_range(1, 1000000));
    v("cfl", cfl,
      "explicit Euler step as a fraction of min_i A_i / (alpha sum_j w_ij), the limit up to "
      "which every update is a convex combination (maximum principle); steps are shortened so "
      "that outputs fall on steps",
      core::Check<double>{"in (0, 1]", [](const double& c) { return c > 0 && c <= 1; }});
  }
};

class MeshHeat {
 public:
  // Reads the mesh and sets up the adjacency and the initial state. Throws ConfigError on more
  // than one rank of `comm`, for a missing mesh file or one without a boundary node or with an
  // edge between coincident nodes, and for an invalid configuration; IoError if the mesh file
  // cannot be read.
  MeshHeat(const MeshHeatConfig& config, MPI_Comm comm);

  // Advances by one explicit Euler step of dt().
  void step();
  // Steps until time() reaches t (t must lie on a step, as every output time does).
  void advance_to(double t);

  [[nodiscard]] double time() const noexcept { return static_cast<double>(steps_) * dt_; }
  [[nodiscard]] double dt() const noexcept { return dt_; }
  [[nodiscard]] long steps() const noexcept { return steps_; }
  // min over the interior nodes with neighbours of A_i / (alpha sum_j w_ij); infinite if none.
  [[nodiscard]] double stable_dt() const noexcept { return stable_dt_; }
  [[nodiscard]] const MeshHeatConfig& config() const noexcept { return config_; }
  // The mesh file as read: config().mesh made absolute.
  [[nodiscard]] const std::string& mesh_path() const noexcept { return mesh_path_; }
  [[nodiscard]] const Mesh& mesh() const noexcept { return mesh_; }
  [[nodiscard]] const Decomposition2D& decomposition() const noexcept { return decomposition_; }

  // The temperature of every node as float, in node order, copied to the host.
  void copy_output(std::vector<float>& out) const;
  // Same in double, for verification.
  [[nodiscard]] std::vector<double> values() const;
  // Replaces the temperature of the interior nodes by values[i] (one value per node; the
  // boundary nodes keep `boundary`), for verification against exact solutions. Throws
  // ConfigError if values.size() is not the number of nodes.
  void set_interior(const std::vector<double>& values);
  // Output times t_k = k t_end / n_outputs, k = 1..n_outputs.
  [[nodiscard]] std::vector<double> output_times() const;

 private:
  MeshHeatConfig config_;
  std::string mesh_path_;
  Mesh mesh_;
  Decomposition2D decomposition_;
  double stable_dt_ = 0.0, dt_ = 0.0;
  long steps_ = 0;
  // CSR adjacency of the updated (interior) nodes: node updated_(k) sums over the entries
  // [offsets_(k), offsets_(k + 1)) of neighbours_ and coefficients_ (w_ij / A_i).
  IndexBuffer1D updated_, offsets_, neighbours_;
  Buffer1D coefficients_;
  Buffer1D u_, u_next_;  // two time levels; both hold the boundary values
};

}  // namespace surge::solvers
