#pragma once
// heat2d: u_t = alpha (u_xx + u_yy) on the unit square with Dirichlet boundaries, the case
// of the Melissa heat-equation study. Second-order 5-point Laplacian on an nx x ny grid of
// nodes that includes the boundary nodes (x_i = i / (nx - 1)); explicit FTCS or implicit
// backward Euler solved by conjugate gradients, both Kokkos kernels over an MPI 2D block
// decomposition.

#include <mpi.h>

#include <memory>
#include <string>
#include <vector>

#include "surge/core/config.hpp"
#include "surge/solvers/decomposition.hpp"
#include "surge/solvers/grid_loops.hpp"
#include "surge/solvers/kokkos_aliases.hpp"

namespace surge::solvers {

// Every key of `surge solve heat2d`, with its default and range.
struct Heat2dConfig {
  // The member's parameters (what a surrogate learns to map).
  double ic = 100.0;  // uniform initial temperature
  double b1 = 500.0;  // x = 0
  double b2 = 300.0;  // x = 1
  double b3 = 200.0;  // y = 0
  double b4 = 400.0;  // y = 1
  double alpha = 1.0;
  // Discretisation and output.
  int nx = 64;
  int ny = 64;
  double t_end = 0.1;
  int n_outputs = 20;
  std::string scheme = "auto";
  double dt = 0.0;
  double cfl_safety = 0.9;
  double cg_tolerance = 1e-10;
  int cg_max_iterations = 10000;
  bool cg_reproducible = true;

  template <class V>
  void visit(V& v) {
    v("ic", ic, "uniform initial temperature");
    v("b1", b1, "boundary temperature on x = 0");
    v("b2", b2, "boundary temperature on x = 1");
    v("b3", b3, "boundary temperature on y = 0");
    v("b4", b4, "boundary temperature on y = 1");
    v("alpha", alpha, "thermal diffusivity", core::greater_than(0.0));
    v("nx", nx, "grid nodes in x, boundary nodes included", core::in_range(4, 1 << 20));
    v("ny", ny, "grid nodes in y, boundary nodes included", core::in_range(4, 1 << 20));
    v("t_end", t_end, "end time", core::greater_than(0.0));
    v("n_outputs", n_outputs,
      "output times, equally spaced in (0, t_end]; a member file holds n_outputs + 1 frames, "
      "the initial state at t = 0 first",
      core::in_range(1, 1000000));
    v("scheme", scheme,
      "time scheme: explicit (FTCS), implicit (backward Euler + CG), or auto (implicit when "
      "dt exceeds the explicit stability limit)",
      core::one_of({"auto", "explicit", "implicit"}));
    v("dt", dt,
      "largest time step; 0 = the output interval. Steps are shortened so that outputs fall "
      "on steps; explicit steps are also capped by cfl_safety times the stability limit",
      core::at_least(0.0));
    v("cfl_safety", cfl_safety, "fraction of the explicit stability limit used",
      core::Check<double>{"in (0, 1]", [](const double& s) { return s > 0 && s <= 1; }});
    v("cg_tolerance", cg_tolerance,
      "CG stops when the RMS residual <= cg_tolerance * max(|ic|, |b1..b4|)",
      core::greater_than(0.0));
    v("cg_max_iterations", cg_max_iterations, "CG iterations before the step fails",
      core::at_least(1));
    v("cg_reproducible", cg_reproducible,
      "exact-fold CG sums: bit-identical results on any number of ranks (about 25% slower CG)");
  }
};

enum class Heat2dScheme { kExplicit, kImplicit };

class Heat2d {
 public:
  // Sets up the grid, the decomposition over `comm` and the initial state. Throws
  // ConfigError for an invalid configuration.
  Heat2d(const Heat2dConfig& config, MPI_Comm comm);

  // Advances by one time step of dt(). Throws NumericalError if CG does not converge.
  void step();
  // Steps until time() reaches t (t must lie on a step, as every output time does).
  void advance_to(double t);

  [[nodiscard]] double time() const noexcept { return static_cast<double>(steps_) * dt_; }
  [[nodiscard]] double dt() const noexcept { return dt_; }
  [[nodiscard]] long steps() const noexcept { return steps_; }
  [[nodiscard]] Heat2dScheme scheme() const noexcept { return scheme_; }
  [[nodiscard]] const Heat2dConfig& config() const noexcept { return config_; }
  [[nodiscard]] const Decomposition2D& decomposition() const noexcept { return decomposition_; }
  // The explicit stability limit 1 / (2 alpha (1/hx^2 + 1/hy^2)).
  [[nodiscard]] double stable_dt() const noexcept;
  // CG iterations of the last step and of all steps (0 for the explicit scheme).
  [[nodiscard]] int last_cg_iterations() const noexcept { return last_iterations_; }
  [[nodiscard]] long total_cg_iterations() const noexcept { return total_iterations_; }

  // The temperature with its ghost layer (owned nodes at [1, local_n]).
  [[nodiscard]] const Field2D& temperature() const noexcept { return u_; }
  // This rank's owned block as float, row-major (y fastest), copied to the host.
  void copy_owned(std::vector<float>& out) const;
  // Same in double, for verification.
  [[nodiscard]] std::vector<double> owned_values() const;
  // Output times t_k = k t_end / n_outputs, k = 1..n_outputs (the initial state at t = 0 is
  // not one of them).
  [[nodiscard]] std::vector<double> output_times() const;

 private:
  void step_explicit();
  void step_implicit();
  // Owned nodes that are updated (not on the physical boundary), as a local index box.
  [[nodiscard]] Box interior() const noexcept { return {i_begin_, i_end_, j_begin_, j_end_}; }
  // Runs `produce(i, j)` (a kernel body that may write and returns one term) over the
  // interior and returns the global sum of its terms: with cg_reproducible by exact-fold
  // summation, which needs `bound` >= every |term|; otherwise a plain sum (bound unused).
  template <class Produce>
  double global_sum(const char* name, const Produce& produce, double bound) const;

  Heat2dConfig config_;
  Decomposition2D decomposition_;
  HaloExchange halo_;
  Heat2dScheme scheme_;
  double hx_, hy_, dt_;
  long steps_ = 0;
  int last_iterations_ = 0;
  long total_iterations_ = 0;
  // Local range of nodes that are updated (owned and not on the physical boundary).
  int i_begin_, i_end_, j_begin_, j_end_;
  Field2D u_, u_next_;  // explicit: two time levels
  Field2D r_, p_, ap_;  // implicit: CG vectors
};

}  // namespace surge::solvers
