#pragma once
// The `breed` sampler's parameters (parameters.sampler: {type: breed, parameters: {...}}): an
// adaptive sampler after Melissa's Breed (MelissaDL x Breed, 2024), which draws new members
// around those whose samples the surrogate finds hardest. Built by make_sampler().

#include <cstdint>
#include <memory>

#include "surge/core/config.hpp"
#include "surge/experiments/sampler.hpp"

namespace surge::experiments {

struct BreedParameters {
  double exploration = 0.25;
  double sigma = 0.05;
  std::int64_t ramp = 32;
  std::int64_t generation = 8;

  template <class V>
  void visit(V& v) {
    v("exploration", exploration,
      "share of uniform draws over the whole box kept once the ramp is over (exploration); "
      "the other draws are bred",
      core::in_range(0.0, 1.0));
    v("sigma", sigma,
      "mutation width: standard deviation of the Gaussian step around a parent, as a fraction "
      "of each range's width (min to max); a child outside a range is reflected back into it "
      "at the bound it crossed",
      core::in_range(1e-6, 1.0));
    v("ramp", ramp,
      "training draws over which the bred share grows linearly from 0 to 1 - exploration (0: "
      "at once)",
      core::at_least<std::int64_t>(0));
    v("generation", generation,
      "draws per generation: each generation breeds from the losses observed when it starts "
      "(those observed during it are used from the next one on); the first generation is "
      "drawn before the study starts, the next ones as member slots free up, never waiting "
      "for losses",
      core::at_least<std::int64_t>(1));
  }
};

// The breed sampler for `ranges`, seeded. Throws core::ConfigError for a parameter out of its
// range, an unknown key, or `ranges` without a ranged parameter (min < max).
[[nodiscard]] std::unique_ptr<Sampler> make_breed_sampler(const YAML::Node& parameters,
                                                          const core::IntervalMap& ranges,
                                                          std::uint64_t seed);

}  // namespace surge::experiments
