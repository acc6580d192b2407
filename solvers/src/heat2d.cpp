#include "surge/solvers/heat2d.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/solvers/grid_loops.hpp"

namespace surge::solvers {

namespace {

Heat2dScheme choose_scheme(const Heat2dConfig& c, double max_dt, double stable) {
  if (c.scheme == "explicit") return Heat2dScheme::kExplicit;
  if (c.scheme == "implicit") return Heat2dScheme::kImplicit;
  return max_dt > c.cfl_safety * stable ? Heat2dScheme::kImplicit : Heat2dScheme::kExplicit;
}

// Initial and boundary values of node (gi, gj). Corner nodes belong to two boundaries and
// take the mean of their values (the 5-point stencil never reads them).
KOKKOS_INLINE_FUNCTION double initial_value(int gi, int gj, int nx, int ny, double ic, double b1,
                                            double b2, double b3, double b4) {
  const bool on_x = (gi == 0 || gi == nx - 1), on_y = (gj == 0 || gj == ny - 1);
  const double bx = (gi == 0) ? b1 : b2, by = (gj == 0) ? b3 : b4;
  if (on_x && on_y) return 0.5 * (bx + by);
  if (on_x) return bx;
  if (on_y) return by;
  return ic;
}

const surge::core::Logger log_("heat2d");

// Widens the bounds of the reproducible sums past the rounding of the quantities they are
// computed from (relative errors near 1e-15; the sums themselves are exact to ~1e-13).
constexpr double kBoundSafety = 1.0 + 1e-6;

}  // namespace

Heat2d::Heat2d(const Heat2dConfig& config, MPI_Comm comm)
    : config_(config),
      decomposition_(comm, config.nx, config.ny),
      halo_(decomposition_),
      hx_(1.0 / (config.nx - 1)),
      hy_(1.0 / (config.ny - 1)) {
  const double interval = config_.t_end / config_.n_outputs;
  double max_dt = config_.dt > 0 ? std::min(config_.dt, interval) : interval;
  scheme_ = choose_scheme(config_, max_dt, stable_dt());
  if (scheme_ == Heat2dScheme::kExplicit)
    max_dt = std::min(max_dt, config_.cfl_safety * stable_dt());
  // Shorten the step so that every output interval holds a whole number of steps.
  const double steps_per_output = std::ceil(interval / max_dt * (1.0 - 1e-12));
  SURGE_REQUIRE(steps_per_output * config_.n_outputs < 2e9, ConfigError,
                "heat2d would need " << steps_per_output * config_.n_outputs
                                     << " time steps; use the implicit scheme or a coarser grid");
  dt_ = interval / steps_per_output;

  const auto& d = decomposition_;
  const int lnx = d.local_nx(), lny = d.local_ny();
  // Owned local indices are [1, lnx]; skip the nodes on the physical boundary.
  i_begin_ = (d.offset_x() == 0) ? 2 : 1;
  i_end_ = (d.offset_x() + lnx == d.nx()) ? lnx : lnx + 1;
  j_begin_ = (d.offset_y() == 0) ? 2 : 1;
  j_end_ = (d.offset_y() + lny == d.ny()) ? lny : lny + 1;
  i_end_ = std::max(i_end_, i_begin_);
  j_end_ = std::max(j_end_, j_begin_);

  u_ = Field2D("temperature", lnx + 2, lny + 2);
  const int ox = d.offset_x(), oy = d.offset_y(), nx = d.nx(), ny = d.ny();
  const double ic = config_.ic, b1 = config_.b1, b2 = config_.b2, b3 = config_.b3, b4 = config_.b4;
  auto u = u_;
  Kokkos::parallel_for(
      "heat2d_initial_state", Range2D({1, 1}, {lnx + 1, lny + 1}), KOKKOS_LAMBDA(int i, int j) {
        u(i, j) = initial_value(ox + i - 1, oy + j - 1, nx, ny, ic, b1, b2, b3, b4);
      });
  if (scheme_ == Heat2dScheme::kExplicit) {
    u_next_ = Field2D("temperature_next", lnx + 2, lny + 2);
    Kokkos::deep_copy(u_next_, u_);  // boundary nodes are never updated: both levels hold them
  } else {
    r_ = Field2D("cg_residual", lnx + 2, lny + 2);
    p_ = Field2D("cg_direction", lnx + 2, lny + 2);
    ap_ = Field2D("cg_a_times_direction", lnx + 2, lny + 2);
  }
  Kokkos::fence();
}

double Heat2d::stable_dt() const noexcept {
  return 1.0 / (2.0 * config_.alpha * (1.0 / (hx_ * hx_) + 1.0 / (hy_ * hy_)));
}

void Heat2d::step() {
  if (scheme_ == Heat2dScheme::kExplicit) {
    step_explicit();
  } else {
    step_implicit();
  }
  ++steps_;
}

void Heat2d::advance_to(double t) {
  const long target = std::lround(t / dt_);
  SURGE_REQUIRE(std::abs(static_cast<double>(target) * dt_ - t) <= 1e-9 * std::max(1.0, t),
                ConfigError, "heat2d: time " << t << " does not fall on a step of " << dt_);
  while (steps_ < target) step();
}

void Heat2d::step_explicit() {
  halo_.exchange(u_);
  const double cx = config_.alpha * dt_ / (hx_ * hx_), cy = config_.alpha * dt_ / (hy_ * hy_);
  auto u = u_, un = u_next_;
  // FTCS: u^{n+1} = u^n + alpha dt (D_xx + D_yy) u^n.
  for_each_cell(
      "heat2d_ftcs", interior(), KOKKOS_LAMBDA(int i, int j) {
        const double c = u(i, j);
        un(i, j) = c + cx * (u(i - 1, j) - 2.0 * c + u(i + 1, j)) +
                   cy * (u(i, j - 1) - 2.0 * c + u(i, j + 1));
      });
  std::swap(u_, u_next_);
}

template <class Produce>
double Heat2d::global_sum(const char* name, const Produce& produce, double bound) const {
  const MPI_Comm comm = decomposition_.comm();
  if (config_.cg_reproducible) {
    const double n = static_cast<double>(config_.nx - 2) * static_cast<double>(config_.ny - 2);
    return reproducible_sum(name, interior(), produce, bound, n, comm);
  }
  const double local = sum_over_cells(name, interior(), produce);
  double global = 0.0;
  SURGE_MPI_CHECK(MPI_Allreduce(&local, &global, 1, MPI_DOUBLE, MPI_SUM, comm));
  return global;
}

void Heat2d::step_implicit() {
  // Backward Euler: (I - alpha dt L) u^{n+1} = u^n on the interior nodes, the boundary nodes
  // fixed. CG on the symmetric positive definite interior operator, started from u^n: the
  // first residual r = u^n - (I - alpha dt L) u^n = alpha dt L u^n carries the boundary values;
  // later products act on directions that vanish on the boundary.
  const double cx = config_.alpha * dt_ / (hx_ * hx_), cy = config_.alpha * dt_ / (hy_ * hy_);
  const Box box = interior();
  auto u = u_, r = r_, p = p_, ap = ap_;
  halo_.exchange(u_);
  // The first residual r = alpha dt L u^n. Its bound comes from a max pass (once a step);
  // inside the loop the bounds follow from the CG recurrences, so each sum stays one pass.
  const auto initial_residual = KOKKOS_LAMBDA(int i, int j) {
    const double c = u(i, j);
    const double lu =
        cx * (u(i - 1, j) - 2.0 * c + u(i + 1, j)) + cy * (u(i, j - 1) - 2.0 * c + u(i, j + 1));
    r(i, j) = lu;
    p(i, j) = lu;
    return lu * lu;
  };
  double bound = 0.0;
  if (config_.cg_reproducible) {
    const double local = max_abs_over_cells("heat2d_cg_residual_bound", box, initial_residual);
    SURGE_MPI_CHECK(MPI_Allreduce(&local, &bound, 1, MPI_DOUBLE, MPI_MAX, decomposition_.comm()));
    bound *= kBoundSafety;
  }
  double rr = global_sum("heat2d_cg_initial_residual", initial_residual, bound);

  const auto& c = config_;
  const double scale =
      std::max({std::abs(c.ic), std::abs(c.b1), std::abs(c.b2), std::abs(c.b3), std::abs(c.b4)});
  const double n_interior = static_cast<double>(c.nx - 2) * static_cast<double>(c.ny - 2);
  const double threshold = std::pow(c.cg_tolerance * scale, 2) * n_interior;
  // |(A p)_i| <= gain * max |p| for A = I - alpha dt L with the 5-point L.
  const double gain = 1.0 + 4.0 * cx + 4.0 * cy;
  // Bound on ||p||_2, hence on every |p_i|: p = r + beta p gives ||p|| <= ||r|| + beta ||p||.
  double p_norm_bound = std::sqrt(rr) * kBoundSafety;

  int iteration = 0;
  while (rr > threshold) {
    SURGE_REQUIRE(iteration < c.cg_max_iterations, NumericalError,
                  "heat2d: CG did not converge in "
                      << c.cg_max_iterations << " iterations at t = " << time() << " (RMS residual "
                      << std::sqrt(rr / n_interior) << ")");
    SURGE_REQUIRE(std::isfinite(rr), NumericalError, "heat2d: CG residual is not finite");
    halo_.exchange(p_);
    const double pap = global_sum(
        "heat2d_cg_apply",
        KOKKOS_LAMBDA(int i, int j) {
          const double q = p(i, j);
          const double aq = q - cx * (p(i - 1, j) - 2.0 * q + p(i + 1, j)) -
                            cy * (p(i, j - 1) - 2.0 * q + p(i, j + 1));
          ap(i, j) = aq;
          return q * aq;
        },
        gain * p_norm_bound * p_norm_bound * kBoundSafety);
    const double step = rr / pap;
    // |r_i - step (A p)_i| <= ||r|| + step gain max |p|.
    const double r_bound = std::sqrt(rr) * kBoundSafety + std::abs(step) * gain * p_norm_bound;
    const double rr_next = global_sum(
        "heat2d_cg_update",
        KOKKOS_LAMBDA(int i, int j) {
          u(i, j) += step * p(i, j);
          const double rn = r(i, j) - step * ap(i, j);
          r(i, j) = rn;
          return rn * rn;
        },
        r_bound * r_bound * kBoundSafety);
    const double beta = rr_next / rr;
    rr = rr_next;
    p_norm_bound = std::sqrt(rr) * kBoundSafety + beta * p_norm_bound;
    for_each_cell(
        "heat2d_cg_direction", box,
        KOKKOS_LAMBDA(int i, int j) { p(i, j) = r(i, j) + beta * p(i, j); });
    ++iteration;
  }
  Kokkos::fence();
  last_iterations_ = iteration;
  SURGE_LOG(log_, debug,
            "step " << steps_ + 1 << ": CG " << iteration << " iterations, RMS residual "
                    << std::sqrt(rr / n_interior));
  total_iterations_ += iteration;
}

void Heat2d::copy_owned(std::vector<float>& out) const {
  const int lnx = decomposition_.local_nx(), lny = decomposition_.local_ny();
  OutputBlock block(Kokkos::view_alloc(Kokkos::WithoutInitializing, "heat2d_output_block"), lnx,
                    lny);
  auto u = u_;
  Kokkos::parallel_for(
      "heat2d_pack_output", Range2D({0, 0}, {lnx, lny}),
      KOKKOS_LAMBDA(int i, int j) { block(i, j) = static_cast<float>(u(i + 1, j + 1)); });
  auto host = Kokkos::create_mirror_view(block);
  Kokkos::deep_copy(host, block);
  out.resize(static_cast<std::size_t>(lnx) * static_cast<std::size_t>(lny));
  if (!out.empty()) std::memcpy(out.data(), host.data(), out.size() * sizeof(float));
}

std::vector<double> Heat2d::owned_values() const {
  const int lnx = decomposition_.local_nx(), lny = decomposition_.local_ny();
  auto host = Kokkos::create_mirror_view(u_);
  Kokkos::deep_copy(host, u_);
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(lnx) * static_cast<std::size_t>(lny));
  for (int i = 1; i <= lnx; ++i)
    for (int j = 1; j <= lny; ++j) out.push_back(host(i, j));
  return out;
}

std::vector<double> Heat2d::output_times() const {
  std::vector<double> times;
  for (int k = 1; k <= config_.n_outputs; ++k) {
    times.push_back(config_.t_end * static_cast<double>(k) / config_.n_outputs);
  }
  return times;
}

}  // namespace surge::solvers
