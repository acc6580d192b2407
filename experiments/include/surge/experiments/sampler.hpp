#pragma once
// Draws the parameter sets of an ensemble from named ranges: `uniform` (independent uniform
// draws), `lhs` (Latin hypercube over the planned number of members, uniform after that),
// `halton` (the Halton low-discrepancy sequence, bases 2, 3, 5, ..., randomly shifted by the
// seed), `breed` (adaptive: bred from the members the surrogate finds hardest, with a uniform
// share for exploration; breed_sampler.cpp). Fixed parameters (min = max) always take their
// value. Seeded: the same seed gives the same sets (for breed, with the same losses observed).

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "surge/core/config.hpp"

namespace surge::experiments {

// Members the sampler drew, with their loss statistic (breed_sampler.hpp), flat: member i's
// point is points[i * dims, (i + 1) * dims), in the order of the IntervalMap as next() gives
// it. Flat so that refilling it every few batches reuses its storage: no allocation per
// member on the trainer's thread (small long-lived blocks there fragment the heap).
struct ScoredPoints {
  std::size_t dims = 0;
  std::vector<double> points;
  std::vector<double> losses;

  [[nodiscard]] std::size_t size() const noexcept { return losses.size(); }
  [[nodiscard]] bool empty() const noexcept { return losses.empty(); }
  [[nodiscard]] const double* point(std::size_t i) const { return points.data() + i * dims; }
  void clear() noexcept {
    points.clear();
    losses.clear();
  }
  void add(const double* point, double loss) {
    points.insert(points.end(), point, point + dims);
    losses.push_back(loss);
  }
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  // The next parameter set: one value per range, in the order of the IntervalMap (by name).
  [[nodiscard]] virtual std::vector<double> next() = 0;
  // Whether the sampler steers by the members' losses (observe() matters).
  [[nodiscard]] virtual bool adaptive() const noexcept { return false; }
  // The loss statistics of the members drawn so far (the latest for each); fixed samplers
  // ignore them.
  virtual void observe(const ScoredPoints& /*members*/) {}
  // The whole state as text, for study checkpoints; "" where the number of draws is the state
  // (the draws are then replayed).
  [[nodiscard]] virtual std::string state() const { return {}; }
  // Restores a state() of a sampler of the same type, ranges and parameters. Throws
  // core::IoError if it does not parse.
  virtual void restore(const std::string& /*state*/) {}
  // Draws per generation of an adaptive sampler (0: no generations, every set drawn before
  // the study starts). A study draws the first generation before it starts and the next ones
  // as member slots free up; each generation is drawn from the losses observed when it starts.
  [[nodiscard]] virtual std::size_t generation() const noexcept { return 0; }
};

// Builds the sampler `part.type` (uniform, lhs, halton: no parameters; breed: see
// BreedParameters) for `ranges`; `planned` is how many sets the ensemble needs (used by lhs).
// Throws ConfigError for an unknown type, unknown or out-of-range parameters, or a breed
// sampler without a ranged parameter (min < max).
[[nodiscard]] std::unique_ptr<Sampler> make_sampler(const core::Pluggable& part,
                                                    const core::IntervalMap& ranges,
                                                    std::uint64_t seed, std::size_t planned);

// The sampler types, for --help.
[[nodiscard]] std::vector<std::string> sampler_types();

}  // namespace surge::experiments
