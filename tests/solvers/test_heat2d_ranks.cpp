// heat2d gives the same field on 1, 2 and 4 ranks (run under mpirun -np 4): bit for bit for
// the explicit scheme and for CG with exact-fold sums (the default), to 1e-12 relative for
// CG with plain sums, whose order changes with the ranks.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>

#include "rank_runs.hpp"
#include "surge/core/mpi.hpp"
#include "surge/solvers/heat2d.hpp"

using surge::solvers::Heat2d;
using surge::solvers::Heat2dConfig;

namespace {

// The final temperature of the case run on the first `ranks` world ranks, on world rank 0.
std::vector<double> run_on(int ranks, const Heat2dConfig& config) {
  return surge::test::on_first_ranks(ranks, [&](MPI_Comm comm) {
    Heat2d heat(config, comm);
    heat.advance_to(config.t_end);
    return surge::test::gather_global(heat.decomposition(), heat.owned_values());
  });
}

Heat2dConfig odd_case(const char* scheme) {
  Heat2dConfig c;
  c.nx = 37;  // uneven blocks on every split
  c.ny = 23;
  c.t_end = 0.02;
  c.n_outputs = 1;
  c.scheme = scheme;
  c.dt = 0.002;
  c.cg_tolerance = 1e-13;
  return c;
}

}  // namespace

TEST(Heat2dRanks, ExplicitIsBitwiseIndependentOfRanks) {
  ASSERT_EQ(surge::core::comm_size(MPI_COMM_WORLD), 4) << "run under mpirun -np 4";
  const auto c = odd_case("explicit");
  const auto one = run_on(1, c), two = run_on(2, c), four = run_on(4, c);
  if (surge::core::comm_rank(MPI_COMM_WORLD) == 0) {
    ASSERT_EQ(one.size(), static_cast<std::size_t>(37 * 23));
    EXPECT_EQ(one, two);
    EXPECT_EQ(one, four);
  }
}

TEST(Heat2dRanks, ImplicitWithReproducibleSumsIsBitwiseIndependentOfRanks) {
  const auto c = odd_case("implicit");
  ASSERT_TRUE(c.cg_reproducible);
  const auto one = run_on(1, c), two = run_on(2, c), four = run_on(4, c);
  if (surge::core::comm_rank(MPI_COMM_WORLD) == 0) {
    ASSERT_EQ(one.size(), static_cast<std::size_t>(37 * 23));
    EXPECT_EQ(one, two);
    EXPECT_EQ(one, four);
  }
}

TEST(Heat2dRanks, ImplicitWithPlainSumsAgreesTo1e12) {
  auto c = odd_case("implicit");
  c.cg_reproducible = false;
  const auto one = run_on(1, c), two = run_on(2, c), four = run_on(4, c);
  if (surge::core::comm_rank(MPI_COMM_WORLD) == 0) {
    ASSERT_EQ(one.size(), static_cast<std::size_t>(37 * 23));
    double worst = 0.0;
    for (std::size_t k = 0; k < one.size(); ++k) {
      worst = std::max(worst, std::abs(two[k] - one[k]) / std::abs(one[k]));
      worst = std::max(worst, std::abs(four[k] - one[k]) / std::abs(one[k]));
    }
    EXPECT_LE(worst, 1e-12);
  }
}
