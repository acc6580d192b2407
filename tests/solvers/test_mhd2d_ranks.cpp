// mhd2d gives the same state on 1, 2 and 4 ranks (run under mpirun -np 4), bit for bit: the
// only global operation inside a step is the CFL maximum, which is exact, and every cell's
// update reads the same neighbours in the same order whatever the decomposition.
#include <gtest/gtest.h>
#include <mpi.h>

#include "rank_runs.hpp"
#include "surge/core/mpi.hpp"
#include "surge/solvers/mhd2d.hpp"

using surge::solvers::Mhd2d;
using surge::solvers::Mhd2dConfig;

namespace {

// Every conservative variable of the global grid after the case ran on the first `ranks`
// world ranks, on world rank 0 (variable-major, then row-major); other ranks get {}.
std::vector<double> run_on(int ranks, const Mhd2dConfig& config) {
  return surge::test::on_first_ranks(ranks, [&](MPI_Comm comm) {
    Mhd2d sim(config, comm);
    sim.advance_to(sim.t_end());
    std::vector<double> all;
    for (int v = 0; v < Mhd2d::kVars; ++v) {
      const auto global = surge::test::gather_global(sim.decomposition(), sim.owned_values(v));
      all.insert(all.end(), global.begin(), global.end());
    }
    return all;
  });
}

void expect_rank_independent(const Mhd2dConfig& c) {
  const auto one = run_on(1, c), two = run_on(2, c), four = run_on(4, c);
  if (surge::core::comm_rank(MPI_COMM_WORLD) == 0) {
    ASSERT_EQ(one.size(), static_cast<std::size_t>(c.nx) * c.ny * Mhd2d::kVars);
    EXPECT_EQ(one, two);
    EXPECT_EQ(one, four);
  }
}

}  // namespace

TEST(Mhd2dRanks, OrszagTangIsBitwiseIndependentOfRanks) {
  ASSERT_EQ(surge::core::comm_size(MPI_COMM_WORLD), 4) << "run under mpirun -np 4";
  Mhd2dConfig c;
  c.problem = "orszag_tang";
  c.nx = 37;  // uneven blocks on every split; periodic neighbours across ranks
  c.ny = 29;
  c.t_end = 0.1;
  c.ot_phase = 0.3;
  expect_rank_independent(c);
}

TEST(Mhd2dRanks, BrioWuWithOutflowAndHlleRk2MinmodIsBitwiseIndependentOfRanks) {
  Mhd2dConfig c;
  c.problem = "brio_wu";
  c.nx = 61;
  c.ny = 6;
  c.t_end = 0.05;
  c.riemann_solver = "hlle";
  c.integrator = "rk2";
  c.limiter = "minmod";
  c.boundary_y = "outflow";
  expect_rank_independent(c);
}
