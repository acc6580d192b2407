// The breed sampler (breed_sampler.hpp). Each draw is, with probability the bred share,
// a child of a member chosen with probability proportional to how much its statistic exceeds
// the mean of the members observed (w_i = max(0, L_i - mean L); the study's statistic is the
// fresh-loss ratio, MemberTable::observe), moved by a Gaussian step of
// sigma times each range's width and reflected into the range; otherwise a uniform draw over
// the box. With no loss above the mean (none observed yet, or all equal) every draw is
// uniform: the sampler is then its exploration distribution. This is Melissa's Breed (AMIS
// over per-simulation losses) reduced to its parts: the bred share ramps up, a uniform share
// is kept, mutation is around the hard members.
#include "study/breed_sampler.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <numeric>
#include <random>
#include <sstream>

#include "surge/core/error.hpp"

namespace surge::experiments {

namespace {

constexpr double kPi = 3.14159265358979323846;

// The RNG's draws, defined here rather than by the standard library's distributions, whose
// results differ between implementations and which carry state of their own (a checkpoint
// holds the engine only).
double unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
double normal(std::mt19937_64& rng) {
  const double u1 = 1.0 - unit(rng);  // (0, 1]
  const double u2 = unit(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
}

// x folded into [lo, hi] by reflection at the bounds (as often as needed for long steps).
double reflect(double x, double lo, double hi) {
  const double w = hi - lo;
  if (w <= 0) return lo;
  double y = std::fmod(x - lo, 2.0 * w);
  if (y < 0) y += 2.0 * w;
  if (y > w) y = 2.0 * w - y;
  return lo + y;
}

void write_points(std::ostream& out, const ScoredPoints& points) {
  out << points.size() << '\n';
  for (std::size_t i = 0; i < points.size(); ++i) {
    out << points.losses[i];
    for (std::size_t d = 0; d < points.dims; ++d) out << ' ' << points.point(i)[d];
    out << '\n';
  }
}

void read_points(std::istream& in, ScoredPoints& points) {
  std::size_t n = 0;
  in >> n;
  SURGE_REQUIRE(in && n < (std::size_t{1} << 32), IoError, "breed sampler state: bad point count");
  points.clear();
  std::vector<double> x(points.dims);
  for (std::size_t i = 0; i < n && in; ++i) {
    double loss = 0;
    in >> loss;
    for (double& v : x) in >> v;
    points.add(x.data(), loss);
  }
  SURGE_REQUIRE(static_cast<bool>(in), IoError, "breed sampler state: truncated point list");
}

class BreedSampler final : public Sampler {
 public:
  BreedSampler(const BreedParameters& p, const core::IntervalMap& ranges, std::uint64_t seed)
      : p_(p), rng_(seed) {
    for (const auto& [name, r] : ranges) {
      lo_.push_back(r.min);
      hi_.push_back(r.max);
    }
    parents_.dims = observed_.dims = lo_.size();
  }

  std::vector<double> next() override {
    if (draws_ % p_.generation == 0) adopt();
    const double ramped =
        p_.ramp == 0 ? 1.0
                     : std::min(1.0, static_cast<double>(draws_) / static_cast<double>(p_.ramp));
    ++draws_;
    const double share = (1.0 - p_.exploration) * ramped;
    const bool bred = total_weight_ > 0 && unit(rng_) < share;
    std::vector<double> x(lo_.size());
    if (!bred) {
      for (std::size_t d = 0; d < x.size(); ++d) x[d] = lo_[d] + (hi_[d] - lo_[d]) * unit(rng_);
      return x;
    }
    const double pick = unit(rng_) * total_weight_;
    const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), pick);
    const double* parent = parents_.point(std::min<std::size_t>(
        static_cast<std::size_t>(it - cumulative_.begin()), parents_.size() - 1));
    for (std::size_t d = 0; d < x.size(); ++d) {
      const double step = p_.sigma * (hi_[d] - lo_[d]) * normal(rng_);
      x[d] = reflect(parent[d] + step, lo_[d], hi_[d]);
    }
    return x;
  }

  [[nodiscard]] bool adaptive() const noexcept override { return true; }
  // Copied into storage kept from call to call (no allocation once it is large enough).
  // members.dims is the number of ranges.
  void observe(const ScoredPoints& members) override {
    observed_.points.assign(members.points.begin(), members.points.end());
    observed_.losses.assign(members.losses.begin(), members.losses.end());
  }
  [[nodiscard]] std::size_t generation() const noexcept override {
    return static_cast<std::size_t>(p_.generation);
  }

  [[nodiscard]] std::string state() const override {
    std::ostringstream out;  // 17 significant digits: every double reads back exactly
    out << std::setprecision(17) << "breed 1\n" << draws_ << '\n' << rng_ << '\n';
    write_points(out, parents_);
    write_points(out, observed_);
    return out.str();
  }
  void restore(const std::string& state) override {
    std::istringstream in(state);
    std::string tag;
    int version = 0;
    in >> tag >> version >> draws_ >> rng_;
    SURGE_REQUIRE(in && tag == "breed" && version == 1, IoError,
                  "breed sampler state: not a breed sampler's (version 1)");
    read_points(in, parents_);
    read_points(in, observed_);
    weigh();
  }

 private:
  // A new generation breeds from the losses observed until now.
  void adopt() {
    parents_.points.assign(observed_.points.begin(), observed_.points.end());
    parents_.losses.assign(observed_.losses.begin(), observed_.losses.end());
    weigh();
  }
  void weigh() {
    cumulative_.clear();
    total_weight_ = 0;
    if (parents_.empty()) return;
    double mean = 0;
    for (const double loss : parents_.losses) mean += loss;
    mean /= static_cast<double>(parents_.size());
    for (const double loss : parents_.losses) {
      const double w = std::isfinite(loss) ? std::max(0.0, loss - mean) : 0.0;
      total_weight_ += w;
      cumulative_.push_back(total_weight_);
    }
  }

  BreedParameters p_;
  std::vector<double> lo_, hi_;
  std::mt19937_64 rng_;
  std::int64_t draws_ = 0;
  ScoredPoints parents_, observed_;
  std::vector<double> cumulative_;
  double total_weight_ = 0;
};

}  // namespace

std::unique_ptr<Sampler> make_breed_sampler(const YAML::Node& parameters,
                                            const core::IntervalMap& ranges, std::uint64_t seed) {
  const auto p =
      core::read_config<BreedParameters>(parameters, {}, "parameters.sampler.parameters");
  const bool ranged = std::any_of(ranges.begin(), ranges.end(),
                                  [](const auto& r) { return r.second.min < r.second.max; });
  SURGE_REQUIRE(ranged, ConfigError,
                "parameters.sampler: breed needs at least one ranged parameter (min < max) in "
                "parameters.ranges; every parameter here is fixed");
  return std::make_unique<BreedSampler>(p, ranges, seed);
}

}  // namespace surge::experiments
