// Front, receivers and clients over loopback TCP, the delivery path: concurrent multi-rank
// members, zero-copy sends, duplicate suppression across a relaunch, a slow consumer, and
// several server ranks.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "loopback_support.hpp"

using namespace surge::streaming;
using namespace surge::streaming::test;

TEST(StreamingLoopback, FourTwoRankMembersDeliverEveryFieldBitForBitExactlyOnce) {
  constexpr int kMembers = 4, kRanks = 2, kSteps = 300;
  constexpr std::uint64_t kNy = 16, kNx = 40;  // 5 KiB fields, 2.5 KiB blocks
  Collector got;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(server_config(), key, 0, got.handler());
  Front front(server_config(), key, {receiver.endpoint()});
  std::vector<std::thread> ranks;
  for (int m = 0; m < kMembers; ++m) {
    for (int r = 0; r < kRanks; ++r) {
      // Members 0 and 2 use zero-copy sends (the client config's threshold is 64 KiB, so
      // these small blocks take the copy path inside send_owned as well).
      ranks.emplace_back(run_rank, front.endpoint(), 100 + m, r, kRanks, 0, kSteps, kNy, kNx,
                         m % 2 == 0);
    }
  }
  for (auto& t : ranks) t.join();
  ASSERT_TRUE(got.wait_for_ends(kMembers));
  receiver.stop();
  std::lock_guard<std::mutex> lock(got.mutex);
  ASSERT_EQ(got.fields.size(), static_cast<std::size_t>(kMembers * kSteps * 2));
  EXPECT_EQ(got.duplicates, 0u);
  for (const auto& [k, f] : got.fields) {
    const auto& [sim, field, step] = k;
    ASSERT_TRUE(test::bit_equal(f.data, test::global_field(sim, step, field, kNy, kNx)))
        << "sim " << sim << " field " << field << " step " << step;
    EXPECT_EQ(f.time, 0.5 * step);
    EXPECT_EQ(f.parameters, (std::vector<double>{static_cast<double>(sim), 0.5}));
  }
  const IngestStats s = receiver.stats();
  EXPECT_EQ(s.blocks, static_cast<std::uint64_t>(kMembers * kRanks * kSteps * 2));
  EXPECT_EQ(s.fields, static_cast<std::uint64_t>(kMembers * kSteps * 2));
  EXPECT_EQ(s.declarations, static_cast<std::uint64_t>(kMembers * kRanks));
  EXPECT_EQ(s.ends, static_cast<std::uint64_t>(kMembers * kRanks));
  EXPECT_EQ(s.simulations_ended, static_cast<std::uint64_t>(kMembers));
  EXPECT_EQ(s.rejected_total(), 0u);
  EXPECT_EQ(s.incomplete_fields, 0u);
  EXPECT_EQ(s.messages, s.accepted);
  EXPECT_EQ(front.stats().accepted, static_cast<std::uint64_t>(kMembers * kRanks));
}

TEST(StreamingLoopback, ZeroCopySendsOfLargeFields) {
  Collector got;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(server_config(), key, 0, got.handler());
  Front front(server_config(), key, {receiver.endpoint()});
  run_rank(front.endpoint(), 7, 0, 1, 0, 20, 256, 64, true);  // 128 KiB, above the threshold
  ASSERT_TRUE(got.wait_for_ends(1));
  std::lock_guard<std::mutex> lock(got.mutex);
  ASSERT_EQ(got.fields.size(), 40u);
  for (const auto& [k, f] : got.fields) {
    const auto& [sim, field, step] = k;
    EXPECT_TRUE(test::bit_equal(f.data, test::global_field(sim, step, field, 256, 64)));
  }
}

TEST(StreamingLoopback, RelaunchedMemberRepeatingStepsIsSuppressed) {
  Collector got;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(server_config(), key, 0, got.handler());
  Front front(server_config(), key, {receiver.endpoint()});
  {
    // First launch sends steps 0..9 (its destructor sends END).
    Client first(client_config(front.endpoint()), identity(8, 0, 1, 4, 4));
    for (int step = 0; step < 10; ++step) {
      auto v = test::global_field(8, step, 0, 4, 4);
      first.send("u", step, 0.5 * step, Span<const double>(v));
    }
    ASSERT_TRUE(eventually([&] { return receiver.stats().fields == 10; }));
  }
  run_rank(front.endpoint(), 8, 0, 1, 5, 10, 4, 4, false);  // relaunch: steps 5..14
  ASSERT_TRUE(eventually([&] { return receiver.stats().ends == 2; }));
  std::lock_guard<std::mutex> lock(got.mutex);
  // Field u: steps 0..14 once each; field v: steps 5..14.
  EXPECT_EQ(got.fields.size(), 15u + 10u);
  EXPECT_EQ(got.duplicates, 0u);
  EXPECT_EQ(receiver.stats().rejected_of(Rejection::duplicate), 5u);
  EXPECT_EQ(receiver.stats().declarations, 2u);
  EXPECT_EQ(front.assigned_rank(8), 0);
}

TEST(StreamingLoopback, SlowConsumerLosesNothing) {
  ReceiverConfig config = server_config();
  config.hwm = 2;
  config.queue_capacity = 2;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(config, key);  // queue mode
  Front front(config, key, {receiver.endpoint()});
  constexpr int kSteps = 150;
  std::thread sender([&] {
    ClientConfig c = client_config(front.endpoint());
    c.hwm = 2;
    Client client(c, identity(11, 0, 1, 64, 128));  // 64 KiB per field
    for (int step = 0; step < kSteps; ++step) {
      auto v = test::global_field(11, step, 0, 64, 128);
      client.send("u", step, 0.0, Span<const double>(v));
    }
    client.finish();
  });
  std::set<std::int64_t> steps;
  std::size_t max_queued = 0;
  bool ended = false;
  while (!ended) {
    std::optional<Delivery> d = receiver.pop(std::chrono::seconds(30));
    ASSERT_TRUE(d) << "timed out after " << steps.size() << " fields";
    max_queued = std::max(max_queued, receiver.queued());
    if (d->kind == DeliveryKind::simulation_end) {
      ended = true;
      continue;
    }
    EXPECT_TRUE(steps.insert(d->field.step).second) << "step " << d->field.step << " twice";
    EXPECT_TRUE(test::bit_equal(d->field.data, test::global_field(11, d->field.step, 0, 64, 128)));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the slow consumer
  }
  sender.join();
  EXPECT_EQ(steps.size(), static_cast<std::size_t>(kSteps));
  EXPECT_LE(max_queued, 2u);
  EXPECT_EQ(receiver.stats().rejected_total(), 0u);
}

TEST(StreamingLoopback, ServerRanksGetWholeSimulationsRoundRobin) {
  constexpr int kServerRanks = 3, kMembers = 6;
  const std::uint64_t key = make_admission_key();
  std::vector<std::unique_ptr<Collector>> got;
  std::vector<std::unique_ptr<Receiver>> receivers;
  std::vector<std::string> endpoints;
  for (int r = 0; r < kServerRanks; ++r) {
    got.push_back(std::make_unique<Collector>());
    receivers.push_back(std::make_unique<Receiver>(server_config(), key, r, got.back()->handler()));
    endpoints.push_back(receivers.back()->endpoint());
  }
  Front front(server_config(), key, endpoints);
  std::vector<std::thread> ranks;
  for (int m = 0; m < kMembers; ++m) {
    for (std::uint32_t r = 0; r < 2; ++r) {
      ranks.emplace_back(run_rank, front.endpoint(), 50 + m, r, 2u, 0, 20, 8, 8, false);
    }
  }
  for (auto& t : ranks) t.join();
  std::vector<int> per_rank(kServerRanks, 0);
  for (int m = 0; m < kMembers; ++m) {
    const int r = front.assigned_rank(50 + m);
    ASSERT_GE(r, 0);
    ++per_rank[r];
  }
  for (int r = 0; r < kServerRanks; ++r) {
    EXPECT_EQ(per_rank[r], kMembers / kServerRanks);  // round-robin
    ASSERT_TRUE(got[r]->wait_for_ends(per_rank[r]));
    std::lock_guard<std::mutex> lock(got[r]->mutex);
    EXPECT_EQ(got[r]->fields.size(), static_cast<std::size_t>(per_rank[r] * 20 * 2));
    for (const auto& [k, f] : got[r]->fields) {
      EXPECT_EQ(front.assigned_rank(std::get<0>(k)), r);  // whole simulations per rank
    }
    EXPECT_EQ(receivers[r]->stats().rejected_total(), 0u);
  }
}

// Issue 24: small blocks travel as batches (one ZeroMQ message, one wake-up of the member's
// and the server's threads for many blocks), never larger than the server takes, and every
// block arrives once.
TEST(StreamingLoopback, SmallBlocksTravelInBatchesNoLargerThanTheServerTakes) {
  Collector got;
  ReceiverConfig config = server_config();
  config.max_message_bytes = 16 << 10;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(config, key, 0, got.handler());
  Front front(config, key, {receiver.endpoint()});
  ClientConfig c = client_config(front.endpoint());
  c.batch_bytes = 1 << 20;  // more than the server takes: the WELCOME's limit wins
  constexpr int kSteps = 200;
  std::uint64_t frame_bytes = 0;
  {
    Client client(c, identity(31, 0, 1, 8, 16));  // 1 KiB per field
    for (int step = 0; step < kSteps; ++step) {
      for (const char* name : {"u", "v"}) {
        auto v = test::global_field(31, step, name[0] == 'u' ? 0 : 1, 8, 16);
        client.send(name, step, 0.5 * step, Span<const double>(v));
        frame_bytes = kHeaderBytes + 2 * sizeof(double) + v.size() * sizeof(double);
      }
    }
    EXPECT_EQ(client.blocks_sent(), 2u * kSteps);
  }
  ASSERT_TRUE(got.wait_for_ends(1));
  std::lock_guard<std::mutex> lock(got.mutex);
  EXPECT_EQ(got.fields.size(), 2u * kSteps);
  EXPECT_EQ(got.duplicates, 0u);
  for (const auto& [k, f] : got.fields) {
    EXPECT_TRUE(
        test::bit_equal(f.data, test::global_field(31, std::get<2>(k), std::get<1>(k), 8, 16)));
  }
  const IngestStats s = receiver.stats();
  EXPECT_EQ(s.rejected_total(), 0u);
  // DECLARE and END travel alone; the 400 blocks in batches of at most 16 KiB (12 blocks).
  const std::uint64_t per_batch = (16u << 10) / frame_bytes;
  const std::uint64_t batches = receiver.wire_messages() - 2;
  EXPECT_GE(batches, (2u * kSteps + per_batch - 1) / per_batch);
  EXPECT_LE(batches, 2u * kSteps / 4);  // not one message per block
}

// A gathered block does not wait for the next send: the client's own thread sends the batch
// once its first block has waited batch_ms.
TEST(StreamingLoopback, AGatheredBlockLeavesWithinBatchMsWithoutAnotherSend) {
  Collector got;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(server_config(), key, 0, got.handler());
  Front front(server_config(), key, {receiver.endpoint()});
  ClientConfig c = client_config(front.endpoint());
  c.batch_ms = 20;
  Client client(c, identity(32, 0, 1, 4, 4));
  auto v = test::global_field(32, 0, 0, 4, 4);
  client.send("u", 0, 0.0, Span<const double>(v));
  EXPECT_TRUE(eventually(
      [&] {
        std::lock_guard<std::mutex> lock(got.mutex);
        return got.fields.size() == 1;
      },
      std::chrono::seconds(10)));
  client.finish();
  EXPECT_TRUE(got.wait_for_ends(1));
}
