// Semantics of each buffer policy, single-threaded or with one helper thread whose blocking
// is observed through blocked_producers() / waiting_consumers().
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <set>
#include <thread>

#include "helpers.hpp"

namespace surge::reservoir {
namespace {

using testing::make;
using testing::make_sample;
using testing::wait_until;

std::vector<std::int64_t> steps_of(const Batch<Sample>& batch) {
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < batch.size(); ++i) out.push_back(batch[i].step);
  return out;
}

std::set<std::int64_t> held_steps(const Buffer<Sample>& buffer) {
  std::set<std::int64_t> out;
  for (const auto& h : buffer.contents()) out.insert(h.sample->step);
  return out;
}

TEST(BufferFifo, ServesInArrivalOrderEachOnceAndDrainsAfterEnd) {
  auto buffer = make("fifo", "{capacity: 16, batch_size: 4, watermark: 4}");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(buffer->put(make_sample(0, i)));
  buffer->end_of_reception();
  EXPECT_FALSE(buffer->put(make_sample(0, 99)));  // refused after the end
  std::vector<std::vector<std::int64_t>> batches;
  while (auto b = buffer->next_batch()) batches.push_back(steps_of(*b));
  const std::vector<std::vector<std::int64_t>> expected = {{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}};
  EXPECT_EQ(batches, expected);
  EXPECT_FALSE(buffer->next_batch().has_value());  // stays exhausted
  const Statistics s = buffer->statistics();
  EXPECT_EQ(s.puts, 10);
  EXPECT_EQ(s.rejected_puts, 1);
  EXPECT_EQ(s.gets, 10);
  EXPECT_EQ(s.batches, 3);
  EXPECT_EQ(s.evictions, 0);
  ASSERT_EQ(s.seen_at_removal.size(), 2u);
  EXPECT_EQ(s.seen_at_removal[1], 10);
  EXPECT_EQ(buffer->size(), 0);
  EXPECT_EQ(buffer->bytes(), 0);
}

TEST(BufferFifo, NoBatchBelowTheWatermark) {
  auto buffer = make("fifo", "{capacity: 16, batch_size: 2, watermark: 5}");
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(buffer->put(make_sample(0, i)));
  auto consumer = std::async(std::launch::async, [&] { return buffer->next_batch(); });
  wait_until([&] { return buffer->waiting_consumers() == 1; });
  // The consumer is inside the wait with 4 < watermark samples held.
  EXPECT_EQ(consumer.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  ASSERT_TRUE(buffer->put(make_sample(0, 4)));
  const auto batch = consumer.get();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(steps_of(*batch), (std::vector<std::int64_t>{0, 1}));
  EXPECT_GE(buffer->statistics().consumer_wait_seconds, 0.0);
}

TEST(BufferFifo, PutBlocksWhenFullUntilABatchIsServed) {
  auto buffer = make("fifo", "{capacity: 4, batch_size: 2, watermark: 2}");
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(buffer->put(make_sample(0, i)));
  auto producer = std::async(std::launch::async, [&] { return buffer->put(make_sample(0, 4)); });
  wait_until([&] { return buffer->blocked_producers() == 1; });
  EXPECT_EQ(buffer->size(), 4);
  const auto batch = buffer->next_batch();
  ASSERT_TRUE(batch.has_value());
  EXPECT_TRUE(producer.get());
  EXPECT_EQ(held_steps(*buffer), (std::set<std::int64_t>{2, 3, 4}));
}

TEST(BufferFifo, ByteBoundBlocksAndAllowsAPartialBatch) {
  const std::int64_t one = SampleTraits<Sample>::bytes(make_sample(0, 0));
  auto buffer = make("fifo", "{capacity: 100, batch_size: 8, watermark: 8, capacity_bytes: " +
                                 std::to_string(3 * one) + "}");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(buffer->put(make_sample(0, i)));
  EXPECT_EQ(buffer->bytes(), 3 * one);
  auto producer = std::async(std::launch::async, [&] { return buffer->put(make_sample(0, 3)); });
  wait_until([&] { return buffer->blocked_producers() == 1; });
  EXPECT_EQ(buffer->bytes(), 3 * one);
  // Full by bytes below the watermark: a smaller batch is served so the stream can move.
  const auto batch = buffer->next_batch();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(steps_of(*batch), (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_TRUE(producer.get());
  EXPECT_LE(buffer->bytes(), 3 * one);
  // A sample that can never fit is an error, not a deadlock.
  EXPECT_THROW((void)buffer->put(make_sample(0, 9, 1000)), core::ConfigError);
}

TEST(BufferFiro, ServesEachSampleOnceInSeededRandomOrder) {
  auto order = [](int seed) {
    auto buffer = make(
        "firo", "{capacity: 200, batch_size: 7, watermark: 7, seed: " + std::to_string(seed) + "}");
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(buffer->put(make_sample(0, i)));
    buffer->end_of_reception();
    std::vector<std::int64_t> all;
    while (auto b = buffer->next_batch()) {
      const auto steps = steps_of(*b);
      EXPECT_EQ(std::set<std::int64_t>(steps.begin(), steps.end()).size(), steps.size());
      all.insert(all.end(), steps.begin(), steps.end());
    }
    EXPECT_EQ(buffer->statistics().gets, 100);
    return all;
  };
  const auto a = order(1), again = order(1), other = order(2);
  std::vector<std::int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int64_t> expected(100);
  for (int i = 0; i < 100; ++i) expected[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(sorted, expected);  // each exactly once
  EXPECT_NE(a, expected);       // not arrival order
  EXPECT_EQ(a, again);          // the seed fixes the order
  EXPECT_NE(a, other);
}

TEST(BufferReservoir, EvictsOnlySeenSamplesAndBlocksWhenNoneIs) {
  auto buffer = make("reservoir", "{capacity: 8, batch_size: 2, watermark: 2}");
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(buffer->put(make_sample(0, i)));
  const auto batch = buffer->next_batch();
  ASSERT_TRUE(batch.has_value());
  const auto served = steps_of(*batch);
  ASSERT_EQ(served.size(), 2u);
  // Two seen samples: the next two puts replace exactly them.
  ASSERT_TRUE(buffer->put(make_sample(0, 100)));
  ASSERT_TRUE(buffer->put(make_sample(0, 101)));
  std::set<std::int64_t> expected = {0, 1, 2, 3, 4, 5, 6, 7, 100, 101};
  for (auto s : served) expected.erase(s);
  EXPECT_EQ(held_steps(*buffer), expected);
  EXPECT_EQ(buffer->statistics().evictions, 2);
  // Nothing seen is left: the next put blocks until a batch is drawn.
  auto producer = std::async(std::launch::async, [&] { return buffer->put(make_sample(0, 102)); });
  wait_until([&] { return buffer->blocked_producers() == 1; });
  EXPECT_EQ(buffer->size(), 8);
  const auto second = buffer->next_batch();
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(producer.get());
  const auto second_steps = steps_of(*second);
  const auto held = held_steps(*buffer);
  EXPECT_TRUE(held.count(102));
  const int evicted_from_second =
      static_cast<int>(std::count_if(second_steps.begin(), second_steps.end(),
                                     [&](std::int64_t s) { return held.count(s) == 0; }));
  EXPECT_EQ(evicted_from_second, 1);
  const Statistics s = buffer->statistics();
  EXPECT_EQ(s.evictions, 3);
  ASSERT_GE(s.seen_at_removal.size(), 2u);
  EXPECT_EQ(s.seen_at_removal[0], 0);  // no unseen sample was ever evicted
  // close() releases a blocked producer, which reports the sample as refused.
  auto refused = std::async(std::launch::async, [&] {
    bool all = true;
    for (int i = 0; i < 8; ++i) all = buffer->put(make_sample(0, 200 + i)) && all;
    return all;
  });
  wait_until([&] { return buffer->blocked_producers() == 1; });
  buffer->close();
  EXPECT_FALSE(refused.get());
  EXPECT_FALSE(buffer->next_batch().has_value());
}

TEST(BufferReservoir, NoDuplicateWithinABatch) {
  auto buffer = make("reservoir", "{capacity: 16, batch_size: 16, watermark: 16, seed: 3}");
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(buffer->put(make_sample(0, i)));
  for (int b = 0; b < 50; ++b) {
    const auto batch = buffer->next_batch();
    ASSERT_TRUE(batch.has_value());
    const auto steps = steps_of(*batch);
    EXPECT_EQ(std::set<std::int64_t>(steps.begin(), steps.end()).size(), 16u);
  }
  for (const auto& h : buffer->contents()) EXPECT_EQ(h.seen, 50);
}

TEST(BufferReservoir, ReplaysExtraPassesAfterTheEnd) {
  auto buffer = make("reservoir", "{capacity: 10, batch_size: 3, watermark: 3, extra_passes: 2}");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(buffer->put(make_sample(0, i)));
  buffer->end_of_reception();
  int batches = 0;
  while (auto b = buffer->next_batch()) {
    EXPECT_EQ(b->size(), 3u);
    ++batches;
  }
  EXPECT_EQ(batches, 7);  // 2 passes of 10 samples: ceil(20 / 3) batches
  EXPECT_EQ(buffer->size(), 10);
}

TEST(BufferReservoir, MinSeenKeepsServingUntilEverySampleWasSeen) {
  auto buffer = make("reservoir",
                     "{capacity: 20, batch_size: 4, watermark: 4, extra_passes: 0, min_seen: 3}");
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(buffer->put(make_sample(0, i)));
  buffer->end_of_reception();
  std::int64_t gets = 0;
  while (auto b = buffer->next_batch()) gets += static_cast<std::int64_t>(b->size());
  std::int64_t least = 1 << 30;
  for (const auto& h : buffer->contents()) least = std::min(least, h.seen);
  EXPECT_GE(least, 3);
  EXPECT_GE(gets, 60);
  EXPECT_EQ(buffer->statistics().gets, gets);
}

TEST(BufferReservoir, ByteBoundHoldsUnderRandomSizes) {
  const std::int64_t bound = 40000;
  auto buffer = make("reservoir",
                     "{capacity: 1000, batch_size: 4, watermark: 4, "
                     "occupancy_interval: 0, capacity_bytes: " +
                         std::to_string(bound) + "}");
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::size_t> size(1, 2000);
  std::thread consumer([&] {
    while (buffer->next_batch()) {
    }
  });
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(buffer->put(make_sample(0, i, size(rng), 3)));
    ASSERT_LE(buffer->bytes(), bound);
  }
  buffer->end_of_reception();
  consumer.join();
  const Statistics s = buffer->statistics();
  EXPECT_EQ(s.puts, 500);
  EXPECT_GT(s.evictions, 0);
  for (const auto& p : s.occupancy) ASSERT_LE(p.bytes, bound);
  EXPECT_EQ(s.occupancy.size(), static_cast<std::size_t>(s.puts + s.batches));
}

// Trajectory windows: same simulation, increasing steps, no window twice in a batch.
void check_windows(const Batch<Sample>& batch, std::int64_t k) {
  ASSERT_EQ(batch.window, k);
  ASSERT_EQ(batch.size() % static_cast<std::size_t>(k), 0u);
  std::set<std::pair<std::int64_t, std::int64_t>> starts;
  for (std::int64_t w = 0; w < batch.items(); ++w) {
    const Sample& first = batch[static_cast<std::size_t>(w * k)];
    for (std::int64_t j = 1; j < k; ++j) {
      const Sample& s = batch[static_cast<std::size_t>(w * k + j)];
      EXPECT_EQ(s.simulation_id, first.simulation_id);
      EXPECT_EQ(s.step, first.step + j);  // the test streams every step
    }
    EXPECT_TRUE(starts.insert({first.simulation_id, first.step}).second);
  }
}

TEST(BufferTrajectory, ServesWindowsOfConsecutiveSteps) {
  auto buffer = make("trajectory", "{capacity: 64, batch_size: 4, watermark: 8, window: 3}");
  // Interleaved arrival, one simulation out of order: the buffer sorts by step.
  for (int step = 0; step < 6; ++step) {
    for (int sim = 0; sim < 3; ++sim)
      ASSERT_TRUE(buffer->put(make_sample(sim, sim == 2 ? 5 - step : step)));
  }
  for (int b = 0; b < 20; ++b) {
    const auto batch = buffer->next_batch();
    ASSERT_TRUE(batch.has_value());
    EXPECT_EQ(batch->items(), 4);
    check_windows(*batch, 3);
  }
}

TEST(BufferTrajectory, NeverServesAWindowAcrossAGap) {
  // Steps 0, 1, 2 and 4, 5 of one simulation (3 lost): windows of 2 are (0,1), (1,2), (4,5).
  auto buffer = make("trajectory", "{capacity: 64, batch_size: 3, watermark: 5, window: 2}");
  for (int step : {0, 1, 2, 4, 5}) ASSERT_TRUE(buffer->put(make_sample(0, step)));
  std::set<std::int64_t> starts;
  for (int b = 0; b < 10; ++b) {
    const auto batch = buffer->next_batch();
    ASSERT_TRUE(batch.has_value());
    ASSERT_EQ(batch->items(), 3);  // exactly the three windows, once each
    check_windows(*batch, 2);
    for (std::int64_t w = 0; w < batch->items(); ++w)
      starts.insert((*batch)[static_cast<std::size_t>(2 * w)].step);
  }
  EXPECT_EQ(starts, (std::set<std::int64_t>{0, 1, 4}));
  // The missing step arrives late: (2,3) and (3,4) become windows.
  ASSERT_TRUE(buffer->put(make_sample(0, 3)));
  const auto batch = buffer->next_batch();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->items(), 3);
  check_windows(*batch, 2);
}

TEST(BufferTrajectory, PrefersTheLeastUsedSimulation) {
  auto buffer = make("trajectory", "{capacity: 64, batch_size: 4, watermark: 4, window: 2}");
  for (int step = 0; step < 10; ++step) ASSERT_TRUE(buffer->put(make_sample(0, step)));
  for (int b = 0; b < 5; ++b) ASSERT_TRUE(buffer->next_batch().has_value());
  for (int step = 0; step < 10; ++step) ASSERT_TRUE(buffer->put(make_sample(1, step)));
  const auto batch = buffer->next_batch();
  ASSERT_TRUE(batch.has_value());
  for (std::size_t i = 0; i < batch->size(); ++i) EXPECT_EQ((*batch)[i].simulation_id, 1);
  // Within a simulation the least seen starts come first: 9 windows, 2 batches of 4 + 1 cover
  // every start once before any twice.
  std::set<std::int64_t> starts;
  for (int b = 0; b < 5; ++b) {
    const auto next = buffer->next_batch();
    for (std::int64_t w = 0; w < next->items(); ++w) {
      const Sample& s = (*next)[static_cast<std::size_t>(2 * w)];
      if (s.simulation_id == 1) starts.insert(s.step);
    }
  }
  for (std::int64_t w = 0; w < batch->items(); ++w)
    starts.insert((*batch)[static_cast<std::size_t>(2 * w)].step);
  EXPECT_EQ(starts.size(), 9u);
}

TEST(BufferTrajectory, EvictsOnlyServedFrontsAndKeepsStepsConsecutive) {
  auto buffer = make("trajectory", "{capacity: 6, batch_size: 1, watermark: 2, window: 2}");
  for (int step = 0; step < 6; ++step) ASSERT_TRUE(buffer->put(make_sample(0, step)));
  // Draw until the oldest step has been served (least seen starts first: within 5 batches).
  int draws = 0;
  while (buffer->contents().front().seen == 0) {
    ASSERT_TRUE(buffer->next_batch().has_value());
    ASSERT_LT(++draws, 6);
  }
  ASSERT_TRUE(buffer->put(make_sample(0, 6)));
  std::vector<std::int64_t> held;
  for (const auto& h : buffer->contents()) held.push_back(h.sample->step);
  EXPECT_EQ(held, (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));
  const Statistics s = buffer->statistics();
  EXPECT_EQ(s.evictions, 1);
  EXPECT_EQ(s.forced_evictions, 0);
}

TEST(BufferTrajectory, PutBlocksWhileNoOldestStepWasServed) {
  auto buffer = make("trajectory", "{capacity: 4, batch_size: 1, watermark: 2, window: 2}");
  for (int step = 0; step < 4; ++step) ASSERT_TRUE(buffer->put(make_sample(0, step)));
  auto producer = std::async(std::launch::async, [&] { return buffer->put(make_sample(0, 4)); });
  wait_until([&] { return buffer->blocked_producers() == 1; });
  EXPECT_EQ(buffer->size(), 4);
  int draws = 0;
  // Serving the window at the oldest step makes it evictable (and the step after it, which
  // becomes the oldest, was in that window too).
  while (buffer->contents().front().seen == 0) {
    ASSERT_TRUE(buffer->next_batch().has_value());
    ++draws;
  }
  EXPECT_TRUE(producer.get());
  EXPECT_LE(draws, 3);  // the least used start first: start 0 within the first 3 windows
  const Statistics s = buffer->statistics();
  EXPECT_EQ(s.evictions, 1);
  EXPECT_EQ(s.forced_evictions, 0);
  ASSERT_GE(s.seen_at_removal.size(), 2u);
  EXPECT_EQ(s.seen_at_removal[0], 0);
}

TEST(BufferTrajectory, EvictsUnseenOnlyWhenNoWindowCanEverBeServed) {
  auto buffer = make("trajectory", "{capacity: 3, batch_size: 1, watermark: 1, window: 2}");
  for (int sim = 0; sim < 4; ++sim) ASSERT_TRUE(buffer->put(make_sample(sim, 0)));
  std::set<std::int64_t> sims;
  for (const auto& h : buffer->contents()) sims.insert(h.sample->simulation_id);
  EXPECT_EQ(sims, (std::set<std::int64_t>{1, 2, 3}));  // the oldest went
  EXPECT_EQ(buffer->statistics().forced_evictions, 1);
  buffer->end_of_reception();
  EXPECT_FALSE(buffer->next_batch().has_value());  // no window: exhausted at once
}

TEST(BufferTrajectory, ReplaysExtraPassesOfWindowsAfterTheEnd) {
  auto buffer =
      make("trajectory", "{capacity: 32, batch_size: 4, watermark: 4, window: 2, extra_passes: 3}");
  for (int sim = 0; sim < 2; ++sim) {
    for (int step = 0; step < 5; ++step) ASSERT_TRUE(buffer->put(make_sample(sim, step)));
  }
  buffer->end_of_reception();
  std::int64_t windows = 0;
  while (auto b = buffer->next_batch()) {
    check_windows(*b, 2);
    windows += b->items();
  }
  EXPECT_EQ(windows, 24);  // 3 passes over 8 windows, in batches of 4
  // Even coverage: every window start served exactly three times.
  for (const auto& h : buffer->contents()) {
    const std::int64_t expected = (h.sample->step == 0 || h.sample->step == 4) ? 3 : 6;
    EXPECT_EQ(h.seen, expected) << "simulation " << h.sample->simulation_id << " step "
                                << h.sample->step;
  }
}

TEST(BufferBatch, StackCopiesInBatchOrderAndChecksSizes) {
  auto buffer = make("fifo", "{capacity: 4, batch_size: 2, watermark: 2}");
  ASSERT_TRUE(buffer->put(make_sample(0, 1, 3, 1)));
  ASSERT_TRUE(buffer->put(make_sample(0, 2, 3, 1)));
  const auto batch = buffer->next_batch();
  std::vector<float> x(6), y(2);
  stack(*batch, x.data(), x.size(), y.data(), y.size());
  EXPECT_EQ(x, (std::vector<float>{1, 1, 1, 2, 2, 2}));
  EXPECT_EQ(y, (std::vector<float>{-1, -2}));
  EXPECT_THROW(stack(*batch, x.data(), 5, y.data(), y.size()), core::ProtocolError);
  ASSERT_TRUE(buffer->put(make_sample(0, 3, 3, 1)));
  ASSERT_TRUE(buffer->put(make_sample(0, 4, 4, 1)));
  const auto uneven = buffer->next_batch();
  EXPECT_THROW(stack(*uneven, x.data(), 6, y.data(), 2), core::ProtocolError);
}

// Any trivially copyable type works with fifo, firo and reservoir; trajectory needs a key.
struct Plain {
  double value;
};

TEST(BufferGeneric, PlainTypesGetEveryPolicyButTrajectory) {
  EXPECT_EQ(buffer_registry<Plain>().names(),
            (std::vector<std::string>{"fifo", "firo", "reservoir"}));
  EXPECT_EQ(buffer_registry<Sample>().names(),
            (std::vector<std::string>{"fifo", "firo", "reservoir", "trajectory"}));
  auto buffer = make<Plain>("reservoir",
                            "{capacity: 2, batch_size: 2, watermark: 2, "
                            "capacity_bytes: 16}");
  ASSERT_TRUE(buffer->put(Plain{1.5}));
  ASSERT_TRUE(buffer->put(Plain{2.5}));
  EXPECT_EQ(buffer->bytes(), 16);
  const auto batch = buffer->next_batch();
  ASSERT_TRUE(batch.has_value());
  EXPECT_DOUBLE_EQ((*batch)[0].value + (*batch)[1].value, 4.0);
}

}  // namespace
}  // namespace surge::reservoir
