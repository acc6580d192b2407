// Data-parallel training under mpirun -np 2: each rank trains on its own buffer, gradients
// are averaged with MPI_Allreduce, and the ranks' weights stay identical bit for bit, also
// when one rank's buffer runs dry first. The averaged step equals (to rounding) one step of a
// single trainer on the union of the ranks' batches.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstring>

#include "helpers.hpp"
#include "surge/core/error.hpp"

using namespace surge;
using namespace surge::surrogates;
using namespace surge::surrogates::testing;

namespace {

// Rank 0's weights, broadcast, compared bit for bit on every rank.
bool same_on_every_rank(const std::vector<float>& mine) {
  std::vector<float> root = mine;
  SURGE_MPI_CHECK(
      MPI_Bcast(root.data(), static_cast<int>(root.size()), MPI_FLOAT, 0, MPI_COMM_WORLD));
  int same = std::memcmp(root.data(), mine.data(), mine.size() * sizeof(float)) == 0;
  SURGE_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &same, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
  return same == 1;
}

}  // namespace

TEST(DataParallel, RanksStayBitIdenticalWithUnevenBuffers) {
  int rank = 0, size = 1;
  SURGE_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  SURGE_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
  ASSERT_EQ(size, 2);
  const HeatMap map(6);
  // Rank 0 holds 12 batches of 8, rank 1 only 7 and a half: after that rank 1 contributes
  // nothing and rank 0 carries on alone; both still take the same steps.
  const int count = rank == 0 ? 96 : 60;
  const auto samples = heat_samples(map, count, 100 + static_cast<std::uint64_t>(rank), true);
  TrainingConfig c = quick_training(100);
  c.grad_clip = 1.0;
  c.schedule.type = "step";
  c.schedule.step_size = 4;
  c.allreduce_bucket_mb = 0.001;  // many buckets
  Trainer trainer(mlp({16, 16}), c, heat_description(6, true), MPI_COMM_WORLD);
  const auto initial = trainer.flat_parameters();
  EXPECT_TRUE(same_on_every_rank(initial));
  auto buffer = filled_buffer(samples, 8);
  EXPECT_EQ(trainer.train(*buffer, {}), StopReason::kExhausted);
  EXPECT_EQ(trainer.batches(), 12);
  const auto& h = trainer.history().training;
  ASSERT_EQ(h.size(), 12u);
  EXPECT_EQ(h[0].samples, 16);
  EXPECT_EQ(h[7].samples, 8 + 4);
  EXPECT_EQ(h[8].samples, 8);
  const auto trained = trainer.flat_parameters();
  EXPECT_NE(std::memcmp(initial.data(), trained.data(), initial.size() * sizeof(float)), 0);
  EXPECT_TRUE(same_on_every_rank(trained));
  const std::vector<double> mean_d = trainer.output_mean();
  std::vector<float> mean(mean_d.begin(), mean_d.end());
  EXPECT_TRUE(same_on_every_rank(mean));
  std::vector<float> losses;
  for (const auto& r : h) losses.push_back(static_cast<float>(r.loss));
  EXPECT_TRUE(same_on_every_rank(losses));
}

TEST(DataParallel, AveragedGradientIsTheGradientOfTheUnionBatch) {
  int rank = 0;
  SURGE_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  const HeatMap map(6);
  // Every rank can rebuild both ranks' samples; rank r trains on part r in parallel.
  const auto part0 = heat_samples(map, 8, 200, true);
  const auto part1 = heat_samples(map, 8, 201, true);
  TrainingConfig c = quick_training(1);
  c.optimizer.type = "sgd";
  c.optimizer.momentum = 0.0;
  c.optimizer.lr = 0.05;
  const IoDescription io = heat_description(6, true);
  Trainer parallel(mlp({16}), c, io, MPI_COMM_WORLD);
  auto mine = filled_buffer(rank == 0 ? part0 : part1, 8);
  (void)parallel.train(*mine, {});

  std::vector<reservoir::Sample> both = part0;
  both.insert(both.end(), part1.begin(), part1.end());
  Trainer serial(mlp({16}), c, io, MPI_COMM_SELF);
  auto union_buffer = filled_buffer(both, 16);
  (void)serial.train(*union_buffer, {});

  const auto a = parallel.flat_parameters(), b = serial.flat_parameters();
  ASSERT_EQ(a.size(), b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - b[i]));
  EXPECT_LT(worst, 1e-6);
  EXPECT_NEAR(parallel.output_mean()[0], serial.output_mean()[0], 1e-9 * serial.output_mean()[0]);
}
