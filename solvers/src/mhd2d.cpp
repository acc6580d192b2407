#include "surge/solvers/mhd2d.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "surge/core/error.hpp"

namespace surge::solvers {

using namespace mhd;

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr long long kNoCell = 0x7fffffffffffffffLL;

// What one pass over the cells learns: the largest signal rate (for dt and c_h), and how
// many cells have a non-positive (or NaN) density or pressure, with the first of them.
struct CellScan {
  double rate;
  long long bad;
  long long first_bad;  // global index gi * ny + gj, kNoCell if none
};

struct CellScanReducer {
  using reducer = CellScanReducer;
  using value_type = CellScan;
  using result_view_type = Kokkos::View<value_type, Kokkos::HostSpace, Kokkos::MemoryUnmanaged>;

  KOKKOS_INLINE_FUNCTION explicit CellScanReducer(value_type& value) : value_(&value) {}
  KOKKOS_INLINE_FUNCTION void join(value_type& dest, const value_type& src) const {
    dest.rate = src.rate > dest.rate ? src.rate : dest.rate;
    dest.bad += src.bad;
    dest.first_bad = src.first_bad < dest.first_bad ? src.first_bad : dest.first_bad;
  }
  KOKKOS_INLINE_FUNCTION void join(volatile value_type& dest,
                                   const volatile value_type& src) const {
    dest.rate = src.rate > dest.rate ? src.rate : dest.rate;
    dest.bad += src.bad;
    dest.first_bad = src.first_bad < dest.first_bad ? src.first_bad : dest.first_bad;
  }
  KOKKOS_INLINE_FUNCTION void init(value_type& v) const {
    v.rate = 0.0;
    v.bad = 0;
    v.first_bad = kNoCell;
  }
  KOKKOS_INLINE_FUNCTION value_type& reference() const { return *value_; }
  result_view_type view() const { return result_view_type(value_); }
  KOKKOS_INLINE_FUNCTION bool references_scalar() const { return true; }

 private:
  value_type* value_;
};

}  // namespace

// The kernels of a step, as free function templates. They have external linkage on
// purpose: CUDA does not allow device lambdas in functions of an anonymous namespace (nor in
// private member functions).
namespace mhd2d_kernels {

// out = w0 base + w1 eval + cx (fx(i) - fx(i + 1)) + cy (fy(j) - fy(j + 1)) on the box, psi
// then times `damping`. One team per row with the variables in the outer loop, so the lanes
// run over j with unit stride (the loop vectorises); kWithEval (w1 != 0) is decided outside.
struct UpdateWeights {
  double w0, w1, cx, cy, damping;
};

template <bool kWithEval>
void update_rows(const Fields2D& out, const Fields2D& base, const Fields2D& eval,
                 const Fields2D& fx, const Fields2D& fy, const Box& box, const UpdateWeights& wts) {
  const double w0 = wts.w0, w1 = wts.w1, cx = wts.cx, cy = wts.cy, damping = wts.damping;
  const int i0 = box.i0, j0 = box.j0, j1 = box.j1;
  Kokkos::parallel_for(
      "mhd2d_update", RowPolicy(box.i1 - box.i0, Kokkos::AUTO),
      KOKKOS_LAMBDA(const RowMember& team) {
        const int i = i0 + team.league_rank();
        for (int v = 0; v < kNumVars; ++v) {
          const double scale = v == kPsi ? damping : 1.0;  // x 1.0 is exact
          // Row pointers: the compiler then need not reload the views' data pointers after
          // every store, and the lane loop vectorises.
          const double *fx0 = &fx(v, i, 0), *fx1 = &fx(v, i + 1, 0), *fy0 = &fy(v, i, 0);
          const double *b = &base(v, i, 0), *e = &eval(v, i, 0);
          double* o = &out(v, i, 0);
          for_independent_lanes(team, j0, j1, [&](int j) {
            const double div = cx * (fx0[j] - fx1[j]) + cy * (fy0[j] - fy0[j + 1]);
            double value = w0 * b[j] + div;
            if (kWithEval) value += w1 * e[j];
            o[j] = scale * value;
          });
        }
      });
}

// Each cell's limited slope along axis A, once (a face needs the slopes of both its cells,
// and every cell borders two faces): half_slope = limit(dl, dr) / 2, kept halved so the
// faces add it exactly as the unhalved formula would. Row pointers let the compiler keep
// the views' data pointers in registers.
template <Limiter L, int A>
void cell_half_slopes(const Fields2D& w, const Fields2D& half_slope, const Box& cells) {
  constexpr int di = A == 0 ? 1 : 0, dj = 1 - di;
  const int i0 = cells.i0, j0 = cells.j0, j1 = cells.j1;
  Kokkos::parallel_for(
      A == 0 ? "mhd2d_slopes_x" : "mhd2d_slopes_y", RowPolicy(cells.i1 - cells.i0, Kokkos::AUTO),
      KOKKOS_LAMBDA(const RowMember& team) {
        const int i = i0 + team.league_rank();
        for (int v = 0; v < kNumVars; ++v) {
          const double *lo = &w(v, i - di, 0) - dj, *mid = &w(v, i, 0), *hi = &w(v, i + di, 0) + dj;
          double* out = &half_slope(v, i, 0);
          for_independent_lanes(team, j0, j1, [&](int j) {
            const double a = lo[j], b = mid[j], c = hi[j];
            out[j] = 0.5 * Slope<L>::limit(b - a, c - b);
          });
        }
      });
}

// The primitives w of every cell of the box from the conservative u, and with `with_rate`
// each cell's signal rate max((|v_x| + c_fx) / dx, (|v_y| + c_fy) / dy) (vectorised across a
// row: the fast speeds' roots are most of the work; the scan for the largest rate and for
// non-positive cells reads them after).
void cell_primitives(const Fields2D& u, const Fields2D& w, const Field2D& rate, const Box& cells,
                     double gamma, double idx, double idy, bool with_rate) {
  const int i0 = cells.i0, j0 = cells.j0, j1 = cells.j1;
  const long plane = static_cast<long>(u.stride_0());  // between variables, in elements
  SURGE_REQUIRE(w.stride_0() == u.stride_0() && w.stride_1() == u.stride_1(), Error,
                "mhd2d: the primitive kernel's views differ in layout");
  Kokkos::parallel_for(
      "mhd2d_primitives", RowPolicy(cells.i1 - cells.i0, Kokkos::AUTO),
      KOKKOS_LAMBDA(const RowMember& team) {
        const int i = i0 + team.league_rank();
        // Row pointers (cell j of variable v at [v * plane + j]), as in face_fluxes.
        const double* ur = &u(0, i, 0);
        double* wr = &w(0, i, 0);
        double* rate_row = &rate(i, 0);
        for_independent_lanes(team, j0, j1, [&](int j) SURGE_INLINE_LANE {
          const double rho = ur[kRho * plane + j], inv = 1.0 / rho;
          const double mx = ur[kMx * plane + j], my = ur[kMy * plane + j], mz = ur[kMz * plane + j];
          const double vx = mx * inv, vy = my * inv, vz = mz * inv;
          const double bx = ur[kBx * plane + j], by = ur[kBy * plane + j], bz = ur[kBz * plane + j];
          const double p =
              Eos::pressure(rho, mx, my, mz, bx, by, bz, ur[kEnergy * plane + j], gamma);
          wr[kRho * plane + j] = rho;
          wr[kVx * plane + j] = vx;
          wr[kVy * plane + j] = vy;
          wr[kVz * plane + j] = vz;
          wr[kBx * plane + j] = bx;
          wr[kBy * plane + j] = by;
          wr[kBz * plane + j] = bz;
          wr[kPressure * plane + j] = p;
          wr[kPsi * plane + j] = ur[kPsi * plane + j];
          if (with_rate) {
            const double rx = (abs_of(vx) + Eos::fast_speed(rho, p, bx, by, bz, gamma)) * idx;
            const double ry = (abs_of(vy) + Eos::fast_speed(rho, p, by, bz, bx, gamma)) * idy;
            rate_row[j] = max_of(rx, ry);
          }
        });
      });
}

struct FluxParams {
  double gamma, inv_gm1, ch, inv_ch, ch2;
};

// The fluxes through the faces (i, j) of axis A in the box, the face between cells
// (i, j) - e_A and (i, j). The axis is a template argument so that the face slots below are
// constants and the reconstructed states stay in registers.
template <RiemannSolver R, Limiter L, int A>
void face_fluxes(const Fields2D& w, const Fields2D& half_slope, const Fields2D& flux,
                 const Box& faces, const FluxParams& p) {
  constexpr int di = A == 0 ? 1 : 0, dj = 1 - di;
  // Face slots of the normal and the two tangential directions (n, t1, t2 right-handed).
  constexpr int vn = A == 0 ? kVx : kVy, vt1 = A == 0 ? kVy : kVz, vt2 = A == 0 ? kVz : kVx;
  constexpr int bn = vn + 3, bt1 = vt1 + 3, bt2 = vt2 + 3;
  const double gamma = p.gamma, inv_gm1 = p.inv_gm1, ch = p.ch, inv_ch = p.inv_ch, ch2 = p.ch2;
  const int i0 = faces.i0, j0 = faces.j0, j1 = faces.j1;
  // Distance between variables and between rows, in elements (the same in all three views).
  const long plane = static_cast<long>(w.stride_0()), row = static_cast<long>(w.stride_1());
  SURGE_REQUIRE(half_slope.stride_0() == w.stride_0() && flux.stride_0() == w.stride_0() &&
                    half_slope.stride_1() == w.stride_1() && flux.stride_1() == w.stride_1(),
                Error, "mhd2d: the face kernel's views differ in layout");
  Kokkos::parallel_for(
      A == 0 ? "mhd2d_flux_x" : "mhd2d_flux_y", RowPolicy(faces.i1 - faces.i0, Kokkos::AUTO),
      KOKKOS_LAMBDA(const RowMember& team) {
        const int i = i0 + team.league_rank();
        const double* wr_row = &w(0, i, 0);             // cell (i, j) at wr_row[v * plane + j]
        const double* wl_row = wr_row - di * row - dj;  // cell (i, j) - e_A
        const double* sr_row = &half_slope(0, i, 0);
        const double* sl_row = sr_row - di * row - dj;
        double* f_row = &flux(0, i, 0);
        for_independent_lanes(team, j0, j1, [&](int j) SURGE_INLINE_LANE {
          double wl[kNumVars], wr[kNumVars];
          for (int v = 0; v < kNumVars; ++v) {
            const double b = wl_row[v * plane + j], c = wr_row[v * plane + j];
            if (L == Limiter::kFirstOrder) {
              wl[v] = b;
              wr[v] = c;
            } else {
              wl[v] = b + sl_row[v * plane + j];
              wr[v] = c - sr_row[v * plane + j];
            }
          }
          // A reconstruction that is not positive falls back to the cell values (first order;
          // piecewise-constant states are the cell values already). Selects, not a branch.
          if (L != Limiter::kFirstOrder) {
            const bool positive =
                wl[kRho] > 0.0 && wl[kPressure] > 0.0 && wr[kRho] > 0.0 && wr[kPressure] > 0.0;
            for (int v = 0; v < kNumVars; ++v) {
              wl[v] = positive ? wl[v] : wl_row[v * plane + j];
              wr[v] = positive ? wr[v] : wr_row[v * plane + j];
            }
          }
          double b_face = 0.0, psi_face = 0.0;
          Glm::solve(wl[bn], wr[bn], wl[kPsi], wr[kPsi], ch, inv_ch, b_face, psi_face);
          const FaceState l{wl[kRho], wl[vn],  wl[vt1], wl[vt2],
                            b_face,   wl[bt1], wl[bt2], wl[kPressure]};
          const FaceState r{wr[kRho], wr[vn],  wr[vt1], wr[vt2],
                            b_face,   wr[bt1], wr[bt2], wr[kPressure]};
          const FaceFlux f = Riemann<R>::solve(l, r, gamma, inv_gm1);
          f_row[kRho * plane + j] = f.d;
          f_row[vn * plane + j] = f.mn;
          f_row[vt1 * plane + j] = f.mt1;
          f_row[vt2 * plane + j] = f.mt2;
          f_row[bn * plane + j] = psi_face;
          f_row[bt1 * plane + j] = f.bt1;
          f_row[bt2 * plane + j] = f.bt2;
          f_row[kEnergy * plane + j] = f.e;
          f_row[kPsi * plane + j] = ch2 * b_face;
        });
      });
}

}  // namespace mhd2d_kernels

namespace {

// Fills in the problem's standard gamma, end time and boundaries.
Mhd2dConfig resolve(Mhd2dConfig c) {
  const bool bw = c.problem == "brio_wu";
  if (c.gamma == 0.0) c.gamma = bw ? 2.0 : 5.0 / 3.0;
  if (c.boundary_x == "auto") c.boundary_x = bw ? "outflow" : "periodic";
  if (c.boundary_y == "auto") c.boundary_y = "periodic";
  return c;
}

// The linear wave's background, in the wave frame (Gardiner & Stone 2008, section 4.1;
// Athena's linear_wave test): rho = 1, p = 1/gamma (sound speed 1), B = (1, sqrt 2, 1/2),
// which gives fast, Alfven and slow speeds of exactly 2, 1 and 1/2.
struct WaveBackground {
  double d = 1.0, bn = 1.0, bt1 = std::sqrt(2.0), bt2 = 0.5;
};

double wave_speed(const std::string& wave) {
  return wave == "fast" ? 2.0 : wave == "alfven" ? 1.0 : 0.5;
}

// Unit right eigenvector of the primitive system (rho, vn, vt1, vt2, Bt1, Bt2, p) for the
// wave moving in +n (derived from the linearised primitive equations; B_n does not vary).
std::array<double, 7> wave_eigenvector(const std::string& wave, double gamma) {
  const WaveBackground b;
  const double p = 1.0 / gamma, bt = std::hypot(b.bt1, b.bt2);
  std::array<double, 7> r{};
  if (wave == "alfven") {
    // Polarised perpendicular to B_t: dB_t = (-b_t2, b_t1) / |B_t|, dv_t = -dB_t / sqrt(rho).
    r = {0.0,        0.0, b.bt2 / bt / std::sqrt(b.d), -b.bt1 / bt / std::sqrt(b.d), -b.bt2 / bt,
         b.bt1 / bt, 0.0};
  } else {
    const double l = wave_speed(wave), ca2 = b.bn * b.bn / b.d, q = l * l - ca2;
    // dvn = 1: drho = rho / l, dp = gamma p / l, dB_t = B_t l / q, dv_t = -B_n B_t / (rho q).
    r = {b.d / l,
         1.0,
         -b.bn * b.bt1 / (b.d * q),
         -b.bn * b.bt2 / (b.d * q),
         b.bt1 * l / q,
         b.bt2 * l / q,
         gamma * p / l};
  }
  double norm = 0.0;
  for (double v : r) norm += v * v;
  for (double& v : r) v /= std::sqrt(norm);
  return r;
}

// The initial primitive state at (x, y).
std::array<double, kNumVars> initial_state(const Mhd2dConfig& c, double x, double y) {
  std::array<double, kNumVars> w{};
  if (c.problem == "linear_wave") {
    const WaveBackground b;
    const double kx = 1.0 / c.lx, ky = 1.0 / c.ly, k = std::hypot(kx, ky);
    const double cs = kx / k, sn = ky / k;  // wave normal n = (cs, sn), t1 = (-sn, cs)
    const auto r = wave_eigenvector(c.wave, c.gamma);
    const double a = c.wave_amplitude * std::sin(2.0 * kPi * (kx * x + ky * y));
    const double vn = a * r[1], vt1 = a * r[2], bt1 = b.bt1 + a * r[4];
    w[kRho] = b.d + a * r[0];
    w[kVx] = vn * cs - vt1 * sn;
    w[kVy] = vn * sn + vt1 * cs;
    w[kVz] = a * r[3];
    w[kBx] = b.bn * cs - bt1 * sn;
    w[kBy] = b.bn * sn + bt1 * cs;
    w[kBz] = b.bt2 + a * r[5];
    w[kPressure] = 1.0 / c.gamma + a * r[6];
  } else if (c.problem == "orszag_tang") {
    // Orszag & Tang 1979 in the form of Athena's test suite (Stone et al. 2008, section 5.5).
    const double b0 = c.ot_b0_scale / std::sqrt(4.0 * kPi), sx = x / c.lx, sy = y / c.ly;
    w[kRho] = 25.0 / (36.0 * kPi);
    w[kPressure] = 5.0 / (12.0 * kPi);
    w[kVx] = -c.ot_velocity * std::sin(2.0 * kPi * sy + c.ot_phase);
    w[kVy] = c.ot_velocity * std::sin(2.0 * kPi * sx + c.ot_phase);
    w[kBx] = -b0 * std::sin(2.0 * kPi * sy);
    w[kBy] = b0 * std::sin(4.0 * kPi * sx);
  } else if (c.problem == "brio_wu") {
    // Brio & Wu 1988, JCP 75, 400: the interface at lx / 2.
    const bool left = x < 0.5 * c.lx;
    w[kRho] = left ? 1.0 : c.bw_density_right;
    w[kPressure] = left ? 1.0 : c.bw_pressure_right;
    w[kBx] = c.bw_bx;
    w[kBy] = left ? 1.0 : -1.0;
  } else {  // field_loop: Gardiner & Stone 2005, JCP 205, 509, section 5.1
    const double xc = 0.5 * c.lx, yc = 0.5 * c.ly, big_r = c.loop_radius;
    // B = curl(A_z e_z) by differences of A_z = A0 (R - r)+ across the cell (second order).
    auto az = [&](double px, double py) {
      const double r = std::hypot(px - xc, py - yc);
      return r < big_r ? c.loop_amplitude * (big_r - r) : 0.0;
    };
    const double h = 1e-3 * std::min(c.lx / c.nx, c.ly / c.ny);
    w[kRho] = 1.0;
    w[kPressure] = 1.0;
    w[kVx] = c.loop_vx;
    w[kVy] = c.loop_vy;
    w[kBx] = (az(x, y + h) - az(x, y - h)) / (2.0 * h);
    w[kBy] = -(az(x + h, y) - az(x - h, y)) / (2.0 * h);
  }
  return w;
}

}  // namespace

Mhd2d::Mhd2d(const Mhd2dConfig& config, MPI_Comm comm)
    : config_(resolve(config)),
      decomposition_(comm, config_.nx, config_.ny,
                     {config_.boundary_x == "periodic", config_.boundary_y == "periodic"}),
      halo_(decomposition_, kGhost, kVars),
      riemann_(config_.riemann_solver == "hlle" ? RiemannSolver::kHlle : RiemannSolver::kHlld),
      limiter_(config_.limiter == "minmod" ? Limiter::kMinmod : Limiter::kMc),
      integrator_(config_.integrator == "rk2" ? Integrator::kRk2 : Integrator::kVl2),
      gamma_(config_.gamma),
      dx_(config_.lx / config_.nx),
      dy_(config_.ly / config_.ny) {
  const auto& d = decomposition_;
  for (int axis = 0; axis < 2; ++axis) {
    const int local = axis == 0 ? d.local_nx() : d.local_ny();
    SURGE_REQUIRE(local >= kGhost, ConfigError,
                  "mhd2d: a block of " << local << " cells along " << (axis == 0 ? "x" : "y")
                                       << " is thinner than the " << kGhost
                                       << " ghost layers; use fewer ranks or more cells");
  }
  const double wavelength = 1.0 / std::hypot(1.0 / config_.lx, 1.0 / config_.ly);
  wave_period_ = wavelength / wave_speed(config_.wave);
  if (config_.t_end == 0.0) {
    const std::string& p = config_.problem;
    config_.t_end = p == "linear_wave"   ? wave_period_
                    : p == "orszag_tang" ? 0.5
                    : p == "brio_wu"     ? 0.1
                                         : 1.0;
  }
  t_end_ = config_.t_end;

  const int lnx = d.local_nx(), lny = d.local_ny(), g = kGhost;
  u_ = Fields2D("mhd2d_state", kVars, lnx + 2 * g, lny + 2 * g);
  u_stage_ = Fields2D("mhd2d_stage", kVars, lnx + 2 * g, lny + 2 * g);
  w_ = Fields2D("mhd2d_primitives", kVars, lnx + 2 * g, lny + 2 * g);
  flux_x_ = Fields2D("mhd2d_flux_x", kVars, lnx + 2 * g, lny + 2 * g);
  flux_y_ = Fields2D("mhd2d_flux_y", kVars, lnx + 2 * g, lny + 2 * g);
  half_slope_ = Fields2D("mhd2d_half_slope", kVars, lnx + 2 * g, lny + 2 * g);
  rate_ = Field2D("mhd2d_rate", lnx + 2 * g, lny + 2 * g);

  // The initial state, ghosts and corners included, set on the host and copied once.
  auto host = Kokkos::create_mirror_view(u_);
  for (int i = 0; i < lnx + 2 * g; ++i) {
    for (int j = 0; j < lny + 2 * g; ++j) {
      const double x = (d.offset_x() + i - g + 0.5) * dx_, y = (d.offset_y() + j - g + 0.5) * dy_;
      const auto w = initial_state(config_, x, y);
      host(kRho, i, j) = w[kRho];
      host(kMx, i, j) = w[kRho] * w[kVx];
      host(kMy, i, j) = w[kRho] * w[kVy];
      host(kMz, i, j) = w[kRho] * w[kVz];
      host(kBx, i, j) = w[kBx];
      host(kBy, i, j) = w[kBy];
      host(kBz, i, j) = w[kBz];
      host(kEnergy, i, j) = w[kPressure] / (gamma_ - 1.0) +
                            0.5 * w[kRho] * (w[kVx] * w[kVx] + w[kVy] * w[kVy] + w[kVz] * w[kVz]) +
                            0.5 * (w[kBx] * w[kBx] + w[kBy] * w[kBy] + w[kBz] * w[kBz]);
      host(kPsi, i, j) = 0.0;
    }
  }
  Kokkos::deep_copy(u_, host);
  Kokkos::deep_copy(u_stage_, u_);  // valid corner values in both levels
  Kokkos::fence();
}

Box Mhd2d::owned() const noexcept {
  return {kGhost, kGhost + decomposition_.local_nx(), kGhost, kGhost + decomposition_.local_ny()};
}

void Mhd2d::fill_ghosts(const Fields2D& u) {
  halo_.exchange(u);
  // Outflow (zero-gradient) ghosts on the physical boundaries without a neighbour.
  const auto& d = decomposition_;
  const int nx = d.local_nx(), ny = d.local_ny(), g = kGhost;
  for (int axis = 0; axis < 2; ++axis) {
    for (int side = 0; side < 2; ++side) {
      const int peer = side == 0 ? d.neighbor_low(axis) : d.neighbor_high(axis);
      if (peer != MPI_PROC_NULL) continue;
      const int n_along = axis == 0 ? ny : nx;
      const int edge = side == 0 ? g : (axis == 0 ? nx : ny) + g - 1;
      const int ghost0 = side == 0 ? 0 : edge + 1;
      Kokkos::parallel_for(
          "mhd2d_outflow_ghosts", Range1D(0, kVars * g * n_along), KOKKOS_LAMBDA(int k) {
            const int along = k % n_along + g, cl = k / n_along, layer = cl % g, c = cl / g;
            if (axis == 0) {
              u(c, ghost0 + layer, along) = u(c, edge, along);
            } else {
              u(c, along, ghost0 + layer) = u(c, along, edge);
            }
          });
    }
  }
  Kokkos::fence();
}

double Mhd2d::primitives_and_rate(const Fields2D& u, const char* stage, bool with_rate) {
  const auto& d = decomposition_;
  const int lnx = d.local_nx(), lny = d.local_ny(), g = kGhost;
  const int ox = d.offset_x(), oy = d.offset_y(), gny = d.ny();
  const double gamma = gamma_, idx = 1.0 / dx_, idy = 1.0 / dy_;
  auto w = w_;
  auto rate = rate_;
  mhd2d_kernels::cell_primitives(u, w_, rate_, {0, lnx + 2 * g, 0, lny + 2 * g}, gamma, idx, idy,
                                 with_rate);
  // Ghosts are owned elsewhere: the scan covers this rank's cells.
  const CellScan local = reduce_over_cells<CellScanReducer>(
      "mhd2d_scan", owned(), KOKKOS_LAMBDA(int i, int j, CellScan& scan) {
        if (!(w(kRho, i, j) > 0.0) || !(w(kPressure, i, j) > 0.0)) {  // also catches NaN
          const long long cell = static_cast<long long>(ox + i - g) * gny + (oy + j - g);
          scan.bad += 1;
          scan.first_bad = cell < scan.first_bad ? cell : scan.first_bad;
          return;
        }
        if (!with_rate) return;  // the stages after the first only check positivity
        const double r = rate(i, j);
        scan.rate = r > scan.rate ? r : scan.rate;
      });
  // One reduction agrees on the rate and on the first bad cell (max of minus its index;
  // indices stay below 2^53, exact in a double). Both are exact, so every rank agrees.
  double mine[2] = {local.rate, local.bad > 0 ? -static_cast<double>(local.first_bad) : -1e300};
  double all_ranks[2] = {0.0, 0.0};
  SURGE_MPI_CHECK(MPI_Allreduce(mine, all_ranks, 2, MPI_DOUBLE, MPI_MAX, d.comm()));
  if (all_ranks[1] > -1e300) {
    long long count = 0;
    SURGE_MPI_CHECK(MPI_Allreduce(&local.bad, &count, 1, MPI_LONG_LONG, MPI_SUM, d.comm()));
    const long long cell = static_cast<long long>(-all_ranks[1]);
    const long long gi = cell / gny, gj = cell % gny;
    SURGE_THROW(NumericalError, "mhd2d: density or pressure not positive in "
                                    << count << " cell" << (count > 1 ? "s" : "")
                                    << ", first at cell (i, j) = (" << gi << ", " << gj
                                    << ") (x = " << (gi + 0.5) * dx_ << ", y = " << (gj + 0.5) * dy_
                                    << "), t = " << time_ << ", step " << steps_ + 1 << " ("
                                    << stage << ")");
  }
  return all_ranks[0];
}

template <RiemannSolver R, Limiter L>
void Mhd2d::compute_fluxes_with(double ch) {
  const int lnx = decomposition_.local_nx(), lny = decomposition_.local_ny(), g = kGhost;
  const mhd2d_kernels::FluxParams p{gamma_, 1.0 / (gamma_ - 1.0), ch, 1.0 / ch, ch * ch};
  // x, then y: the slopes of the cells next to the faces along the axis (one slope buffer
  // serves both sweeps), then the faces (i, j), between cell (i, j) - e_axis and (i, j).
  if (L != Limiter::kFirstOrder) {
    mhd2d_kernels::cell_half_slopes<L, 0>(w_, half_slope_, {g - 1, g + lnx + 1, g, g + lny});
  }
  mhd2d_kernels::face_fluxes<R, L, 0>(w_, half_slope_, flux_x_, {g, g + lnx + 1, g, g + lny}, p);
  if (L != Limiter::kFirstOrder) {
    mhd2d_kernels::cell_half_slopes<L, 1>(w_, half_slope_, {g, g + lnx, g - 1, g + lny + 1});
  }
  mhd2d_kernels::face_fluxes<R, L, 1>(w_, half_slope_, flux_y_, {g, g + lnx, g, g + lny + 1}, p);
}

void Mhd2d::compute_fluxes(Limiter limiter, double ch) {
  // The kernels are instantiated per (Riemann solver, limiter) pair, so the pointwise
  // physics inlines without run-time switches.
  const bool hlld = riemann_ == RiemannSolver::kHlld;
  switch (limiter) {
    case Limiter::kFirstOrder:
      hlld ? compute_fluxes_with<RiemannSolver::kHlld, Limiter::kFirstOrder>(ch)
           : compute_fluxes_with<RiemannSolver::kHlle, Limiter::kFirstOrder>(ch);
      break;
    case Limiter::kMinmod:
      hlld ? compute_fluxes_with<RiemannSolver::kHlld, Limiter::kMinmod>(ch)
           : compute_fluxes_with<RiemannSolver::kHlle, Limiter::kMinmod>(ch);
      break;
    case Limiter::kMc:
      hlld ? compute_fluxes_with<RiemannSolver::kHlld, Limiter::kMc>(ch)
           : compute_fluxes_with<RiemannSolver::kHlle, Limiter::kMc>(ch);
      break;
  }
}

void Mhd2d::update(const Fields2D& out, const Fields2D& base, const Fields2D& eval, double w0,
                   double w1, double dt_weight, double damping) {
  const double cx = dt_weight / dx_, cy = dt_weight / dy_;
  const mhd2d_kernels::UpdateWeights wts{w0, w1, cx, cy, damping};
  if (w1 != 0.0) {
    mhd2d_kernels::update_rows<true>(out, base, eval, flux_x_, flux_y_, owned(), wts);
  } else {
    mhd2d_kernels::update_rows<false>(out, base, eval, flux_x_, flux_y_, owned(), wts);
  }
}

void Mhd2d::step(double max_dt) {
  SURGE_REQUIRE(max_dt > 0.0, ConfigError, "mhd2d: step with max_dt = " << max_dt);
  fill_ghosts(u_);
  const double rate = primitives_and_rate(u_, "start of step", true);
  double dt = config_.cfl / rate;
  SURGE_REQUIRE(std::isfinite(dt) && dt > 0.0, NumericalError,
                "mhd2d: time step " << dt << " at t = " << time_ << ", step " << steps_ + 1);
  // The step that lands on max_dt (an output time) takes it exactly, also when the CFL step
  // is a hair shorter, so no sliver step follows.
  if (dt >= max_dt * (1.0 - 1e-10)) dt = max_dt;
  // c_h: the fastest signal the CFL step allows (Mignone & Tzeferacos 2010, eq. 20 with
  // c_h = max |lambda|), fixed for the whole step so both stages solve one system.
  const double hmin = std::min(dx_, dy_);
  const double ch = hmin * rate;
  const double damping = std::exp(-config_.glm_alpha * ch * dt / hmin);
  if (integrator_ == Integrator::kVl2) {
    // VL2 (Stone & Gardiner 2009): a first-order half step, then the PLM full step from it.
    compute_fluxes(Limiter::kFirstOrder, ch);
    update(u_stage_, u_, u_, 1.0, 0.0, 0.5 * dt, 1.0);
    fill_ghosts(u_stage_);
    (void)primitives_and_rate(u_stage_, "half step", false);
    compute_fluxes(limiter_, ch);
    update(u_, u_, u_stage_, 1.0, 0.0, dt, damping);
  } else {
    // SSP RK2 (Heun): U1 = U + dt L(U); U = (U + U1 + dt L(U1)) / 2.
    compute_fluxes(limiter_, ch);
    update(u_stage_, u_, u_, 1.0, 0.0, dt, 1.0);
    fill_ghosts(u_stage_);
    (void)primitives_and_rate(u_stage_, "second stage", false);
    compute_fluxes(limiter_, ch);
    update(u_, u_, u_stage_, 0.5, 0.5, 0.5 * dt, damping);
  }
  Kokkos::fence();
  last_dt_ = dt;
  time_ += dt;
  ++steps_;
}

void Mhd2d::advance_to(double t) {
  SURGE_REQUIRE(t >= time_, ConfigError, "mhd2d: cannot go back from t = " << time_ << " to " << t);
  while (time_ < t) {
    const double remaining = t - time_;
    step(remaining);
    if (last_dt_ == remaining) time_ = t;  // exactly, whatever the rounding of the sum
  }
  // The state handed out is checked too (the next step would only find it later).
  fill_ghosts(u_);
  (void)primitives_and_rate(u_, "end of step", false);
}

std::vector<double> Mhd2d::owned_values(int var) const {
  const int lnx = decomposition_.local_nx(), lny = decomposition_.local_ny();
  auto host = Kokkos::create_mirror_view(u_);
  Kokkos::deep_copy(host, u_);
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(lnx) * static_cast<std::size_t>(lny));
  for (int i = kGhost; i < kGhost + lnx; ++i)
    for (int j = kGhost; j < kGhost + lny; ++j) out.push_back(host(var, i, j));
  return out;
}

void Mhd2d::copy_output(const std::string& field, std::vector<float>& out) const {
  const int lnx = decomposition_.local_nx(), lny = decomposition_.local_ny(), g = kGhost;
  int kind = -1, components = 1;
  if (field == "density") kind = 0;
  if (field == "pressure") kind = 1;
  if (field == "velocity_z") kind = 2;
  if (field == "magnetic_field_z") kind = 3;
  if (field == "velocity") kind = 4, components = 2;
  if (field == "magnetic_field") kind = 5, components = 2;
  SURGE_REQUIRE(kind >= 0, ConfigError, "mhd2d has no field '" << field << "'");
  Kokkos::View<float***, Kokkos::LayoutRight, DevMem> block(
      Kokkos::view_alloc(Kokkos::WithoutInitializing, "mhd2d_output_block"), lnx, lny, components);
  auto u = u_;
  const double gamma = gamma_;
  Kokkos::parallel_for(
      "mhd2d_pack_output", Range2D({0, 0}, {lnx, lny}), KOKKOS_LAMBDA(int i, int j) {
        const int a = i + g, b = j + g;
        const double rho = u(kRho, a, b);
        switch (kind) {
          case 0:
            block(i, j, 0) = static_cast<float>(rho);
            break;
          case 1:
            block(i, j, 0) = static_cast<float>(
                Eos::pressure(rho, u(kMx, a, b), u(kMy, a, b), u(kMz, a, b), u(kBx, a, b),
                              u(kBy, a, b), u(kBz, a, b), u(kEnergy, a, b), gamma));
            break;
          case 2:
            block(i, j, 0) = static_cast<float>(u(kMz, a, b) / rho);
            break;
          case 3:
            block(i, j, 0) = static_cast<float>(u(kBz, a, b));
            break;
          case 4:
            block(i, j, 0) = static_cast<float>(u(kMx, a, b) / rho);
            block(i, j, 1) = static_cast<float>(u(kMy, a, b) / rho);
            break;
          default:
            block(i, j, 0) = static_cast<float>(u(kBx, a, b));
            block(i, j, 1) = static_cast<float>(u(kBy, a, b));
        }
      });
  auto host = Kokkos::create_mirror_view(block);
  Kokkos::deep_copy(host, block);
  out.resize(static_cast<std::size_t>(lnx) * static_cast<std::size_t>(lny) * components);
  if (!out.empty()) std::memcpy(out.data(), host.data(), out.size() * sizeof(float));
}

std::array<double, Mhd2d::kVars> Mhd2d::totals() const {
  std::array<double, kVars> local{}, global{};
  auto u = u_;
  for (int v = 0; v < kVars; ++v) {
    local[v] = sum_over_cells(
                   "mhd2d_total", owned(), KOKKOS_LAMBDA(int i, int j) { return u(v, i, j); }) *
               dx_ * dy_;
  }
  SURGE_MPI_CHECK(MPI_Allreduce(local.data(), global.data(), kVars, MPI_DOUBLE, MPI_SUM,
                                decomposition_.comm()));
  return global;
}

double Mhd2d::relative_divergence() {
  fill_ghosts(u_);
  auto u = u_;
  const double idx = 0.5 / dx_, idy = 0.5 / dy_;
  const double div = max_abs_over_cells(
      "mhd2d_div_b", owned(), KOKKOS_LAMBDA(int i, int j) {
        return (u(kBx, i + 1, j) - u(kBx, i - 1, j)) * idx +
               (u(kBy, i, j + 1) - u(kBy, i, j - 1)) * idy;
      });
  const double b = max_abs_over_cells(
      "mhd2d_max_b", owned(), KOKKOS_LAMBDA(int i, int j) {
        const double bx = u(kBx, i, j), by = u(kBy, i, j), bz = u(kBz, i, j);
        return bx * bx + by * by + bz * bz;
      });
  double mine[2] = {div, b}, all[2] = {0.0, 0.0};
  SURGE_MPI_CHECK(MPI_Allreduce(mine, all, 2, MPI_DOUBLE, MPI_MAX, decomposition_.comm()));
  return all[1] > 0.0 ? all[0] * std::min(dx_, dy_) / std::sqrt(all[1]) : 0.0;
}

std::vector<double> Mhd2d::output_times() const {
  std::vector<double> times;
  for (int k = 1; k <= config_.n_outputs; ++k)
    times.push_back(t_end_ * static_cast<double>(k) / config_.n_outputs);
  return times;
}

}  // namespace surge::solvers
