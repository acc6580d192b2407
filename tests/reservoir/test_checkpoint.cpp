// HDF5 checkpoint round trip: contents, seen counts, statistics and the random engine come
// back, so the restored buffer serves the same next batch as the original.
#include <gtest/gtest.h>

#include <cstdio>

#include "helpers.hpp"
#include "surge/core/hdf5.hpp"

namespace surge::reservoir {
namespace {

namespace h5 = core::h5;
using testing::make;
using testing::make_sample;

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "surge_reservoir_" + name + ".h5";
}

std::vector<
    std::tuple<std::int64_t, std::int64_t, std::vector<float>, std::vector<float>, std::int64_t>>
describe(const Buffer<Sample>& buffer) {
  std::vector<
      std::tuple<std::int64_t, std::int64_t, std::vector<float>, std::vector<float>, std::int64_t>>
      out;
  for (const auto& h : buffer.contents())
    out.emplace_back(h.sample->simulation_id, h.sample->step, h.sample->x, h.sample->y, h.seen);
  return out;
}

std::vector<std::pair<std::int64_t, std::int64_t>> keys(const Batch<Sample>& batch) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (std::size_t i = 0; i < batch.size(); ++i)
    out.emplace_back(batch[i].simulation_id, batch[i].step);
  return out;
}

class BufferCheckpointRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(BufferCheckpointRoundTrip, RestoresContentsSeenCountsStatisticsAndNextBatch) {
  const std::string type = GetParam();
  const std::string params =
      "{capacity: 24, batch_size: 4, watermark: 8, seed: 17, occupancy_interval: 0, window: 3}";
  const std::string params_for_type = type == "trajectory"
                                          ? params
                                          : "{capacity: 24, batch_size: 4, watermark: 8, seed: 17, "
                                            "occupancy_interval: 0}";
  auto original = make(type, params_for_type);
  // Varying sizes (an empty y included) and interleaved simulations.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(original->put(make_sample(i % 3, i / 3, 3 + static_cast<std::size_t>(i % 4),
                                          static_cast<std::size_t>(i % 2))));
  }
  for (int b = 0; b < 3; ++b) ASSERT_TRUE(original->next_batch().has_value());
  const std::string path = temp_path(type);
  {
    h5::File file = h5::create_file(path);
    h5::Group group = h5::create_group(file, "buffer");
    original->save(group);
  }
  auto restored = make(type, params_for_type);
  {
    h5::File file = h5::open_file(path);
    h5::Group group = h5::open_group(file, "buffer");
    restored->load(group);
  }
  std::remove(path.c_str());
  EXPECT_EQ(describe(*restored), describe(*original));
  EXPECT_EQ(restored->size(), original->size());
  EXPECT_EQ(restored->bytes(), original->bytes());
  const Statistics a = original->statistics(), b = restored->statistics();
  EXPECT_EQ(b.puts, a.puts);
  EXPECT_EQ(b.gets, a.gets);
  EXPECT_EQ(b.batches, a.batches);
  EXPECT_EQ(b.evictions, a.evictions);
  EXPECT_EQ(b.seen_removed_sum, a.seen_removed_sum);
  EXPECT_EQ(b.seen_at_removal, a.seen_at_removal);
  EXPECT_EQ(b.seen_held, a.seen_held);
  EXPECT_DOUBLE_EQ(b.consumer_wait_seconds, a.consumer_wait_seconds);
  ASSERT_EQ(b.occupancy.size(), a.occupancy.size());
  for (std::size_t i = 0; i < a.occupancy.size(); ++i) {
    EXPECT_EQ(b.occupancy[i].samples, a.occupancy[i].samples);
    EXPECT_EQ(b.occupancy[i].bytes, a.occupancy[i].bytes);
    EXPECT_DOUBLE_EQ(b.occupancy[i].seconds, a.occupancy[i].seconds);
  }
  // Same order, same seen counts, same random engine: the same batches follow, through the
  // end of reception until exhaustion.
  {
    const auto x = original->next_batch(), y = restored->next_batch();
    ASSERT_TRUE(x.has_value() && y.has_value());
    EXPECT_EQ(keys(*y), keys(*x));
  }
  original->end_of_reception();
  restored->end_of_reception();
  for (int k = 1;; ++k) {
    const auto x = original->next_batch(), y = restored->next_batch();
    ASSERT_EQ(x.has_value(), y.has_value()) << "batch " << k;
    if (!x) break;
    EXPECT_EQ(keys(*y), keys(*x)) << "batch " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Policies, BufferCheckpointRoundTrip,
                         ::testing::Values("fifo", "firo", "reservoir", "trajectory"));

TEST(BufferCheckpoint, RestoresTheEndOfReception) {
  auto original = make("reservoir", "{capacity: 8, batch_size: 4, watermark: 4, extra_passes: 2}");
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(original->put(make_sample(0, i)));
  original->end_of_reception();
  ASSERT_TRUE(original->next_batch().has_value());  // 4 of the 16 replayed items
  const std::string path = temp_path("ended");
  {
    h5::File file = h5::create_file(path);
    original->save(file);
  }
  auto restored = make("reservoir", "{capacity: 8, batch_size: 4, watermark: 4, extra_passes: 2}");
  {
    h5::File file = h5::open_file(path);
    restored->load(file);
  }
  std::remove(path.c_str());
  EXPECT_TRUE(restored->reception_ended());
  EXPECT_FALSE(restored->put(make_sample(0, 99)));
  int batches = 0;
  while (restored->next_batch()) ++batches;
  EXPECT_EQ(batches, 3);  // the remaining 12 items
}

TEST(BufferCheckpoint, RefusesAnotherPolicyASmallerBufferOrAUsedOne) {
  auto original = make("reservoir", "{capacity: 8, batch_size: 2, watermark: 2}");
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(original->put(make_sample(0, i)));
  const std::string path = temp_path("refuse");
  {
    h5::File file = h5::create_file(path);
    original->save(file);
  }
  h5::File file = h5::open_file(path);
  auto fifo = make("fifo", "{capacity: 8, batch_size: 2, watermark: 2}");
  try {
    fifo->load(file);
    FAIL() << "loaded a reservoir checkpoint into a fifo buffer";
  } catch (const core::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'reservoir'"), std::string::npos) << e.what();
  }
  auto small = make("reservoir", "{capacity: 4, batch_size: 2, watermark: 2}");
  EXPECT_THROW(small->load(file), core::ConfigError);
  auto used = make("reservoir", "{capacity: 8, batch_size: 2, watermark: 2}");
  ASSERT_TRUE(used->put(make_sample(0, 0)));
  EXPECT_THROW(used->load(file), core::Error);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace surge::reservoir
