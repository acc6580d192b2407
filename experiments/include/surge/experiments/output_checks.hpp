#pragma once
// Checks on a study's output directory before anything starts: that it can be written, that
// no file surge would replace was protected by its owner, and whether what the study will
// write fits in the free space (a warning when it will not).

#include <cstdint>
#include <optional>
#include <string>

#include "surge/core/config.hpp"
#include "surge/experiments/experiment_config.hpp"
#include "surge/surrogates/description.hpp"

namespace surge::experiments {

// What a study will write, roughly, in bytes.
struct OutputEstimate {
  std::uint64_t results = 0;      // results.h5, the predictions against truth included
  std::uint64_t model = 0;        // model/
  std::uint64_t checkpoints = 0;  // trainer and study checkpoints kept at once, and one more
  std::uint64_t logs = 0;         // members' logs
  [[nodiscard]] std::uint64_t total() const { return results + model + checkpoints + logs; }
};

// The estimate for a study of `cfg` whose model has `weights` weights, trained by
// `server_ranks` replicas (each saves its buffer in a study checkpoint).
[[nodiscard]] OutputEstimate estimate_output(const ExperimentConfig& cfg,
                                             const surrogates::IoDescription& io,
                                             std::int64_t weights, int server_ranks);

// The warning for `estimate` when it exceeds `free_bytes` in `dir`; nothing when it fits.
[[nodiscard]] std::optional<std::string> space_warning(const OutputEstimate& estimate,
                                                       std::uint64_t free_bytes,
                                                       const std::string& dir);

// Before a study starts, on every rank (each reaches the same answer): `output_dir` (which
// may not exist yet) and an absolute training.checkpoint_dir can be written; results.h5 and
// model/ in it, if there, are not read-only (their owner protected them: surge would replace
// them with --overwrite); and, as a warning through the log, whether the estimate fits in
// the free space (counting what --overwrite will remove). Creates nothing. Throws
// core::ConfigError, one line naming the directory or file and the OS error.
void check_output_directory(const ExperimentConfig& cfg, const surrogates::IoDescription& io,
                            const core::ConfigSource& source, const std::string& output_dir,
                            bool overwrite);

}  // namespace surge::experiments
