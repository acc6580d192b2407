// mhd2d gives the same state on 1, 2 and 4 ranks (run under mpirun -np 4), bit for bit: the
// only global operation inside a step is the CFL maximum, which is exact, and every cell's
// update reads the same neighbours in the same order whatever the decomposition.
#include <gtest/gtest.h>
#include <mpi.h>

#include "surge/core/mpi.hpp"
#include "surge/solvers/mhd2d.hpp"

using surge::solvers::Mhd2d;
using surge::solvers::Mhd2dConfig;

namespace {

// Runs the case on the first `ranks` world ranks and returns every conservative variable of
// the global grid on world rank 0 (variable-major, then row-major); other ranks get {}.
std::vector<double> run_on(int ranks, const Mhd2dConfig& config) {
  const int world_rank = surge::core::comm_rank(MPI_COMM_WORLD);
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Comm_split(MPI_COMM_WORLD, world_rank < ranks ? 0 : MPI_UNDEFINED, world_rank, &comm);
  std::vector<double> global;
  if (comm != MPI_COMM_NULL) {
    Mhd2d sim(config, comm);
    sim.advance_to(sim.t_end());
    const auto& d = sim.decomposition();
    const int header[4] = {d.offset_x(), d.offset_y(), d.local_nx(), d.local_ny()};
    const int size = d.size();
    std::vector<int> headers(4 * static_cast<std::size_t>(size));
    MPI_Gather(header, 4, MPI_INT, headers.data(), 4, MPI_INT, 0, d.comm());
    std::vector<int> counts(size), displs(size);
    for (int r = 0; r < size; ++r) {
      counts[r] = headers[4 * r + 2] * headers[4 * r + 3];
      displs[r] = r == 0 ? 0 : displs[r - 1] + counts[r - 1];
    }
    const std::size_t cells = static_cast<std::size_t>(config.nx) * config.ny;
    if (d.rank() == 0) global.resize(cells * Mhd2d::kVars);
    for (int v = 0; v < Mhd2d::kVars; ++v) {
      const auto local = sim.owned_values(v);
      std::vector<double> gathered(cells);
      MPI_Gatherv(local.data(), static_cast<int>(local.size()), MPI_DOUBLE, gathered.data(),
                  counts.data(), displs.data(), MPI_DOUBLE, 0, d.comm());
      if (d.rank() != 0) continue;
      for (int r = 0; r < size; ++r) {
        const int ox = headers[4 * r], oy = headers[4 * r + 1], lx = headers[4 * r + 2],
                  ly = headers[4 * r + 3];
        for (int i = 0; i < lx; ++i)
          for (int j = 0; j < ly; ++j)
            global[v * cells + static_cast<std::size_t>(ox + i) * config.ny + oy + j] =
                gathered[static_cast<std::size_t>(displs[r] + i * ly + j)];
      }
    }
    MPI_Comm_free(&comm);
  }
  return global;
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
