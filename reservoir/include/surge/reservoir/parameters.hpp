#pragma once
// The `parameters:` of each buffer policy, read through core::read_config: every key has a
// default, a range and a line of documentation; unknown keys are errors. Checks that involve
// two keys (batch_size <= capacity, ...) are done by validate(), naming the key.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>

#include "surge/core/config.hpp"

namespace surge::reservoir {

// Keys every policy has.
struct BufferParameters {
  std::int64_t capacity = 1024;
  std::int64_t capacity_bytes = std::int64_t{1} << 30;
  std::int64_t watermark = 32;
  std::int64_t batch_size = 32;
  std::int64_t seed = 0;
  double occupancy_interval = 1.0;

  template <class V>
  void visit(V& v) {
    v("capacity", capacity, "most samples held at once", core::at_least<std::int64_t>(1));
    v("capacity_bytes", capacity_bytes,
      "most bytes held at once (sample bytes as SampleTraits counts them; bookkeeping of about "
      "100 bytes per sample is not counted)",
      core::at_least<std::int64_t>(1));
    v("watermark", watermark,
      "no batch is served before this many samples are held, unless reception has ended or "
      "the buffer is full (must be <= capacity)",
      core::at_least<std::int64_t>(0));
    v("batch_size", batch_size,
      "items per batch (samples; windows for trajectory); a batch never holds an item twice "
      "(must be <= capacity)",
      core::at_least<std::int64_t>(1));
    v("seed", seed, "seed of the buffer's random choices", core::at_least<std::int64_t>(0));
    v("occupancy_interval", occupancy_interval,
      "seconds between two occupancy points in the statistics (0: every put and batch)",
      core::at_least(0.0));
  }
};

// Keys of the non-removing policies (reservoir, trajectory): when to stop after the end of
// reception.
struct ReplayParameters {
  double extra_passes = 1.0;
  std::int64_t min_seen = 0;

  template <class V>
  void visit(V& v) {
    v("extra_passes", extra_passes,
      "after end of reception, serve this many times the number of items held, then report "
      "exhaustion",
      core::at_least(0.0));
    v("min_seen", min_seen,
      "after end of reception, also keep serving until every servable sample was seen this "
      "many times (0: no such condition)",
      core::at_least<std::int64_t>(0));
  }
};

// fifo and firo.
struct FifoParameters : BufferParameters {};

struct ReservoirParameters : BufferParameters, ReplayParameters {
  template <class V>
  void visit(V& v) {
    BufferParameters::visit(v);
    ReplayParameters::visit(v);
  }
};

struct TrajectoryParameters : BufferParameters, ReplayParameters {
  std::int64_t window = 2;

  template <class V>
  void visit(V& v) {
    BufferParameters::visit(v);
    ReplayParameters::visit(v);
    v("window", window,
      "k: consecutive steps of one simulation per item (2: next-step pairs; more: rollouts; "
      "must be <= capacity)",
      core::at_least<std::int64_t>(1));
  }
};

// Checks the keys that depend on each other; `node` is the parameters map as read (for the
// file line in the message) and `path` its key path ("reservoir.parameters"). Throws
// core::ConfigError naming the key.
void validate(const BufferParameters& p, const YAML::Node& node, const core::ConfigSource& source,
              const std::string& path);
void validate(const TrajectoryParameters& p, const YAML::Node& node,
              const core::ConfigSource& source, const std::string& path);

}  // namespace surge::reservoir
