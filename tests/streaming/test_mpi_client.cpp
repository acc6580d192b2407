// Two MPI ranks form one member; rank 0 also owns the receiver and front. Each rank streams
// its half of a field for 50 steps; rank 0 checks every field bit for bit and the counts.
#include <gtest/gtest.h>
#include <mpi.h>

#include <map>
#include <mutex>

#include "surge/core/error.hpp"
#include "surge/core/mpi.hpp"
#include "surge/streaming/client.hpp"
#include "surge/streaming/front.hpp"
#include "surge/streaming/receiver.hpp"
#include "test_util.hpp"

using namespace surge::streaming;

TEST(StreamingMpi, EachRankIsAClientOfTheReceiverOnRankZero) {
  const int rank = surge::core::comm_rank(MPI_COMM_WORLD);
  const int size = surge::core::comm_size(MPI_COMM_WORLD);
  constexpr std::uint64_t kNy = 12, kNx = 10;
  constexpr int kSteps = 50;
  ReceiverConfig config;
  config.experiment = "mpi";
  std::unique_ptr<Receiver> receiver;
  std::unique_ptr<Front> front;
  char endpoint[256] = {0};
  if (rank == 0) {
    const std::uint64_t key = make_admission_key();
    receiver = std::make_unique<Receiver>(config, key);
    front = std::make_unique<Front>(config, key, std::vector<std::string>{receiver->endpoint()});
    std::snprintf(endpoint, sizeof endpoint, "%s", front->endpoint().c_str());
  }
  SURGE_MPI_CHECK(MPI_Bcast(endpoint, sizeof endpoint, MPI_CHAR, 0, MPI_COMM_WORLD));

  MemberIdentity id;
  id.experiment = "mpi";
  id.simulation = 77;
  id.member_rank = static_cast<std::uint32_t>(rank);
  id.member_size = static_cast<std::uint32_t>(size);
  id.fields = {{"u", {kNy, kNx}}};
  ClientConfig cc;
  cc.front_endpoint = endpoint;
  Client client(cc, id);
  const std::uint64_t rows = kNy / size, row0 = rows * rank;
  for (int step = 0; step < kSteps; ++step) {
    const auto block = test::row_block(77, step, 0, row0, rows, kNx);
    client.send("u", step, 0.1 * step, Span<const double>(block), Block{{row0, 0}, {rows, kNx}});
  }
  client.finish();

  if (rank == 0) {
    std::map<std::int64_t, Field> fields;
    bool ended = false;
    while (!ended) {
      auto d = receiver->pop(std::chrono::seconds(60));
      ASSERT_TRUE(d);
      if (d->kind == DeliveryKind::simulation_end) {
        ended = true;
      } else {
        EXPECT_TRUE(fields.emplace(d->field.step, d->field).second);
      }
    }
    ASSERT_EQ(fields.size(), static_cast<std::size_t>(kSteps));
    for (const auto& [step, f] : fields) {
      EXPECT_TRUE(test::bit_equal(f.data, test::global_field(77, step, 0, kNy, kNx)));
    }
    const IngestStats s = receiver->stats();
    EXPECT_EQ(s.blocks, static_cast<std::uint64_t>(kSteps * size));
    EXPECT_EQ(s.rejected_total(), 0u);
    EXPECT_EQ(s.ends, static_cast<std::uint64_t>(size));
  }
  SURGE_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
}
