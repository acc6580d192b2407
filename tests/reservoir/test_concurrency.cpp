// Several producer and consumer threads on one buffer: every count must balance. Also the
// bias test: what each policy serves when two producers stream at different rates.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <map>
#include <set>
#include <thread>

#include "helpers.hpp"

namespace surge::reservoir {
namespace {

using testing::make;
using testing::make_sample;

constexpr int kProducers = 4;
constexpr int kPerProducer = 1500;
constexpr int kConsumers = 3;

// What one consumer saw: every batch as (simulation, step) pairs.
using Seen = std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>>;

// Runs the producers (simulation p streams steps 0..kPerProducer-1), then ends the reception
// and lets the consumers run to exhaustion. Returns each consumer's batches.
std::vector<Seen> run(Buffer<Sample>& buffer) {
  std::vector<Seen> seen(kConsumers);
  std::vector<std::thread> consumers, producers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&buffer, &out = seen[static_cast<std::size_t>(c)]] {
      while (auto batch = buffer.next_batch()) {
        out.emplace_back();
        for (std::size_t i = 0; i < batch->size(); ++i)
          out.back().emplace_back((*batch)[i].simulation_id, (*batch)[i].step);
      }
    });
  }
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&buffer, p] {
      for (int i = 0; i < kPerProducer; ++i) EXPECT_TRUE(buffer.put(make_sample(p, i)));
    });
  }
  for (auto& t : producers) t.join();
  buffer.end_of_reception();
  for (auto& t : consumers) t.join();
  return seen;
}

std::int64_t total_samples(const std::vector<Seen>& seen, std::int64_t* batches = nullptr) {
  std::int64_t n = 0, b = 0;
  for (const Seen& s : seen) {
    b += static_cast<std::int64_t>(s.size());
    for (const auto& batch : s) n += static_cast<std::int64_t>(batch.size());
  }
  if (batches) *batches = b;
  return n;
}

// Sum over every sample ever put of its seen count: must equal the gets.
std::int64_t seen_sum(const Buffer<Sample>& buffer) {
  std::int64_t sum = buffer.statistics().seen_removed_sum;
  for (const auto& h : buffer.contents()) sum += h.seen;
  return sum;
}

std::int64_t count(const std::vector<std::int64_t>& histogram) {
  std::int64_t n = 0;
  for (auto c : histogram) n += c;
  return n;
}

void check_removing_policy(const std::string& type) {
  auto buffer = make(type, "{capacity: 64, batch_size: 8, watermark: 16, seed: 5}");
  const auto seen = run(*buffer);
  std::int64_t batches = 0;
  EXPECT_EQ(total_samples(seen, &batches), kProducers * kPerProducer);
  std::map<std::pair<std::int64_t, std::int64_t>, int> times;
  for (const Seen& consumer : seen) {
    std::map<std::int64_t, std::int64_t> last;  // per simulation, for the FIFO order check
    for (const auto& batch : consumer) {
      for (const auto& [sim, step] : batch) {
        ++times[{sim, step}];
        if (type == "fifo") {
          auto it = last.find(sim);
          if (it != last.end()) {
            EXPECT_GT(step, it->second) << "simulation " << sim;
          }
          last[sim] = step;
        }
      }
    }
  }
  EXPECT_EQ(times.size(), static_cast<std::size_t>(kProducers * kPerProducer));
  for (const auto& [key, n] : times) ASSERT_EQ(n, 1) << key.first << "/" << key.second;
  const Statistics s = buffer->statistics();
  EXPECT_EQ(s.puts, kProducers * kPerProducer);
  EXPECT_EQ(s.gets, kProducers * kPerProducer);
  EXPECT_EQ(s.batches, batches);
  EXPECT_EQ(s.evictions, 0);
  EXPECT_EQ(s.rejected_puts, 0);
  EXPECT_EQ(seen_sum(*buffer), s.gets);
  EXPECT_EQ(buffer->size(), 0);
}

TEST(BufferConcurrency, FifoServesEverySampleOnceInPerProducerOrder) {
  check_removing_policy("fifo");
}
TEST(BufferConcurrency, FiroServesEverySampleOnce) { check_removing_policy("firo"); }

void check_replaying_policy(const std::string& type, const std::string& extra) {
  auto buffer = make(type, "{capacity: 64, batch_size: 8, watermark: 16, seed: 9" + extra + "}");
  const auto seen = run(*buffer);
  std::int64_t batches = 0;
  const std::int64_t served = total_samples(seen, &batches);
  const Statistics s = buffer->statistics();
  EXPECT_EQ(s.puts, kProducers * kPerProducer);
  EXPECT_EQ(s.gets, served);
  EXPECT_EQ(s.batches, batches);
  EXPECT_EQ(s.rejected_puts, 0);
  EXPECT_EQ(s.forced_evictions, 0);
  EXPECT_EQ(buffer->size(), 64);  // full at the end
  EXPECT_EQ(s.evictions, s.puts - buffer->size());
  EXPECT_EQ(count(s.seen_at_removal), s.evictions);
  EXPECT_EQ(count(s.seen_held), buffer->size());
  ASSERT_FALSE(s.seen_at_removal.empty());
  EXPECT_EQ(s.seen_at_removal[0], 0);  // only served samples are ever evicted
  EXPECT_EQ(seen_sum(*buffer), s.gets);
  for (const Seen& consumer : seen) {
    for (const auto& batch : consumer) {
      std::set<std::pair<std::int64_t, std::int64_t>> distinct(batch.begin(), batch.end());
      if (type == "reservoir") {
        EXPECT_EQ(distinct.size(), batch.size());
      }
      if (type == "trajectory") {
        ASSERT_EQ(batch.size() % 2, 0u);
        for (std::size_t w = 0; w < batch.size(); w += 2) {
          EXPECT_EQ(batch[w].first, batch[w + 1].first);
          EXPECT_LT(batch[w].second, batch[w + 1].second);
        }
      }
    }
  }
}

TEST(BufferConcurrency, ReservoirCountsBalance) { check_replaying_policy("reservoir", ""); }
TEST(BufferConcurrency, TrajectoryCountsBalance) {
  check_replaying_policy("trajectory", ", window: 2");
}

TEST(BufferConcurrency, CloseReleasesBlockedProducersAndWaitingConsumers) {
  auto full = make("fifo", "{capacity: 2, batch_size: 2, watermark: 2}");
  auto empty = make("reservoir", "{capacity: 2, batch_size: 2, watermark: 2}");
  ASSERT_TRUE(full->put(make_sample(0, 0)));
  ASSERT_TRUE(full->put(make_sample(0, 1)));
  std::vector<std::thread> threads;
  std::atomic<int> refused{0}, nothing{0};
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] { refused += full->put(make_sample(1, 0)) ? 0 : 1; });
    threads.emplace_back([&] { nothing += empty->next_batch().has_value() ? 0 : 1; });
  }
  testing::wait_until([&] { return full->blocked_producers() == 3; });
  testing::wait_until([&] { return empty->waiting_consumers() == 3; });
  full->close();
  empty->close();
  for (auto& t : threads) t.join();
  EXPECT_EQ(refused.load(), 3);
  EXPECT_EQ(nothing.load(), 3);
  EXPECT_EQ(full->statistics().rejected_puts, 3);
}

// A put wakes the waiting consumers only once a batch can be served: a consumer that waits
// below the batch size gets, for each policy, one full batch when the batch_size-th sample
// arrives, and nothing is lost while it sleeps through the earlier puts.
TEST(BufferConcurrency, WaitingConsumerIsServedAFullBatchAtTheBatchSize) {
  for (const char* policy : {"fifo", "firo", "reservoir"}) {
    auto buffer = make(policy, "{capacity: 64, batch_size: 8, watermark: 1}");
    std::size_t served = 0;
    std::thread consumer([&] {
      if (auto batch = buffer->next_batch()) served = batch->size();
    });
    testing::wait_until([&] { return buffer->waiting_consumers() == 1; });
    for (int step = 0; step < 7; ++step) ASSERT_TRUE(buffer->put(make_sample(0, step)));
    EXPECT_EQ(buffer->waiting_consumers(), 1) << policy;  // seven of eight: not ready
    ASSERT_TRUE(buffer->put(make_sample(0, 7)));
    consumer.join();
    EXPECT_EQ(served, 8u) << policy;
    EXPECT_EQ(buffer->statistics().batches, 1) << policy;
  }
}

// wait_for_room() blocks exactly as put() would, stores nothing, counts as a blocked producer
// (so that a consumer may serve a partial batch), and a put() right after it does not block.
TEST(BufferConcurrency, WaitForRoomBlocksLikePutAndStoresNothing) {
  auto buffer = make("fifo", "{capacity: 2, batch_size: 2, watermark: 2}");
  const std::int64_t bytes = SampleTraits<Sample>::bytes(make_sample(0, 0));
  ASSERT_TRUE(buffer->wait_for_room(bytes));
  EXPECT_EQ(buffer->size(), 0);
  ASSERT_TRUE(buffer->put(make_sample(0, 0)));
  ASSERT_TRUE(buffer->put(make_sample(0, 1)));
  std::atomic<bool> room{false}, returned{false};
  std::thread producer([&] {
    room = buffer->wait_for_room(bytes);
    returned = true;
  });
  testing::wait_until([&] { return buffer->blocked_producers() == 1; });
  EXPECT_FALSE(returned.load());
  ASSERT_TRUE(buffer->next_batch().has_value());  // fifo: serving removes, making room
  producer.join();
  EXPECT_TRUE(room.load());
  EXPECT_TRUE(buffer->put(make_sample(0, 2)));
  EXPECT_EQ(buffer->statistics().puts, 3);
  buffer->end_of_reception();
  EXPECT_FALSE(buffer->wait_for_room(bytes));
}

// Bias. Producer B streams alone first (the buffer fills with B), then producer A streams
// three samples for every one of B; the rates are played out deterministically in one thread,
// one batch per round. `reservoir` must serve each producer in proportion to what it holds at
// the moment of the draw (which lags behind the arrival mix): over ~1000 batches the served
// count of A must lie within 4 standard deviations of the sum of the per-batch expectations
// (hypergeometric variance). `fifo` must serve exactly the arrival sequence.
TEST(BufferBias, ReservoirServesInProportionToHoldingsFifoInArrivalOrder) {
  constexpr int kRounds = 1200, kAloneRounds = 100, kBatch = 16, kCapacity = 256;
  auto reservoir = make("reservoir", "{capacity: 256, batch_size: 16, watermark: 64, seed: 11}");
  auto fifo = make("fifo", "{capacity: 256, batch_size: 16, watermark: 64}");
  double expected_a = 0, variance = 0, arrival_a = 0;
  std::int64_t served_a = 0, served = 0;
  std::vector<std::int64_t> arrivals, fifo_served;
  double held_a_fraction = 0;
  for (int round = 0, step = 0; round < kRounds; ++round) {
    for (int j = 0; j < 4; ++j, ++step) {
      const int producer = round >= kAloneRounds && j < 3 ? 0 : 1;
      ASSERT_TRUE(reservoir->put(make_sample(producer, step)));
      ASSERT_TRUE(fifo->put(make_sample(producer, step)));
      arrivals.push_back(producer);
    }
    if (reservoir->size() < 64) continue;  // below the watermark next_batch would wait
    const auto held = reservoir->contents();
    const double n = static_cast<double>(held.size());
    double a = 0;
    for (const auto& h : held) a += h.sample->simulation_id == 0 ? 1 : 0;
    const double p = a / n;
    held_a_fraction = p;
    expected_a += kBatch * p;
    variance += kBatch * p * (1 - p) * (n - kBatch) / (n - 1);
    arrival_a += round >= kAloneRounds ? 0.75 * kBatch : 0;
    const auto batch = reservoir->next_batch();
    ASSERT_TRUE(batch.has_value());
    for (std::size_t i = 0; i < batch->size(); ++i) served_a += (*batch)[i].simulation_id == 0;
    served += static_cast<std::int64_t>(batch->size());
    if (fifo->size() >= 64) {
      const auto fb = fifo->next_batch();
      for (std::size_t i = 0; i < fb->size(); ++i) fifo_served.push_back((*fb)[i].simulation_id);
    }
  }
  EXPECT_EQ(reservoir->size(), kCapacity);
  const double sigma = std::sqrt(variance);
  EXPECT_GT(sigma, 10.0);  // the bound is a real one
  EXPECT_LT(std::abs(static_cast<double>(served_a) - expected_a), 4 * sigma)
      << "served " << served_a << " of " << served << ", expected " << expected_a;
  // The holdings lag behind the arrival mix, so serving by arrival would fail the bound above.
  EXPECT_GT(arrival_a - expected_a, 8 * sigma);
  // Random replacement of served samples makes the holdings follow the arrival mix (3/4 A);
  // the composition of 256 samples has a standard deviation of about 0.027.
  EXPECT_NEAR(held_a_fraction, 0.75, 0.11);
  // FIFO: the served sequence is the arrival sequence.
  ASSERT_FALSE(fifo_served.empty());
  EXPECT_TRUE(std::equal(fifo_served.begin(), fifo_served.end(), arrivals.begin()));
}

}  // namespace
}  // namespace surge::reservoir
