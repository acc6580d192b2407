#include "surge/experiments/sampler.hpp"

#include <algorithm>
#include <numeric>

#include "study/breed_sampler.hpp"
#include "surge/core/error.hpp"

namespace surge::experiments {

namespace {

// Maps u in [0, 1) to each range.
std::vector<double> scale(const core::IntervalMap& ranges, const std::vector<double>& u) {
  std::vector<double> out;
  std::size_t k = 0;
  for (const auto& [name, r] : ranges) out.push_back(r.min + (r.max - r.min) * u[k++]);
  return out;
}

class UniformSampler final : public Sampler {
 public:
  UniformSampler(const core::IntervalMap& ranges, std::uint64_t seed)
      : ranges_(ranges), rng_(seed) {}
  std::vector<double> next() override {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::vector<double> u(ranges_.size());
    for (double& x : u) x = unit(rng_);
    return scale(ranges_, u);
  }

 private:
  core::IntervalMap ranges_;
  std::mt19937_64 rng_;
};

// Latin hypercube: for n planned points each dimension is cut into n strata, every stratum
// is used once (a random permutation per dimension), the point is uniform inside its cell.
class LatinHypercubeSampler final : public Sampler {
 public:
  LatinHypercubeSampler(const core::IntervalMap& ranges, std::uint64_t seed, std::size_t planned)
      : ranges_(ranges), rng_(seed), n_(std::max<std::size_t>(planned, 1)) {
    for (std::size_t d = 0; d < ranges_.size(); ++d) {
      std::vector<std::size_t> perm(n_);
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng_);
      strata_.push_back(std::move(perm));
    }
  }
  std::vector<double> next() override {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::vector<double> u(ranges_.size());
    for (std::size_t d = 0; d < u.size(); ++d) {
      // Past the planned points (redraws), plain uniform draws.
      u[d] = index_ < n_
                 ? (static_cast<double>(strata_[d][index_]) + unit(rng_)) / static_cast<double>(n_)
                 : unit(rng_);
    }
    ++index_;
    return scale(ranges_, u);
  }

 private:
  core::IntervalMap ranges_;
  std::mt19937_64 rng_;
  std::size_t n_, index_ = 0;
  std::vector<std::vector<std::size_t>> strata_;
};

// Halton: coordinate d of point i is the radical inverse of i in the d-th prime base, shifted
// by a seeded random offset modulo 1 (Cranley-Patterson rotation).
class HaltonSampler final : public Sampler {
 public:
  HaltonSampler(const core::IntervalMap& ranges, std::uint64_t seed) : ranges_(ranges) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (std::size_t d = 0; d < ranges_.size(); ++d) shift_.push_back(unit(rng));
  }
  std::vector<double> next() override {
    static constexpr int kPrimes[] = {2,  3,  5,  7,  11, 13, 17, 19, 23, 29, 31, 37, 41,
                                      43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97};
    SURGE_REQUIRE(ranges_.size() <= std::size(kPrimes), ConfigError,
                  "the halton sampler supports at most " << std::size(kPrimes) << " parameters");
    ++index_;  // skip 0, which is the corner of the box in every base
    std::vector<double> u(ranges_.size());
    for (std::size_t d = 0; d < u.size(); ++d) {
      double f = 1.0, r = 0.0;
      for (std::uint64_t i = index_; i > 0; i /= static_cast<std::uint64_t>(kPrimes[d])) {
        f /= kPrimes[d];
        r += f * static_cast<double>(i % static_cast<std::uint64_t>(kPrimes[d]));
      }
      u[d] = r + shift_[d];
      if (u[d] >= 1.0) u[d] -= 1.0;
    }
    return scale(ranges_, u);
  }

 private:
  core::IntervalMap ranges_;
  std::vector<double> shift_;
  std::uint64_t index_ = 0;
};

}  // namespace

std::vector<std::string> sampler_types() { return {"breed", "halton", "lhs", "uniform"}; }

std::unique_ptr<Sampler> make_sampler(const core::Pluggable& part, const core::IntervalMap& ranges,
                                      std::uint64_t seed, std::size_t planned) {
  if (part.type == "breed") return make_breed_sampler(part.parameters, ranges, seed);
  SURGE_REQUIRE(
      !part.parameters.IsDefined() || part.parameters.IsNull() || part.parameters.size() == 0,
      ConfigError, "the " << part.type << " sampler takes no parameters");
  if (part.type == "uniform") return std::make_unique<UniformSampler>(ranges, seed);
  if (part.type == "lhs") return std::make_unique<LatinHypercubeSampler>(ranges, seed, planned);
  if (part.type == "halton") return std::make_unique<HaltonSampler>(ranges, seed);
  SURGE_THROW(ConfigError,
              "unknown sampler '" << part.type << "' (known: breed, halton, lhs, uniform)");
}

}  // namespace surge::experiments
