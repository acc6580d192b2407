#pragma once
// mhd2d: 2D ideal compressible MHD (all three components of v and B, fields independent of
// z) with GLM divergence cleaning, the physics of The Well's MHD sets. Finite volumes on a
// uniform cell-centred grid, PLM reconstruction of primitive variables, HLLD or HLLE fluxes,
// RK2 or VL2 time stepping, Kokkos kernels over an MPI 2D block decomposition.

#include <mpi.h>

#include <array>
#include <string>
#include <vector>

#include "surge/core/config.hpp"
#include "surge/solvers/decomposition.hpp"
#include "surge/solvers/grid_loops.hpp"
#include "surge/solvers/kokkos_aliases.hpp"
#include "surge/solvers/mhd2d_physics.hpp"

namespace surge::solvers {

// Every key of `surge solve mhd2d`, with its default and range.
struct Mhd2dConfig {
  std::string problem = "orszag_tang";
  // Discretisation.
  int nx = 128;
  int ny = 128;
  double lx = 1.0;  // domain [0, lx] x [0, ly]
  double ly = 1.0;
  double t_end = 0.0;  // 0: the problem's standard end time
  int n_outputs = 10;
  double gamma = 0.0;  // 0: the problem's standard value
  double cfl = 0.4;
  std::string riemann_solver = "hlld";
  std::string limiter = "mc";
  std::string integrator = "vl2";
  double glm_alpha = 0.1;
  std::string boundary_x = "auto";
  std::string boundary_y = "auto";
  bool write_z_components = false;
  // Ensemble parameters of each problem (what a surrogate learns).
  std::string wave = "fast";
  double wave_amplitude = 1e-6;
  double ot_b0_scale = 1.0;
  double ot_velocity = 1.0;
  double ot_phase = 0.0;
  double bw_bx = 0.75;
  double bw_density_right = 0.125;
  double bw_pressure_right = 0.1;
  double loop_amplitude = 1e-3;
  double loop_radius = 0.3;
  double loop_vx = 2.0;
  double loop_vy = 1.0;

  template <class V>
  void visit(V& v) {
    v("problem", problem,
      "initial state: linear_wave, orszag_tang, brio_wu (along x) or field_loop",
      core::one_of({"linear_wave", "orszag_tang", "brio_wu", "field_loop"}));
    v("nx", nx, "cells in x", core::in_range(4, 1 << 20));
    v("ny", ny, "cells in y", core::in_range(4, 1 << 20));
    v("lx", lx, "domain length in x (the domain is [0, lx] x [0, ly])", core::greater_than(0.0));
    v("ly", ly, "domain length in y", core::greater_than(0.0));
    v("t_end", t_end,
      "end time; 0 = the problem's standard: one wave period (linear_wave), 0.5 (orszag_tang), "
      "0.1 (brio_wu), 1 (field_loop)",
      core::at_least(0.0));
    v("n_outputs", n_outputs,
      "output times, equally spaced in (0, t_end]; a member file holds n_outputs + 1 frames, "
      "the initial state at t = 0 first",
      core::in_range(1, 1000000));
    v("gamma", gamma, "adiabatic index; 0 = the problem's standard: 2 (brio_wu), else 5/3",
      core::Check<double>{"0 or > 1", [](const double& g) { return g == 0.0 || g > 1.0; }});
    v("cfl", cfl, "Courant number: dt = cfl min(dx / (|vx| + cf_x), dy / (|vy| + cf_y))",
      core::Check<double>{"in (0, 0.5]", [](const double& c) { return c > 0 && c <= 0.5; }});
    v("riemann_solver", riemann_solver, "hlld (Miyoshi & Kusano 2005) or hlle",
      core::one_of({"hlld", "hlle"}));
    v("limiter", limiter, "PLM slope limiter: mc (monotonized central) or minmod",
      core::one_of({"mc", "minmod"}));
    v("integrator", integrator,
      "time integrator: vl2 (first-order half step, then PLM full step) or rk2 (SSP Heun)",
      core::one_of({"vl2", "rk2"}));
    v("glm_alpha", glm_alpha,
      "GLM parabolic damping alpha = dh c_h / c_p^2 (Mignone & Tzeferacos 2010); psi is "
      "multiplied by exp(-alpha c_h dt / dh) every step",
      core::in_range(0.0, 1.0));
    v("boundary_x", boundary_x,
      "boundaries at x = 0 and x = lx: periodic, outflow (zero gradient), or auto (outflow "
      "for brio_wu, else periodic)",
      core::one_of({"auto", "periodic", "outflow"}));
    v("boundary_y", boundary_y, "boundaries at y = 0 and y = ly: as boundary_x (auto: periodic)",
      core::one_of({"auto", "periodic", "outflow"}));
    v("write_z_components", write_z_components,
      "also write vz and Bz as t0 fields velocity_z and magnetic_field_z (the t1 fields hold "
      "the in-plane components)");
    v("wave", wave, "linear_wave: fast, alfven or slow", core::one_of({"fast", "alfven", "slow"}));
    v("wave_amplitude", wave_amplitude,
      "linear_wave: amplitude of the unit right eigenvector (primitive variables) added to "
      "rho = 1, p = 1/gamma, B = (1, sqrt 2, 1/2) in the wave frame; the wave vector is "
      "2 pi (1/lx, 1/ly)",
      core::Check<double>{"in (0, 0.1]", [](const double& a) { return a > 0 && a <= 0.1; }});
    v("ot_b0_scale", ot_b0_scale,
      "orszag_tang: field amplitude in units of B0 = 1/sqrt(4 pi) (Bx = -B0 sin 2 pi y, "
      "By = B0 sin 4 pi x)",
      core::in_range(0.0, 10.0));
    v("ot_velocity", ot_velocity,
      "orszag_tang: velocity amplitude (vx = -v0 sin(2 pi y + phase), vy = v0 sin(2 pi x + "
      "phase))",
      core::in_range(0.0, 10.0));
    v("ot_phase", ot_phase,
      "orszag_tang: phase of the velocity against the field, radians (0 = the standard vortex, "
      "which is point-symmetric about the centre)",
      core::in_range(-10.0, 10.0));
    v("bw_bx", bw_bx, "brio_wu: normal field Bx", core::in_range(0.0, 10.0));
    v("bw_density_right", bw_density_right, "brio_wu: density for x > lx / 2 (left: 1)",
      core::greater_than(0.0));
    v("bw_pressure_right", bw_pressure_right, "brio_wu: pressure for x > lx / 2 (left: 1)",
      core::greater_than(0.0));
    v("loop_amplitude", loop_amplitude,
      "field_loop: A0 of the vector potential Az = A0 (R - r) inside r < R (rho = p = 1)",
      core::in_range(0.0, 1.0));
    v("loop_radius", loop_radius, "field_loop: loop radius R, centred in the domain",
      core::greater_than(0.0));
    v("loop_vx", loop_vx, "field_loop: advection velocity in x", core::in_range(-10.0, 10.0));
    v("loop_vy", loop_vy, "field_loop: advection velocity in y", core::in_range(-10.0, 10.0));
  }
};

class Mhd2d {
 public:
  static constexpr int kGhost = 2;  // PLM needs two cells on each side of a face
  static constexpr int kVars = mhd::kNumVars;

  // Sets up the grid, the decomposition over `comm` and the initial state. Throws
  // ConfigError for an invalid configuration.
  Mhd2d(const Mhd2dConfig& config, MPI_Comm comm);

  // Advances by one CFL time step (at most max_dt). Throws NumericalError, naming the cell,
  // time and step, if a density or pressure is not positive.
  void step(double max_dt = 1e300);
  // Steps until time() is exactly t (t >= time()); the last step is shortened to land on t.
  void advance_to(double t);

  [[nodiscard]] double time() const noexcept { return time_; }
  [[nodiscard]] long steps() const noexcept { return steps_; }
  [[nodiscard]] double last_dt() const noexcept { return last_dt_; }
  [[nodiscard]] const Mhd2dConfig& config() const noexcept { return config_; }
  [[nodiscard]] const Decomposition2D& decomposition() const noexcept { return decomposition_; }
  [[nodiscard]] double dx() const noexcept { return dx_; }
  [[nodiscard]] double dy() const noexcept { return dy_; }
  // gamma after the problem's default is applied.
  [[nodiscard]] double gamma() const noexcept { return gamma_; }
  // The end time after the problem's default is applied.
  [[nodiscard]] double t_end() const noexcept { return t_end_; }
  // The period of the configured linear wave (its wavelength over its phase speed).
  [[nodiscard]] double wave_period() const noexcept { return wave_period_; }
  [[nodiscard]] bool periodic(int axis) const noexcept { return decomposition_.periodic(axis); }

  // The conservative state with its ghost layers, index (variable, i, j); owned cells at
  // [kGhost, kGhost + local_n).
  [[nodiscard]] const Fields2D& conserved() const noexcept { return u_; }
  // This rank's owned cells of conservative variable `var` (row-major, y fastest), in double.
  [[nodiscard]] std::vector<double> owned_values(int var) const;
  // Output fields, row-major (y fastest): "density", "pressure", "velocity_z",
  // "magnetic_field_z" (one value a cell), "velocity", "magnetic_field" (x, y per cell).
  // Throws ConfigError for another name.
  void copy_output(const std::string& field, std::vector<float>& out) const;
  // Global sums of every conservative variable times the cell area (plain sums; for
  // conservation checks).
  [[nodiscard]] std::array<double, kVars> totals() const;
  // max over cells of |div B| h / max |B|, with central differences (needs the ghosts of
  // the current state; computed after a fresh halo exchange).
  [[nodiscard]] double relative_divergence();
  // Output times t_k = k t_end / n_outputs, k = 1..n_outputs (the initial state at t = 0 is
  // not one of them).
  [[nodiscard]] std::vector<double> output_times() const;

 private:
  void fill_ghosts(const Fields2D& u);
  // Converts `u` (ghosts filled) to primitives and returns max over owned cells of
  // max((|vx| + cf_x) / dx, (|vy| + cf_y) / dy), agreed across ranks (0 without with_rate,
  // which skips the fast speeds where only the check is wanted). Throws NumericalError on a
  // non-positive density or pressure.
  double primitives_and_rate(const Fields2D& u, const char* stage, bool with_rate);
  void compute_fluxes(mhd::Limiter limiter, double ch);
  template <mhd::RiemannSolver R, mhd::Limiter L>
  void compute_fluxes_with(double ch);
  // out = w0 base + w1 eval + dt_weight L(eval) on owned cells (out may be base); psi is
  // then multiplied by `damping`.
  void update(const Fields2D& out, const Fields2D& base, const Fields2D& eval, double w0, double w1,
              double dt_weight, double damping);
  [[nodiscard]] Box owned() const noexcept;

  Mhd2dConfig config_;
  Decomposition2D decomposition_;
  HaloExchange halo_;
  mhd::RiemannSolver riemann_;
  mhd::Limiter limiter_;
  mhd::Integrator integrator_;
  double gamma_, t_end_, dx_, dy_, wave_period_ = 0.0;
  double time_ = 0.0, last_dt_ = 0.0;
  long steps_ = 0;
  Fields2D u_, u_stage_;      // conservative: the state and the intermediate stage
  Fields2D w_;                // primitives of the state being differentiated
  Fields2D flux_x_, flux_y_;  // flux_x(v, i, j): face between cells i - 1 and i
  Fields2D half_slope_;       // half the limited slope of each cell along the sweep's axis
  Field2D rate_;              // each cell's signal rate (|v| + c_f) / h, the larger of x and y
};

}  // namespace surge::solvers
