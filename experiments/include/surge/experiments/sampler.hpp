#pragma once
// Draws the parameter sets of an ensemble from named ranges: `uniform` (independent uniform
// draws), `lhs` (Latin hypercube over the planned number of members, uniform after that),
// `halton` (the Halton low-discrepancy sequence, bases 2, 3, 5, ..., randomly shifted by the
// seed). Fixed parameters (min = max) always take their value. Seeded: the same seed gives
// the same sets.

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "surge/core/config.hpp"

namespace surge::experiments {

class Sampler {
 public:
  virtual ~Sampler() = default;
  // The next parameter set: one value per range, in the order of the IntervalMap (by name).
  [[nodiscard]] virtual std::vector<double> next() = 0;
};

// Builds the sampler `part.type` (uniform, lhs, halton; no parameters) for `ranges`;
// `planned` is how many sets the ensemble needs (used by lhs). Throws ConfigError for an
// unknown type or unknown parameters.
[[nodiscard]] std::unique_ptr<Sampler> make_sampler(const core::Pluggable& part,
                                                    const core::IntervalMap& ranges,
                                                    std::uint64_t seed, std::size_t planned);

// The sampler types, for --help.
[[nodiscard]] std::vector<std::string> sampler_types();

}  // namespace surge::experiments
