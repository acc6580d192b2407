// heat2d verification on one rank: exact discrete solutions of both schemes, spatial order
// against the Fourier series, temporal order of backward Euler, the four boundaries, and
// the errors a user sees for bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "heat2d_exact.hpp"
#include "surge/core/config.hpp"
#include "surge/solvers/heat2d.hpp"

using surge::solvers::Heat2d;
using surge::solvers::Heat2dConfig;
using surge::solvers::Heat2dScheme;

namespace {

Heat2dConfig uniform_case(int nx, int ny, const char* scheme, double t_end) {
  Heat2dConfig c;
  c.nx = nx;
  c.ny = ny;
  c.alpha = 0.7;
  c.ic = 3.0;
  c.b1 = c.b2 = c.b3 = c.b4 = 1.0;
  c.t_end = t_end;
  c.n_outputs = 1;
  c.scheme = scheme;
  c.cg_tolerance = 1e-13;
  return c;
}

double max_error(const std::vector<double>& a, const std::vector<double>& b) {
  double e = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k) e = std::max(e, std::abs(a[k] - b[k]));
  return e;
}

}  // namespace

TEST(Heat2d, ExplicitEqualsExactDiscreteSolution) {
  // FTCS multiplies each discrete sine mode by (1 - alpha lambda dt) per step.
  Heat2d heat(uniform_case(17, 13, "explicit", 0.01), MPI_COMM_WORLD);
  ASSERT_EQ(heat.scheme(), Heat2dScheme::kExplicit);
  heat.advance_to(0.01);
  const double dt = heat.dt();
  const long k = heat.steps();
  EXPECT_NEAR(k * dt, 0.01, 1e-15);
  const auto exact = surge::test::heat_discrete(17, 13, 0.7, 3.0, 1.0,
                                                [&](double z) { return std::pow(1 - z * dt, k); });
  EXPECT_LT(max_error(heat.owned_values(), exact), 1e-12);
}

TEST(Heat2d, ImplicitEqualsExactDiscreteSolution) {
  // Backward Euler multiplies each mode by 1 / (1 + alpha lambda dt) per step.
  Heat2dConfig c = uniform_case(17, 13, "implicit", 0.02);
  c.dt = 0.005;
  Heat2d heat(c, MPI_COMM_WORLD);
  heat.advance_to(0.02);
  ASSERT_EQ(heat.steps(), 4);
  const auto exact = surge::test::heat_discrete(
      17, 13, 0.7, 3.0, 1.0, [](double z) { return std::pow(1 + z * 0.005, -4); });
  EXPECT_LT(max_error(heat.owned_values(), exact), 1e-10);
  EXPECT_GT(heat.total_cg_iterations(), 0);
}

TEST(Heat2d, SpatialOrderAgainstFourierSeries) {
  // Explicit steps shrink with h^2, so the whole error is O(h^2).
  const double t = 0.05, alpha = 0.7;
  std::vector<double> errors;
  for (int n : {11, 21, 41}) {
    Heat2dConfig c = uniform_case(n, n, "explicit", t);
    Heat2d heat(c, MPI_COMM_WORLD);
    heat.advance_to(t);
    const auto u = heat.owned_values();
    double e = 0.0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        const double x = static_cast<double>(i) / (n - 1), y = static_cast<double>(j) / (n - 1);
        const double exact = (i == 0 || j == 0 || i == n - 1 || j == n - 1)
                                 ? 1.0
                                 : surge::test::heat_series(x, y, t, alpha, 3.0, 1.0);
        e = std::max(e, std::abs(u[static_cast<std::size_t>(i) * n + j] - exact));
      }
    errors.push_back(e);
  }
  for (std::size_t k = 1; k < errors.size(); ++k) {
    const double order = std::log2(errors[k - 1] / errors[k]);
    std::printf("spatial order %zu: %.3f (max error %.3e -> %.3e)\n", k, order, errors[k - 1],
                errors[k]);
    EXPECT_GE(order, 1.9) << "errors " << errors[k - 1] << " -> " << errors[k];
  }
  EXPECT_LT(errors.back(), 2e-3);
}

TEST(Heat2d, ImplicitTemporalOrder) {
  // Against the exact semi-discrete flow exp(-alpha lambda t), so only the time error counts.
  const int n = 21;
  const double t = 0.05;
  const auto exact =
      surge::test::heat_discrete(n, n, 0.7, 3.0, 1.0, [&](double z) { return std::exp(-z * t); });
  std::vector<double> errors;
  for (int steps : {4, 8, 16}) {
    Heat2dConfig c = uniform_case(n, n, "implicit", t);
    c.dt = t / steps;
    Heat2d heat(c, MPI_COMM_WORLD);
    heat.advance_to(t);
    ASSERT_EQ(heat.steps(), steps);
    errors.push_back(max_error(heat.owned_values(), exact));
  }
  for (std::size_t k = 1; k < errors.size(); ++k) {
    const double order = std::log2(errors[k - 1] / errors[k]);
    std::printf("temporal order %zu: %.3f (max error %.3e -> %.3e)\n", k, order, errors[k - 1],
                errors[k]);
    EXPECT_GE(order, 0.9) << "errors " << errors[k - 1] << " -> " << errors[k];
    EXPECT_LE(order, 1.2);
  }
}

TEST(Heat2d, EachBoundaryHoldsItsValueAndReachesTheCentreEqually) {
  // At steady state the discrete harmonic field of a square grid is symmetric under
  // rotation, so one hot side alone gives a centre value of exactly 1/4 (superposition of
  // the four rotations is the constant 1).
  const int n = 21;
  double centre[4];
  for (int side = 0; side < 4; ++side) {
    Heat2dConfig c;
    c.nx = c.ny = n;
    c.ic = 0.0;
    c.b1 = side == 0;
    c.b2 = side == 1;
    c.b3 = side == 2;
    c.b4 = side == 3;
    c.t_end = 5.0;
    c.n_outputs = 1;
    c.dt = 0.25;
    c.cg_tolerance = 1e-14;
    Heat2d heat(c, MPI_COMM_WORLD);
    heat.advance_to(c.t_end);
    const auto u = heat.owned_values();
    centre[side] = u[static_cast<std::size_t>(n / 2) * n + n / 2];
    // The boundary nodes (corners excepted) hold the boundary values.
    for (int k = 1; k < n - 1; ++k) {
      EXPECT_EQ(u[static_cast<std::size_t>(0) * n + k], c.b1);
      EXPECT_EQ(u[static_cast<std::size_t>(n - 1) * n + k], c.b2);
      EXPECT_EQ(u[static_cast<std::size_t>(k) * n + 0], c.b3);
      EXPECT_EQ(u[static_cast<std::size_t>(k) * n + n - 1], c.b4);
    }
  }
  for (double v : centre) EXPECT_NEAR(v, 0.25, 1e-9);
}

TEST(Heat2d, AutoSchemeFollowsTheStabilityLimit) {
  Heat2dConfig c;  // defaults: one step per output interval, far above the explicit limit
  Heat2d big(c, MPI_COMM_WORLD);
  EXPECT_EQ(big.scheme(), Heat2dScheme::kImplicit);
  c.dt = 0.5 * big.stable_dt();
  Heat2d small(c, MPI_COMM_WORLD);
  EXPECT_EQ(small.scheme(), Heat2dScheme::kExplicit);
  EXPECT_LE(small.dt(), c.dt);
  c.scheme = "explicit";
  c.dt = 0.0;
  Heat2d forced(c, MPI_COMM_WORLD);
  EXPECT_LE(forced.dt(), c.cfl_safety * forced.stable_dt());
}

TEST(Heat2d, CgFailureIsANumericalError) {
  Heat2dConfig c;
  c.scheme = "implicit";
  c.cg_max_iterations = 2;
  Heat2d heat(c, MPI_COMM_WORLD);
  try {
    heat.step();
    FAIL() << "no error";
  } catch (const surge::core::NumericalError& e) {
    EXPECT_NE(e.message().find("CG did not converge in 2 iterations"), std::string::npos)
        << e.message();
  }
}

TEST(Heat2d, BadConfigurationNamesTheKey) {
  auto error = [](const std::string& yaml) {
    try {
      (void)surge::core::read_config<Heat2dConfig>(YAML::Load(yaml), {"member.yaml", {}});
    } catch (const surge::core::ConfigError& e) {
      return e.message();
    }
    return std::string("no error");
  };
  EXPECT_EQ(error("alpha: 0"), "member.yaml:1: 'alpha' must be > 0, got 0");
  EXPECT_EQ(error("nx: 3"), "member.yaml:1: 'nx' must be in [4, 1048576], got 3");
  EXPECT_EQ(error("t_end: -1"), "member.yaml:1: 't_end' must be > 0, got -1");
  EXPECT_EQ(error("scheme: rk4"),
            "member.yaml:1: 'scheme' must be one of auto, explicit, implicit, got rk4");
  EXPECT_EQ(error("ic: 1\nbeta: 2"),
            "member.yaml:2: unknown key 'beta' (known keys: ic, b1, b2, b3, b4, alpha, nx, ny, "
            "t_end, n_outputs, scheme, dt, cfl_safety, cg_tolerance, cg_max_iterations, "
            "cg_reproducible)");
  EXPECT_EQ(error("{}"), "no error");
}
