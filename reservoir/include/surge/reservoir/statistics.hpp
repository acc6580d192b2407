#pragma once
// What a buffer did, as a plain struct the results writer can store: the put/get balance
// shows whether the solvers (producers blocked) or the trainer (consumer waiting) are the
// bottleneck, the seen-count histograms how often each sample was used.

#include <hdf5.h>

#include <cstdint>
#include <vector>

namespace surge::reservoir {

// Population of the buffer at one moment.
struct OccupancyPoint {
  double seconds = 0;        // since the buffer was created
  std::int64_t samples = 0;  // samples held
  std::int64_t bytes = 0;    // bytes held (SampleTraits<T>::bytes summed)
};

struct Statistics {
  std::int64_t puts = 0;                  // samples accepted
  std::int64_t rejected_puts = 0;         // put() calls refused (after end of reception or close)
  std::int64_t gets = 0;                  // samples served, repeats included (a window counts k)
  std::int64_t batches = 0;               // batches served
  std::int64_t evictions = 0;             // samples replaced to make room (not served-and-removed)
  std::int64_t forced_evictions = 0;      // of those, evicted unseen (trajectory deadlock escape)
  double producer_blocked_seconds = 0;    // summed over producer threads
  double consumer_wait_seconds = 0;       // summed over consumer threads
  std::vector<OccupancyPoint> occupancy;  // at most one point per occupancy_interval
  // seen_at_removal[i]: samples that left the buffer (evicted, or served and removed by fifo /
  // firo) after being served i times; seen_held[i]: samples held now that were served i times.
  // The last bin of each (index kSeenBins - 1) also counts everything above it.
  std::vector<std::int64_t> seen_at_removal;
  std::int64_t seen_removed_sum = 0;  // seen counts of the samples that left, summed
  std::vector<std::int64_t> seen_held;

  static constexpr std::int64_t kSeenBins = 1024;
  // Adds one sample seen `seen` times to `histogram`, growing it as needed.
  static void count_seen(std::vector<std::int64_t>& histogram, std::int64_t seen);
};

// Writes the statistics into `group` (attributes for the counters, datasets for the series).
// Throws core::IoError.
void write_statistics(hid_t group, const Statistics& stats);
// Reads what write_statistics() wrote. Throws core::IoError if something is missing.
[[nodiscard]] Statistics read_statistics(hid_t group);

}  // namespace surge::reservoir
