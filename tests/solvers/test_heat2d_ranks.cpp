// heat2d gives the same field on 1, 2 and 4 ranks (run under mpirun -np 4): bit for bit for
// the explicit scheme and for CG with exact-fold sums (the default), to 1e-12 relative for
// CG with plain sums, whose order changes with the ranks.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>

#include "surge/core/mpi.hpp"
#include "surge/solvers/heat2d.hpp"

using surge::solvers::Heat2d;
using surge::solvers::Heat2dConfig;

namespace {

// Runs the case on the first `ranks` world ranks and returns the global field on world
// rank 0 (row-major, y fastest); other ranks return an empty vector.
std::vector<double> run_on(int ranks, const Heat2dConfig& config) {
  const int world_rank = surge::core::comm_rank(MPI_COMM_WORLD);
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Comm_split(MPI_COMM_WORLD, world_rank < ranks ? 0 : MPI_UNDEFINED, world_rank, &comm);
  std::vector<double> global;
  if (comm != MPI_COMM_NULL) {
    Heat2d heat(config, comm);
    heat.advance_to(config.t_end);
    const auto& d = heat.decomposition();
    const auto local = heat.owned_values();
    const int header[4] = {d.offset_x(), d.offset_y(), d.local_nx(), d.local_ny()};
    const int size = d.size();
    std::vector<int> headers(4 * static_cast<std::size_t>(size));
    MPI_Gather(header, 4, MPI_INT, headers.data(), 4, MPI_INT, 0, d.comm());
    std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
    for (int r = 0; r < size; ++r) {
      counts[r] = headers[4 * r + 2] * headers[4 * r + 3];
      displs[r] = r == 0 ? 0 : displs[r - 1] + counts[r - 1];
    }
    std::vector<double> gathered(static_cast<std::size_t>(config.nx) * config.ny);
    MPI_Gatherv(local.data(), static_cast<int>(local.size()), MPI_DOUBLE, gathered.data(),
                counts.data(), displs.data(), MPI_DOUBLE, 0, d.comm());
    if (d.rank() == 0) {
      global.resize(gathered.size());
      for (int r = 0; r < size; ++r) {
        const int ox = headers[4 * r], oy = headers[4 * r + 1], lx = headers[4 * r + 2],
                  ly = headers[4 * r + 3];
        for (int i = 0; i < lx; ++i)
          for (int j = 0; j < ly; ++j)
            global[static_cast<std::size_t>(ox + i) * config.ny + oy + j] =
                gathered[static_cast<std::size_t>(displs[r] + i * ly + j)];
      }
    }
    MPI_Comm_free(&comm);
  }
  return global;
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
