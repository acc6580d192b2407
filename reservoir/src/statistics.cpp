#include "surge/reservoir/statistics.hpp"

#include <algorithm>

#include "surge/core/hdf5.hpp"

namespace surge::reservoir {

namespace h5 = core::h5;

void Statistics::count_seen(std::vector<std::int64_t>& histogram, std::int64_t seen) {
  const auto bin = static_cast<std::size_t>(std::clamp<std::int64_t>(seen, 0, kSeenBins - 1));
  if (histogram.size() <= bin) histogram.resize(bin + 1, 0);
  ++histogram[bin];
}

void write_statistics(hid_t group, const Statistics& s) {
  h5::write_attribute(group, "puts", s.puts);
  h5::write_attribute(group, "rejected_puts", s.rejected_puts);
  h5::write_attribute(group, "gets", s.gets);
  h5::write_attribute(group, "batches", s.batches);
  h5::write_attribute(group, "evictions", s.evictions);
  h5::write_attribute(group, "forced_evictions", s.forced_evictions);
  h5::write_attribute(group, "seen_removed_sum", s.seen_removed_sum);
  h5::write_attribute(group, "producer_blocked_seconds", s.producer_blocked_seconds);
  h5::write_attribute(group, "consumer_wait_seconds", s.consumer_wait_seconds);
  std::vector<double> seconds;
  std::vector<std::int64_t> samples, bytes;
  for (const OccupancyPoint& p : s.occupancy) {
    seconds.push_back(p.seconds);
    samples.push_back(p.samples);
    bytes.push_back(p.bytes);
  }
  h5::write_dataset(group, "occupancy_seconds", seconds);
  h5::write_dataset(group, "occupancy_samples", samples);
  h5::write_dataset(group, "occupancy_bytes", bytes);
  h5::write_dataset(group, "seen_at_removal", s.seen_at_removal);
  h5::write_dataset(group, "seen_held", s.seen_held);
}

Statistics read_statistics(hid_t group) {
  Statistics s;
  s.puts = h5::read_attribute_int(group, "puts");
  s.rejected_puts = h5::read_attribute_int(group, "rejected_puts");
  s.gets = h5::read_attribute_int(group, "gets");
  s.batches = h5::read_attribute_int(group, "batches");
  s.evictions = h5::read_attribute_int(group, "evictions");
  s.forced_evictions = h5::read_attribute_int(group, "forced_evictions");
  s.seen_removed_sum = h5::read_attribute_int(group, "seen_removed_sum");
  s.producer_blocked_seconds = h5::read_attribute_double(group, "producer_blocked_seconds");
  s.consumer_wait_seconds = h5::read_attribute_double(group, "consumer_wait_seconds");
  const auto seconds = h5::read_dataset<double>(group, "occupancy_seconds");
  const auto samples = h5::read_dataset<std::int64_t>(group, "occupancy_samples");
  const auto bytes = h5::read_dataset<std::int64_t>(group, "occupancy_bytes");
  SURGE_REQUIRE(samples.size() == seconds.size() && bytes.size() == seconds.size(), IoError,
                "buffer statistics: occupancy series of different lengths");
  for (std::size_t i = 0; i < seconds.size(); ++i) {
    s.occupancy.push_back({seconds[i], samples[i], bytes[i]});
  }
  s.seen_at_removal = h5::read_dataset<std::int64_t>(group, "seen_at_removal");
  s.seen_held = h5::read_dataset<std::int64_t>(group, "seen_held");
  return s;
}

}  // namespace surge::reservoir
