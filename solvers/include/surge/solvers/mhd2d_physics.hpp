#pragma once
// Pointwise physics of ideal GLM-MHD for mhd2d: the variables, primitive/conservative
// conversion, fast speeds, slope limiters, the GLM interface problem and the HLLE/HLLD
// Riemann solvers. Everything here runs inside Kokkos kernels (no std::, no exceptions);
// the kernels pick a struct with `enum class` template arguments, as Parthenon/AthenaPK do
// (`Riemann<RiemannSolver::kHlld>::solve`).

#include <Kokkos_Core.hpp>

namespace surge::solvers::mhd {

// Slots of the conservative state U and of the primitive state W (same slots, velocity in
// place of momentum and gas pressure in place of total energy). Code units: magnetic
// pressure B^2 / 2.
enum Var : int {
  kRho = 0,
  kMx = 1,  // W: vx
  kMy = 2,  // W: vy
  kMz = 3,  // W: vz
  kBx = 4,
  kBy = 5,
  kBz = 6,
  kEnergy = 7,  // W: gas pressure
  kPsi = 8,     // GLM divergence-cleaning scalar
  kNumVars = 9
};
constexpr int kVx = kMx, kVy = kMy, kVz = kMz, kPressure = kEnergy;

enum class RiemannSolver { kHlle, kHlld };
// kFirstOrder: piecewise constant (the VL2 predictor); kMinmod, kMc: PLM slopes.
enum class Limiter { kFirstOrder, kMinmod, kMc };
enum class Integrator { kRk2, kVl2 };

// fabs clears the sign bit (no branch, which a data-dependent sign would mispredict).
KOKKOS_FORCEINLINE_FUNCTION double abs_of(double x) {
#if KOKKOS_VERSION >= 40000
  return Kokkos::fabs(x);
#else
  return Kokkos::Experimental::fabs(x);
#endif
}
// These compile to single min/max instructions.
KOKKOS_FORCEINLINE_FUNCTION double min_of(double a, double b) { return a < b ? a : b; }
KOKKOS_FORCEINLINE_FUNCTION double max_of(double a, double b) { return a > b ? a : b; }
KOKKOS_INLINE_FUNCTION double square_root(double x) {
#if KOKKOS_VERSION >= 40000
  return Kokkos::sqrt(x);
#else
  return Kokkos::Experimental::sqrt(x);
#endif
}

// A state in the frame of a face: n is the face normal, t1 and t2 complete a right-handed
// frame (x: n = x, t1 = y, t2 = z; y: n = y, t1 = z, t2 = x).
struct FaceState {
  double d, vn, vt1, vt2, bn, bt1, bt2, p;
};
// Fluxes of (rho, m_n, m_t1, m_t2, B_t1, B_t2, E) through the face; B_n and psi belong to the
// GLM subsystem.
struct FaceFlux {
  double d, mn, mt1, mt2, bt1, bt2, e;
};

struct Eos {
  // Fast magnetosonic speed along the normal: c_f^2 = (a^2 + b^2 + sqrt((a^2 + b^2)^2 -
  // 4 a^2 b_n^2)) / 2 with a^2 = gamma p / rho, b^2 = B^2 / rho, b_n^2 = B_n^2 / rho.
  static KOKKOS_INLINE_FUNCTION double fast_speed(double d, double p, double bn, double bt1,
                                                  double bt2, double gamma) {
    const double inv_d = 1.0 / d;
    const double a2 = gamma * p * inv_d;
    const double bn2 = bn * bn * inv_d, b2 = bn2 + (bt1 * bt1 + bt2 * bt2) * inv_d;
    const double sum = a2 + b2;
    const double disc = max_of(sum * sum - 4.0 * a2 * bn2, 0.0);
    return square_root(0.5 * (sum + square_root(disc)));
  }
  // Gas pressure from the conservative variables.
  static KOKKOS_INLINE_FUNCTION double pressure(double d, double mx, double my, double mz,
                                                double bx, double by, double bz, double e,
                                                double gamma) {
    const double kinetic = 0.5 * (mx * mx + my * my + mz * mz) / d;
    const double magnetic = 0.5 * (bx * bx + by * by + bz * bz);
    return (gamma - 1.0) * (e - kinetic - magnetic);
  }
  // Total energy of a face state; inv_gm1 = 1 / (gamma - 1).
  static KOKKOS_FORCEINLINE_FUNCTION double energy(const FaceState& w, double inv_gm1) {
    return w.p * inv_gm1 + 0.5 * w.d * (w.vn * w.vn + w.vt1 * w.vt1 + w.vt2 * w.vt2) +
           0.5 * (w.bn * w.bn + w.bt1 * w.bt1 + w.bt2 * w.bt2);
  }
};

// Limited slope of a cell from its left and right differences.
template <Limiter L>
struct Slope;

template <>
struct Slope<Limiter::kFirstOrder> {
  static KOKKOS_FORCEINLINE_FUNCTION double limit(double, double) { return 0.0; }
};

template <>
struct Slope<Limiter::kMinmod> {
  // For dl, dr of one sign the one of smaller magnitude is min(dl, dr) when both are
  // positive and max(dl, dr) when both are negative: their clipped sum, without a branch.
  static KOKKOS_FORCEINLINE_FUNCTION double limit(double dl, double dr) {
    const double m = max_of(min_of(dl, dr), 0.0) + min_of(max_of(dl, dr), 0.0);
    return dl * dr <= 0.0 ? 0.0 : m;
  }
};

// Monotonized central (van Leer 1977): minmod(2 dl, (dl + dr) / 2, 2 dr).
template <>
struct Slope<Limiter::kMc> {
  // Branch-free (min, max and selects; a data-dependent branch mispredicts): for dl, dr of
  // one sign the result is min(2 dl, 2 dr, (dl + dr) / 2) when both are positive and the
  // max of the three when both are negative; one of the clipped terms below is zero.
  static KOKKOS_FORCEINLINE_FUNCTION double limit(double dl, double dr) {
    const double a = 2.0 * dl, b = 2.0 * dr, c = 0.5 * (dl + dr);
    const double lo = min_of(min_of(a, b), c), hi = max_of(max_of(a, b), c);
    const double m = max_of(lo, 0.0) + min_of(hi, 0.0);
    return dl * dr <= 0.0 ? 0.0 : m;
  }
};

// The GLM subsystem for (B_n, psi) at a face, solved exactly (Dedner et al. 2002, eq. 42;
// Mignone & Tzeferacos 2010, eq. 26): B_n = (B_L + B_R) / 2 - (psi_R - psi_L) / (2 c_h),
// psi = (psi_L + psi_R) / 2 - c_h (B_R - B_L) / 2. Fluxes: B_n -> psi, psi -> c_h^2 B_n.
struct Glm {
  // ch: the cleaning speed c_h; inv_ch = 1 / c_h.
  static KOKKOS_FORCEINLINE_FUNCTION void solve(double bl, double br, double psil, double psir,
                                                double ch, double inv_ch, double& bn, double& psi) {
    bn = 0.5 * (bl + br) - 0.5 * (psir - psil) * inv_ch;
    psi = 0.5 * (psil + psir) - 0.5 * ch * (br - bl);
  }
};

// Physical flux of a face state, with its total energy e.
KOKKOS_FORCEINLINE_FUNCTION FaceFlux physical_flux(const FaceState& w, double e) {
  const double pt = w.p + 0.5 * (w.bn * w.bn + w.bt1 * w.bt1 + w.bt2 * w.bt2);
  const double vb = w.vn * w.bn + w.vt1 * w.bt1 + w.vt2 * w.bt2;
  const double mn = w.d * w.vn;
  return {mn,
          mn * w.vn + pt - w.bn * w.bn,
          mn * w.vt1 - w.bn * w.bt1,
          mn * w.vt2 - w.bn * w.bt2,
          w.bt1 * w.vn - w.bn * w.vt1,
          w.bt2 * w.vn - w.bn * w.vt2,
          (e + pt) * w.vn - w.bn * vb};
}

// Conservative variables of a face state in the flux order (rho, m_n, m_t1, m_t2, B_t1,
// B_t2, E).
KOKKOS_FORCEINLINE_FUNCTION FaceFlux conserved(const FaceState& w, double e) {
  return {w.d, w.d * w.vn, w.d * w.vt1, w.d * w.vt2, w.bt1, w.bt2, e};
}

// F + s (U_a - U_b), componentwise.
KOKKOS_FORCEINLINE_FUNCTION FaceFlux jump_flux(const FaceFlux& f, double s, const FaceFlux& ua,
                                               const FaceFlux& ub) {
  return {f.d + s * (ua.d - ub.d),       f.mn + s * (ua.mn - ub.mn),
          f.mt1 + s * (ua.mt1 - ub.mt1), f.mt2 + s * (ua.mt2 - ub.mt2),
          f.bt1 + s * (ua.bt1 - ub.bt1), f.bt2 + s * (ua.bt2 - ub.bt2),
          f.e + s * (ua.e - ub.e)};
}

// c ? a : b, componentwise (selects, which vectorise where a branch would not).
KOKKOS_FORCEINLINE_FUNCTION FaceFlux select(bool c, const FaceFlux& a, const FaceFlux& b) {
  return {c ? a.d : b.d,     c ? a.mn : b.mn,   c ? a.mt1 : b.mt1, c ? a.mt2 : b.mt2,
          c ? a.bt1 : b.bt1, c ? a.bt2 : b.bt2, c ? a.e : b.e};
}

template <RiemannSolver R>
struct Riemann;

// HLLE with Davis's wave-speed estimates S_L = min(u_L - c_fL, u_R - c_fR), S_R = max(u_L +
// c_fL, u_R + c_fR) (Einfeldt 1988; Davis 1988). Both states carry the same B_n.
template <>
struct Riemann<RiemannSolver::kHlle> {
  // gamma: the adiabatic index; inv_gm1 = 1 / (gamma - 1).
  static KOKKOS_FORCEINLINE_FUNCTION FaceFlux solve(const FaceState& l, const FaceState& r,
                                                    double gamma, double inv_gm1) {
    const double cl = Eos::fast_speed(l.d, l.p, l.bn, l.bt1, l.bt2, gamma);
    const double cr = Eos::fast_speed(r.d, r.p, r.bn, r.bt1, r.bt2, gamma);
    const double sl = min_of(min_of(l.vn - cl, r.vn - cr), 0.0);
    const double sr = max_of(max_of(l.vn + cl, r.vn + cr), 0.0);
    const double el = Eos::energy(l, inv_gm1), er = Eos::energy(r, inv_gm1);
    const FaceFlux fl = physical_flux(l, el), fr = physical_flux(r, er);
    const FaceFlux ul = conserved(l, el), ur = conserved(r, er);
    const double inv = 1.0 / (sr - sl), a = sr * inv, b = -sl * inv, c = sr * sl * inv;
    return {a * fl.d + b * fr.d + c * (ur.d - ul.d),
            a * fl.mn + b * fr.mn + c * (ur.mn - ul.mn),
            a * fl.mt1 + b * fr.mt1 + c * (ur.mt1 - ul.mt1),
            a * fl.mt2 + b * fr.mt2 + c * (ur.mt2 - ul.mt2),
            a * fl.bt1 + b * fr.bt1 + c * (ur.bt1 - ul.bt1),
            a * fl.bt2 + b * fr.bt2 + c * (ur.bt2 - ul.bt2),
            a * fl.e + b * fr.e + c * (ur.e - ul.e)};
  }
};

// HLLD (Miyoshi & Kusano 2005, JCP 208, 315): five waves S_L, S_L*, S_M, S_R*, S_R; the
// equation numbers below are theirs. Both states carry the same B_n.
template <>
struct Riemann<RiemannSolver::kHlld> {
  // The single-star state of side `w` with outer speed s (eqs. 43-48).
  static KOKKOS_FORCEINLINE_FUNCTION FaceState star(const FaceState& w, double s, double sm,
                                                    double pt_star, double pt, double e,
                                                    double& e_star) {
    FaceState u = w;
    const double sdu = s - w.vn, inv_ssm = 1.0 / (s - sm);
    u.d = w.d * sdu * inv_ssm;
    const double denom = w.d * sdu * (s - sm) - w.bn * w.bn;
    // Degenerate (S_M = S +- c_f with B_t = 0): the tangential fields do not jump (eq. 45);
    // vfac = 0 and bfac = 1 leave them exactly as they are (selects, no branch).
    const bool jump = abs_of(denom) > 1e-12 * pt_star;
    const double inv_denom = 1.0 / (jump ? denom : 1.0);
    const double vfac = jump ? w.bn * (sm - w.vn) * inv_denom : 0.0;
    const double bfac = jump ? (w.d * sdu * sdu - w.bn * w.bn) * inv_denom : 1.0;
    u.vt1 = w.vt1 - w.bt1 * vfac;
    u.vt2 = w.vt2 - w.bt2 * vfac;
    u.bt1 = w.bt1 * bfac;
    u.bt2 = w.bt2 * bfac;
    u.vn = sm;
    const double vb = w.vn * w.bn + w.vt1 * w.bt1 + w.vt2 * w.bt2;
    const double vb_star = sm * w.bn + u.vt1 * u.bt1 + u.vt2 * u.bt2;
    e_star = (sdu * e - pt * w.vn + pt_star * sm + w.bn * (vb - vb_star)) * inv_ssm;  // eq. 48
    return u;
  }

  // The double-star flux on one side of the contact (eqs. 62-63, 65): `near` is that side's
  // single-star state (energy e_near, sqrt of density sq_near, flux f_near, conserved
  // c_near), s_alfven its Alfven speed; sgn is sign(B_n) on the left, -sign(B_n) on the right.
  static KOKKOS_FORCEINLINE_FUNCTION FaceFlux double_star(const FaceState& uss, double vb_ss,
                                                          const FaceState& near, double e_near,
                                                          double sq_near, double s_alfven,
                                                          const FaceFlux& f_near,
                                                          const FaceFlux& c_near, double sgn) {
    const double vb_near = near.vn * near.bn + near.vt1 * near.bt1 + near.vt2 * near.bt2;
    const double ess = e_near - sq_near * (vb_near - vb_ss) * sgn;
    FaceState u = uss;
    u.d = near.d;
    return jump_flux(f_near, s_alfven, conserved(u, ess), c_near);
  }

  // gamma: the adiabatic index; inv_gm1 = 1 / (gamma - 1). Every region's flux is computed
  // and the region's is selected (no branch: the face loop then vectorises across a row);
  // the selected flux is the same expression as with branches, bit for bit. The other
  // regions' arithmetic may divide by zero or take a negative root, which is never selected.
  static KOKKOS_FORCEINLINE_FUNCTION FaceFlux solve(const FaceState& l, const FaceState& r,
                                                    double gamma, double inv_gm1) {
    const double cl = Eos::fast_speed(l.d, l.p, l.bn, l.bt1, l.bt2, gamma);
    const double cr = Eos::fast_speed(r.d, r.p, r.bn, r.bt1, r.bt2, gamma);
    const double cmax = max_of(cl, cr);
    const double sl = min_of(l.vn, r.vn) - cmax, sr = max_of(l.vn, r.vn) + cmax;  // eq. 67
    const double el = Eos::energy(l, inv_gm1), er = Eos::energy(r, inv_gm1);
    const double bn = l.bn, bn2 = bn * bn;
    const double ptl = l.p + 0.5 * (bn2 + l.bt1 * l.bt1 + l.bt2 * l.bt2);
    const double ptr = r.p + 0.5 * (bn2 + r.bt1 * r.bt1 + r.bt2 * r.bt2);
    const double sdl = sl - l.vn, sdr = sr - r.vn;
    const double inv_mass = 1.0 / (sdr * r.d - sdl * l.d);
    const double sm = (sdr * r.d * r.vn - sdl * l.d * l.vn - ptr + ptl) * inv_mass;  // eq. 38
    const double pt_star = (sdr * r.d * ptl - sdl * l.d * ptr +                      // eq. 41
                            l.d * r.d * sdr * sdl * (r.vn - l.vn)) *
                           inv_mass;
    double esl = 0.0, esr = 0.0;
    const FaceState usl = star(l, sl, sm, pt_star, ptl, el, esl);
    const FaceState usr = star(r, sr, sm, pt_star, ptr, er, esr);
    const FaceFlux fl = physical_flux(l, el), fr = physical_flux(r, er);
    const FaceFlux cl_u = conserved(l, el), cr_u = conserved(r, er);
    const FaceFlux csl = conserved(usl, esl), csr = conserved(usr, esr);
    const FaceFlux fsl = jump_flux(fl, sl, csl, cl_u);  // eq. 64
    const FaceFlux fsr = jump_flux(fr, sr, csr, cr_u);
    const double sqdl = square_root(usl.d), sqdr = square_root(usr.d);
    const double ssl = sm - abs_of(bn) / sqdl, ssr = sm + abs_of(bn) / sqdr;  // eq. 51
    // Double-star states (eqs. 59-63).
    const double sgn = bn > 0.0 ? 1.0 : -1.0, inv = 1.0 / (sqdl + sqdr);
    FaceState uss = usl;
    uss.vt1 = (sqdl * usl.vt1 + sqdr * usr.vt1 + (usr.bt1 - usl.bt1) * sgn) * inv;
    uss.vt2 = (sqdl * usl.vt2 + sqdr * usr.vt2 + (usr.bt2 - usl.bt2) * sgn) * inv;
    uss.bt1 = (sqdl * usr.bt1 + sqdr * usl.bt1 + sqdl * sqdr * (usr.vt1 - usl.vt1) * sgn) * inv;
    uss.bt2 = (sqdl * usr.bt2 + sqdr * usl.bt2 + sqdl * sqdr * (usr.vt2 - usl.vt2) * sgn) * inv;
    const double vb_ss = sm * bn + uss.vt1 * uss.bt1 + uss.vt2 * uss.bt2;
    const FaceFlux fssl = double_star(uss, vb_ss, usl, esl, sqdl, ssl, fsl, csl, sgn);
    const FaceFlux fssr = double_star(uss, vb_ss, usr, esr, sqdr, ssr, fsr, csr, -sgn);
    // The regions, the outermost last so that it wins: S_M >= 0 or not; S_L* >= 0, S_R* <= 0;
    // without a normal field the Alfven waves merge with the contact (S_L* = S_M = S_R*);
    // S_R <= 0, S_L >= 0.
    const bool left = sm >= 0.0;
    FaceFlux f = select(left, fssl, fssr);
    f = select(ssr <= 0.0, fsr, f);
    f = select(ssl >= 0.0, fsl, f);
    f = select(0.5 * bn2 < 1e-12 * pt_star, select(left, fsl, fsr), f);
    f = select(sr <= 0.0, fr, f);
    return select(sl >= 0.0, fl, f);
  }
};

}  // namespace surge::solvers::mhd
