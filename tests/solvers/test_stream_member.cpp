// A heat2d member on 2 ranks streams its frames (the initial state as step 0, then its
// outputs) to a receiver on rank 0 while writing its Well file: every frame arrives once,
// whole, bit-equal to the file's frame, with the member's parameters, and the counts balance.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstring>
#include <map>

#include "surge/core/error.hpp"
#include "surge/core/hdf5.hpp"
#include "surge/core/mpi.hpp"
#include "surge/solvers/member.hpp"
#include "surge/solvers/solver.hpp"
#include "surge/solvers/stream_sink.hpp"
#include "surge/streaming/front.hpp"
#include "surge/streaming/receiver.hpp"

namespace st = surge::streaming;

TEST(StreamMember, EveryFrameArrivesOnceEqualToTheFile) {
  const int rank = surge::core::comm_rank(MPI_COMM_WORLD);
  st::ReceiverConfig config;
  config.experiment = "heat";
  std::unique_ptr<st::Receiver> receiver;
  std::unique_ptr<st::Front> front;
  char endpoint[256] = {0};
  if (rank == 0) {
    const std::uint64_t key = st::make_admission_key();
    receiver = std::make_unique<st::Receiver>(config, key);
    front =
        std::make_unique<st::Front>(config, key, std::vector<std::string>{receiver->endpoint()});
    std::snprintf(endpoint, sizeof endpoint, "%s", front->endpoint().c_str());
  }
  SURGE_MPI_CHECK(MPI_Bcast(endpoint, sizeof endpoint, MPI_CHAR, 0, MPI_COMM_WORLD));

  const std::string path = std::string(SURGE_BINARY_DIR) + "/stream_member.h5";
  auto solver = surge::solvers::solver_registry().create(
      {"heat2d", YAML::Load("{nx: 21, ny: 17, n_outputs: 6, t_end: 0.03, b1: 250, alpha: 0.8}")},
      {}, MPI_COMM_WORLD);
  {
    st::ClientConfig client;
    client.front_endpoint = endpoint;
    surge::solvers::WellWriter writer(path, *solver);
    surge::solvers::StreamSink sink(client, "heat", 42, *solver);
    (void)surge::solvers::run_member(*solver, {&writer, &sink}, surge::core::Logger("test"));
    EXPECT_EQ(sink.blocks_sent(), 7u);  // one block per frame on each rank
  }

  if (rank == 0) {
    std::map<std::int64_t, st::Field> fields;
    for (;;) {
      auto d = receiver->pop(std::chrono::seconds(60));
      ASSERT_TRUE(d) << "timed out waiting for the member";
      if (d->kind == st::DeliveryKind::simulation_end) break;
      EXPECT_EQ(d->field.simulation, 42u);
      EXPECT_TRUE(fields.emplace(d->field.step, d->field).second) << "step twice";
    }
    ASSERT_EQ(fields.size(), 7u);
    auto file = surge::core::h5::open_file(path);
    std::vector<hsize_t> dims;
    const auto frames = surge::core::h5::read_dataset<float>(file, "t0_fields/temperature", &dims);
    ASSERT_EQ(dims, (std::vector<hsize_t>{1, 7, 21, 17}));
    for (const auto& [step, f] : fields) {
      EXPECT_EQ(f.name, "temperature");
      EXPECT_EQ(f.shape, (std::vector<std::uint64_t>{21, 17}));
      EXPECT_EQ(f.parameters, (std::vector<double>{100, 250, 300, 200, 400, 0.8}));
      EXPECT_NEAR(f.time, 0.005 * step, 1e-12);
      ASSERT_EQ(f.dtype, st::DType::float32);
      const auto values = f.data.view<float>();
      ASSERT_EQ(values.size(), 21u * 17u);
      EXPECT_EQ(std::memcmp(values.data(), frames.data() + step * 21 * 17, 21 * 17 * sizeof(float)),
                0)
          << "step " << step;
    }
    const auto stats = receiver->stats();
    EXPECT_EQ(stats.blocks, 14u);
    EXPECT_EQ(stats.rejected_total(), 0u);
    std::remove(path.c_str());
  }
  SURGE_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
}
