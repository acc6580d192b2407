// mhd2d verification on one rank: convergence order of linear waves, conservation, symmetry
// and divergence on Orszag-Tang, the Brio-Wu plateaus and wave positions, the field loop, a
// positivity failure that names its cell, the errors a user sees for bad input, and the
// member's Well file.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "surge/core/config.hpp"
#include "surge/core/error.hpp"
#include "surge/core/hdf5.hpp"
#include "surge/solvers/member.hpp"
#include "surge/solvers/mhd2d.hpp"
#include "surge/solvers/solver.hpp"

using surge::solvers::Mhd2d;
using surge::solvers::Mhd2dConfig;
namespace mhd = surge::solvers::mhd;

namespace {

// Athena's linear-wave error: the RMS over the variables of the L1 norm of U - U(0).
double wave_error(const Mhd2dConfig& c) {
  Mhd2d sim(c, MPI_COMM_WORLD);
  std::vector<std::vector<double>> initial;
  for (int v = 0; v < Mhd2d::kVars; ++v) initial.push_back(sim.owned_values(v));
  sim.advance_to(sim.wave_period());
  double sum = 0.0;
  for (int v = 0; v < Mhd2d::kVars; ++v) {
    const auto now = sim.owned_values(v);
    double l1 = 0.0;
    for (std::size_t k = 0; k < now.size(); ++k) l1 += std::abs(now[k] - initial[v][k]);
    l1 /= static_cast<double>(now.size());
    sum += l1 * l1;
  }
  return std::sqrt(sum);
}

Mhd2dConfig wave_case(const char* wave, int ny, const char* integrator) {
  Mhd2dConfig c;
  c.problem = "linear_wave";
  c.wave = wave;
  c.lx = 1.0;  // wave vector 2 pi (1, 2): at atan(2) = 63.4 degrees to the x axis
  c.ly = 0.5;
  c.nx = 2 * ny;  // square cells
  c.ny = ny;
  c.integrator = integrator;
  c.n_outputs = 1;
  return c;
}

}  // namespace

class LinearWave : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {};

TEST_P(LinearWave, ConvergesAtSecondOrder) {
  const auto [wave, integrator] = GetParam();
  std::vector<double> errors;
  for (int ny : {16, 32, 64}) errors.push_back(wave_error(wave_case(wave, ny, integrator)));
  const double order1 = std::log2(errors[0] / errors[1]), order2 = std::log2(errors[1] / errors[2]);
  std::printf("%s wave (%s): L1 errors %.3e %.3e %.3e, orders %.3f %.3f\n", wave, integrator,
              errors[0], errors[1], errors[2], order1, order2);
  if (std::string(integrator) == "vl2") {
    EXPECT_GE(order1, 1.9);
    EXPECT_GE(order2, 1.9);
    // Absolute limit (amplitude 1e-6; measured 2.6e-9 and 2.9e-9): a scheme that converges
    // but is far less accurate fails.
    EXPECT_LT(errors[2], 4e-9);
  } else {
    // RK2 applies the MC limiter twice a step; its clipping of the extrema keeps these grids
    // pre-asymptotic (measured orders 1.44, 1.75, rising with resolution).
    EXPECT_GE(order2, 1.7);
    EXPECT_LT(errors[2], 1.5e-8);
  }
}

INSTANTIATE_TEST_SUITE_P(Mhd2d, LinearWave,
                         ::testing::Values(std::make_tuple("fast", "vl2"),
                                           std::make_tuple("alfven", "vl2"),
                                           std::make_tuple("fast", "rk2")));

namespace {

Mhd2dConfig orszag_tang(int n) {
  Mhd2dConfig c;
  c.problem = "orszag_tang";
  c.nx = c.ny = n;
  c.n_outputs = 1;
  return c;
}

}  // namespace

TEST(Mhd2d, OrszagTangConservesPreservesSymmetryAndBoundsDivergence) {
  const int n = 64;
  Mhd2d sim(orszag_tang(n), MPI_COMM_WORLD);
  EXPECT_DOUBLE_EQ(sim.gamma(), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(sim.t_end(), 0.5);
  const auto before = sim.totals();
  sim.advance_to(0.5);
  const auto after = sim.totals();
  EXPECT_DOUBLE_EQ(sim.time(), 0.5);
  // Mass, momentum, B and energy change only by the rounding of the flux differences.
  for (int v :
       {mhd::kRho, mhd::kMx, mhd::kMy, mhd::kMz, mhd::kBx, mhd::kBy, mhd::kBz, mhd::kEnergy}) {
    const double scale = std::max(1.0, std::abs(before[v]));
    EXPECT_LT(std::abs(after[v] - before[v]), 1e-13 * scale) << "variable " << v;
  }
  // Point symmetry about the centre: scalars even, vectors odd, cell (i, j) <-> (n-1-i, n-1-j).
  double worst = 0.0;
  std::vector<std::vector<double>> u;
  for (int v = 0; v < Mhd2d::kVars; ++v) u.push_back(sim.owned_values(v));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      const int a = i * n + j, b = (n - 1 - i) * n + (n - 1 - j);
      for (int v : {mhd::kRho, mhd::kEnergy, mhd::kPsi})
        worst = std::max(worst, std::abs(u[v][a] - u[v][b]));
      for (int v : {mhd::kMx, mhd::kMy, mhd::kBx, mhd::kBy})
        worst = std::max(worst, std::abs(u[v][a] + u[v][b]));
    }
  const double div = sim.relative_divergence();
  std::printf(
      "Orszag-Tang %dx%d to t = 0.5 in %ld steps: symmetry deviation %.3e, "
      "max |div B| h / max |B| = %.3e\n",
      n, n, sim.steps(), worst, div);
  EXPECT_LT(worst, 1e-10);
  // GLM keeps the central-difference divergence at the truncation level (measured 0.06 at
  // t = 0.5 on 64^2, where the shocks sit); unchecked growth gives O(1).
  EXPECT_LT(div, 0.15);
  EXPECT_GT(div, 0.0);
}

TEST(Mhd2d, BrioWuPlateausAndWavesMatchPublishedValues) {
  Mhd2dConfig c;
  c.problem = "brio_wu";
  c.nx = 800;  // the resolution of Brio & Wu's figure 2
  c.ny = 4;
  c.n_outputs = 1;
  Mhd2d sim(c, MPI_COMM_WORLD);
  EXPECT_DOUBLE_EQ(sim.gamma(), 2.0);
  EXPECT_FALSE(sim.periodic(0));
  const auto before = sim.totals();
  sim.advance_to(0.1);
  const auto after = sim.totals();
  // No wave reaches the outflow boundaries by t = 0.1: mass and energy are conserved.
  EXPECT_LT(std::abs(after[mhd::kRho] - before[mhd::kRho]), 1e-13);
  EXPECT_LT(std::abs(after[mhd::kEnergy] - before[mhd::kEnergy]), 1e-13);
  const auto rho = sim.owned_values(mhd::kRho), mx = sim.owned_values(mhd::kMx),
             my = sim.owned_values(mhd::kMy), by = sim.owned_values(mhd::kBy),
             e = sim.owned_values(mhd::kEnergy);
  auto at = [&](double x) {  // primitives (rho, u, v, p) of the cell holding x, row j = 0
    const int k = static_cast<int>(x * c.nx) * c.ny;
    const double d = rho[k], u = mx[k] / d, v = my[k] / d;
    const double p = e[k] - 0.5 * d * (u * u + v * v) - 0.5 * (0.75 * 0.75 + by[k] * by[k]);
    return std::array<double, 4>{d, u, v, p};  // gamma - 1 = 1
  };
  // Plateau states at t = 0.1 (x relative to the interface at 0.5) from the exact solution of
  // Brio & Wu 1988 (JCP 75, 400, figure 2; the regular solution of Ryu & Jones 1995, ApJ 442,
  // 228, test 5A), as tabulated for SWIFT's Brio-Wu example: {x, rho, u, v, p, tolerance}.
  struct Plateau {
    double x, rho, u, v, p, tol;
  };
  for (const Plateau& s : {Plateau{-0.055, 0.67623, 0.63721, -0.23345, 0.447, 0.03},
                           Plateau{0.03, 0.6962, 0.600, -1.584, 0.5160, 0.01},
                           Plateau{0.10, 0.2352, 0.600, -1.584, 0.5160, 0.01},
                           Plateau{0.24, 0.117, -0.24, -0.166, 0.0876, 0.03}}) {
    const auto w = at(0.5 + s.x);
    EXPECT_NEAR(w[0], s.rho, s.tol * std::abs(s.rho)) << "rho at " << s.x;
    EXPECT_NEAR(w[1], s.u, s.tol * std::abs(s.u)) << "u at " << s.x;
    EXPECT_NEAR(w[2], s.v, s.tol * std::abs(s.v)) << "v at " << s.x;
    EXPECT_NEAR(w[3], s.p, s.tol * std::abs(s.p)) << "p at " << s.x;
  }
  // Wave positions: the fast rarefaction heads move at the fast speeds of the initial states
  // (exact: 0.5 -+ c_f t); the contact at u* t = 0.06 and the slow shock at 0.147 (the same
  // table), each the density's half-way crossing.
  auto crossing = [&](double level, double from, double to) {
    for (int i = static_cast<int>(from * c.nx); i < static_cast<int>(to * c.nx); ++i) {
      const double a = rho[i * c.ny], b = rho[(i + 1) * c.ny];
      if ((a - level) * (b - level) <= 0.0) return (i + 1.0) / c.nx;  // face between i, i + 1
    }
    return -1.0;
  };
  // c_f^2 = (a^2 + b^2 + sqrt((a^2 + b^2)^2 - 4 a^2 b_x^2)) / 2; left a^2 = 2, b^2 = 1.5625,
  // b_x^2 = 0.5625; right a^2 = 1.6, b^2 = 12.5, b_x^2 = 4.5.
  const double t = 0.1;
  const double cf_l = std::sqrt(0.5 * (3.5625 + std::sqrt(3.5625 * 3.5625 - 4.0 * 2.0 * 0.5625)));
  const double cf_r = std::sqrt(0.5 * (14.1 + std::sqrt(14.1 * 14.1 - 4.0 * 1.6 * 4.5)));
  EXPECT_NEAR(crossing(0.999, 0.2, 0.45), 0.5 - cf_l * t, 0.01);
  EXPECT_NEAR(crossing(0.5 * (0.6962 + 0.2352), 0.5, 0.6), 0.56, 0.004);
  EXPECT_NEAR(crossing(0.5 * (0.2352 + 0.117), 0.6, 0.7), 0.647, 0.01);
  EXPECT_NEAR(crossing(0.1245, 0.8, 0.95), 0.5 + cf_r * t, 0.01);
}

TEST(Mhd2d, FieldLoopKeepsItsEnergyAndADivergenceBound) {
  Mhd2dConfig c;
  c.problem = "field_loop";
  c.nx = c.ny = 64;
  c.n_outputs = 1;
  c.t_end = 1.0;  // one crossing: the loop is back where it started
  Mhd2d sim(c, MPI_COMM_WORLD);
  auto magnetic = [&] {
    const auto bx = sim.owned_values(mhd::kBx), by = sim.owned_values(mhd::kBy);
    double e = 0.0;
    for (std::size_t k = 0; k < bx.size(); ++k) e += 0.5 * (bx[k] * bx[k] + by[k] * by[k]);
    return e;
  };
  const double e0 = magnetic(), div0 = sim.relative_divergence();
  sim.advance_to(1.0);
  const double e1 = magnetic(), div1 = sim.relative_divergence();
  std::printf("field loop 64^2, t = 1: magnetic energy %.4f of initial, divergence %.3e -> %.3e\n",
              e1 / e0, div0, div1);
  // Athena's CT keeps ~0.9 of the energy at this resolution; GLM with PLM is close to it.
  EXPECT_GT(e1 / e0, 0.7);
  EXPECT_LT(e1 / e0, 1.0);
  EXPECT_LT(div1, 0.2);
}

TEST(Mhd2d, NonPositivePressureStopsTheRunNamingTheCell) {
  Mhd2dConfig c = orszag_tang(16);
  Mhd2d sim(c, MPI_COMM_WORLD);
  sim.advance_to(0.01);
  const long steps = sim.steps();
  // Drain the energy of one owned cell (ghost offset 2): its pressure turns negative.
  auto u = sim.conserved();
  Kokkos::deep_copy(Kokkos::subview(u, int{mhd::kEnergy}, 3 + 2, 11 + 2), 0.0);
  try {
    sim.step();
    FAIL() << "no error";
  } catch (const surge::core::NumericalError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("not positive in 1 cell, first at cell (i, j) = (3, 11)"), std::string::npos)
        << m;
    EXPECT_NE(m.find("t = 0.01,"), std::string::npos) << m;
    EXPECT_NE(m.find("step " + std::to_string(steps + 1)), std::string::npos) << m;
  }
}

namespace {
std::string config_error(const std::string& yaml) {
  try {
    const auto c = surge::core::read_config<Mhd2dConfig>(YAML::Load(yaml), {});
    Mhd2d sim(c, MPI_COMM_WORLD);
  } catch (const surge::core::ConfigError& e) {
    return e.message();
  }
  return "no error";
}
}  // namespace

TEST(Mhd2d, BadConfigurationsAreConfigErrors) {
  EXPECT_NE(config_error("{problem: blast}").find("'problem' must be one of"), std::string::npos);
  EXPECT_NE(config_error("{gamma: 1}").find("'gamma' must be 0 or > 1, got 1"), std::string::npos);
  EXPECT_NE(config_error("{cfl: 0.8}").find("'cfl' must be in (0, 0.5], got 0.8"),
            std::string::npos);
  EXPECT_NE(config_error("{riemann_solver: roe}").find("'riemann_solver' must be one of"),
            std::string::npos);
  EXPECT_NE(config_error("{nx: 3}").find("'nx' must be in [4, 1048576], got 3"), std::string::npos);
  EXPECT_NE(config_error("{bogus: 1}").find("unknown key 'bogus'"), std::string::npos);
  EXPECT_EQ(config_error("{problem: brio_wu, nx: 16, ny: 4}"), "no error");
}

// The Well layout of an mhd2d member: scalar fields in t0_fields (1, T, nx, ny), the in-plane
// velocity and magnetic field in t1_fields (1, T, nx, ny, 2), cell-centre coordinates, the
// initial state as frame 0 and periodic boundaries as The Well's PERIODIC.
TEST(Mhd2d, WellFileHoldsScalarAndVectorFields) {
  const std::string path = std::string(SURGE_BINARY_DIR) + "/mhd2d_well.h5";
  std::filesystem::remove(path);
  const YAML::Node config =
      YAML::Load("{nx: 12, ny: 8, n_outputs: 2, t_end: 0.02, write_z_components: true}");
  auto solver = surge::solvers::solver_registry().create({"mhd2d", config}, {}, MPI_COMM_WORLD);
  std::vector<float> initial_velocity, initial_pressure;
  {
    auto fresh = surge::solvers::solver_registry().create({"mhd2d", config}, {}, MPI_COMM_WORLD);
    fresh->copy_field("velocity", initial_velocity);
    fresh->copy_field("pressure", initial_pressure);
  }
  surge::core::Logger log("test");
  std::vector<float> velocity, density;
  {
    surge::solvers::WellWriter writer(path, *solver);
    (void)surge::solvers::run_member(*solver, {&writer}, log);
    solver->copy_field("velocity", velocity);
    solver->copy_field("density", density);
  }
  ASSERT_EQ(velocity.size(), 12u * 8u * 2u);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  auto dims_of = [&](const char* name) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    EXPECT_GE(d, 0) << name;
    hid_t space = H5Dget_space(d);
    std::vector<hsize_t> dims(static_cast<std::size_t>(H5Sget_simple_extent_ndims(space)));
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    SURGE_HDF5_CHECK(H5Sclose(space));
    SURGE_HDF5_CHECK(H5Dclose(d));
    return dims;
  };
  // n_outputs + 1 frames: t = 0, 0.01, 0.02.
  EXPECT_EQ(dims_of("dimensions/time"), (std::vector<hsize_t>{3}));
  EXPECT_EQ(dims_of("t0_fields/density"), (std::vector<hsize_t>{1, 3, 12, 8}));
  EXPECT_EQ(dims_of("t0_fields/pressure"), (std::vector<hsize_t>{1, 3, 12, 8}));
  EXPECT_EQ(dims_of("t0_fields/magnetic_field_z"), (std::vector<hsize_t>{1, 3, 12, 8}));
  EXPECT_EQ(dims_of("t1_fields/velocity"), (std::vector<hsize_t>{1, 3, 12, 8, 2}));
  EXPECT_EQ(dims_of("t1_fields/magnetic_field"), (std::vector<hsize_t>{1, 3, 12, 8, 2}));
  std::vector<float> all(3 * 12 * 8 * 2), pressure(3 * 12 * 8), x(12), time(3);
  hid_t d = H5Dopen2(f, "t1_fields/velocity", H5P_DEFAULT);
  ASSERT_GE(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, all.data()), 0);
  SURGE_HDF5_CHECK(H5Dclose(d));
  d = H5Dopen2(f, "t0_fields/pressure", H5P_DEFAULT);
  ASSERT_GE(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, pressure.data()), 0);
  SURGE_HDF5_CHECK(H5Dclose(d));
  d = H5Dopen2(f, "dimensions/x", H5P_DEFAULT);
  ASSERT_GE(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x.data()), 0);
  SURGE_HDF5_CHECK(H5Dclose(d));
  d = H5Dopen2(f, "dimensions/time", H5P_DEFAULT);
  ASSERT_GE(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, time.data()), 0);
  SURGE_HDF5_CHECK(H5Dclose(d));
  for (const char* group : {"boundary_conditions/x_periodic", "boundary_conditions/y_periodic"}) {
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    ASSERT_GE(g, 0) << group;
    EXPECT_EQ(surge::core::h5::read_attribute_string(g, "bc_type"), "PERIODIC");
    SURGE_HDF5_CHECK(H5Gclose(g));
  }
  SURGE_HDF5_CHECK(H5Fclose(f));
  EXPECT_EQ(time[0], 0.0f);
  EXPECT_FLOAT_EQ(time[2], 0.02f);
  // Frame 0 is the initial condition exactly; the last frame is the final state; components
  // last (vx, vy of cell 0 first).
  ASSERT_EQ(initial_velocity.size(), velocity.size());
  for (std::size_t k = 0; k < velocity.size(); ++k) EXPECT_EQ(all[k], initial_velocity[k]) << k;
  ASSERT_EQ(initial_pressure.size(), 12u * 8u);
  for (std::size_t k = 0; k < initial_pressure.size(); ++k)
    EXPECT_EQ(pressure[k], initial_pressure[k]) << k;
  for (std::size_t k = 0; k < velocity.size(); ++k)
    EXPECT_EQ(all[2 * velocity.size() + k], velocity[k]);
  EXPECT_FLOAT_EQ(x[0], 0.5f / 12.0f);
  EXPECT_FLOAT_EQ(x[11], 11.5f / 12.0f);
  std::filesystem::remove(path);
}
