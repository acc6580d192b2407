// The breed sampler: seeded and repeatable, bred points inside the ranges, uniform when every
// loss is equal, bred around the hard members once ramped, the exploration share kept, a
// restored state continuing the same sequence, bad parameters one clear error.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "surge/core/error.hpp"
#include "surge/experiments/sampler.hpp"

namespace ex = surge::experiments;
using surge::core::IntervalMap;
using surge::core::Pluggable;

namespace {

const IntervalMap kRanges = {{"a", {100, 500}}, {"b", {-1, 1}}, {"fixed", {2.5, 2.5}}};

Pluggable breed(const std::string& parameters) { return {"breed", YAML::Load(parameters)}; }

// Members at the corners of a, the first one (a = 100, b = -1) much harder than the rest.
ex::ScoredPoints one_hard_member(double hard_loss) {
  return {3, {100, -1, 2.5, 500, -1, 2.5, 100, 1, 2.5, 500, 1, 2.5}, {hard_loss, 1, 1, 1}};
}

// Whether p is within `r` range-widths of the hard member (a = 100, b = -1).
bool near_hard(const std::vector<double>& p, double r) {
  return (p[0] - 100) / 400 < r && (p[1] + 1) / 2 < r;
}

}  // namespace

TEST(BreedSampler, SeededRepeatableAndInsideTheRanges) {
  const Pluggable part = breed("{sigma: 0.5, ramp: 0, exploration: 0.1, generation: 3}");
  auto s1 = ex::make_sampler(part, kRanges, 7, 0);
  auto s2 = ex::make_sampler(part, kRanges, 7, 0);
  auto s3 = ex::make_sampler(part, kRanges, 8, 0);
  ASSERT_TRUE(s1->adaptive());
  bool differs = false;
  for (int i = 0; i < 3000; ++i) {
    if (i % 7 == 0) {
      // A wide mutation (sigma half the width) around members at the bounds: many children
      // cross a bound and must be reflected back.
      for (auto* s : {s1.get(), s2.get(), s3.get()}) s->observe(one_hard_member(50.0));
    }
    const auto p = s1->next();
    ASSERT_EQ(p.size(), 3u);
    ASSERT_EQ(p, s2->next()) << i;
    differs = differs || p != s3->next();
    ASSERT_GE(p[0], 100);
    ASSERT_LE(p[0], 500);
    ASSERT_GE(p[1], -1);
    ASSERT_LE(p[1], 1);
    ASSERT_EQ(p[2], 2.5);
  }
  EXPECT_TRUE(differs) << "breed ignores its seed";
}

// With every loss equal there is nothing to breed from: the draws are uniform over the box.
// Chi-square over 10 x 10 cells of (a, b), 20000 draws, fixed seed: 99 degrees of freedom,
// whose 99.9th percentile is 148.2.
TEST(BreedSampler, AllLossesEqualGivesTheExplorationDistribution) {
  auto s = ex::make_sampler(breed("{ramp: 0, exploration: 0.0, generation: 1}"), kRanges, 5, 0);
  const ex::ScoredPoints equal = one_hard_member(1.0);
  std::vector<double> cells(100, 0.0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    s->observe(equal);
    const auto p = s->next();
    const int ia = std::min(9, static_cast<int>((p[0] - 100) / 400 * 10));
    const int ib = std::min(9, static_cast<int>((p[1] + 1) / 2 * 10));
    cells[static_cast<std::size_t>(ia * 10 + ib)] += 1;
  }
  double chi2 = 0;
  for (const double c : cells) chi2 += (c - n / 100.0) * (c - n / 100.0) / (n / 100.0);
  EXPECT_LT(chi2, 148.2);
}

// Ramped up, with one member far harder than the others, the bred share 1 - exploration goes
// around it: the corner cell within 0.1 widths of it (1 % of the box) gets the bred children
// (sigma 0.02: nearly all within 0.1) and its uniform share.
TEST(BreedSampler, BreedsAroundTheHardMemberAndKeepsTheExplorationShare) {
  auto s = ex::make_sampler(breed("{ramp: 0, exploration: 0.3, sigma: 0.02, generation: 1}"),
                            kRanges, 9, 0);
  s->observe(one_hard_member(100.0));
  const int n = 20000;
  int near = 0, far = 0;
  for (int i = 0; i < n; ++i) {
    const auto p = s->next();
    if (near_hard(p, 0.1)) ++near;
    if ((p[0] - 100) / 400 > 0.5) ++far;  // only uniform draws land there
  }
  // Expected: near 0.7 + 0.3 * 0.01 = 0.703, far 0.3 * 0.5 = 0.15 (binomial sd < 0.004).
  EXPECT_NEAR(static_cast<double>(near) / n, 0.703, 0.02);
  EXPECT_NEAR(static_cast<double>(far) / n, 0.15, 0.02);
}

// The bred share grows linearly over `ramp` draws: none of the first draws is bred.
TEST(BreedSampler, TheRampStartsUniform) {
  auto s = ex::make_sampler(breed("{ramp: 1000, exploration: 0.0, sigma: 0.02, generation: 1}"),
                            kRanges, 3, 0);
  s->observe(one_hard_member(100.0));
  int near_first = 0, near_last = 0;
  for (int i = 0; i < 2000; ++i) {
    const bool near = near_hard(s->next(), 0.1);
    if (i < 200) near_first += near;
    if (i >= 1000) near_last += near;
  }
  // First 200 draws: bred share <= 0.2, mean 0.1: ~ 0.1 * 200 + 2 = 22 near. After the ramp:
  // all bred, ~1000.
  EXPECT_LT(near_first, 45);
  EXPECT_GT(near_last, 950);
}

// Losses observed during a generation are used from the next one on.
TEST(BreedSampler, LossesTakeEffectAtTheNextGeneration) {
  auto s = ex::make_sampler(breed("{ramp: 0, exploration: 0.0, sigma: 0.01, generation: 50}"),
                            kRanges, 4, 0);
  (void)s->next();  // generation 1 starts with nothing observed
  s->observe(one_hard_member(100.0));
  int near_rest = 0, near_next = 0;
  for (int i = 1; i < 50; ++i) near_rest += near_hard(s->next(), 0.05);
  for (int i = 0; i < 50; ++i) near_next += near_hard(s->next(), 0.05);
  EXPECT_LT(near_rest, 5);  // uniform: 0.25 % of the box
  EXPECT_EQ(near_next, 50);
}

// A checkpoint's state, restored into a fresh sampler, continues the same sequence, with the
// losses observed since (or not) alike.
TEST(BreedSampler, ARestoredStateContinuesTheSameSequence) {
  const Pluggable part = breed("{ramp: 10, exploration: 0.2, sigma: 0.1, generation: 4}");
  auto a = ex::make_sampler(part, kRanges, 21, 0);
  for (int i = 0; i < 37; ++i) {
    if (i == 5) a->observe(one_hard_member(20.0));
    (void)a->next();
  }
  a->observe(one_hard_member(3.0));  // observed, not adopted yet (37 % 4 != 0)
  const std::string state = a->state();
  auto b = ex::make_sampler(part, kRanges, 999, 0);  // another seed: the state decides
  b->restore(state);
  EXPECT_EQ(b->state(), state);
  for (int i = 0; i < 200; ++i) {
    if (i == 50) {
      a->observe(one_hard_member(9.0));
      b->observe(one_hard_member(9.0));
    }
    ASSERT_EQ(a->next(), b->next()) << i;
  }
  EXPECT_THROW(b->restore("halton 3"), surge::core::IoError);
}

TEST(BreedSampler, BadParametersAreOneClearError) {
  auto message = [](const Pluggable& part, const IntervalMap& ranges) -> std::string {
    try {
      (void)ex::make_sampler(part, ranges, 1, 1);
    } catch (const surge::core::ConfigError& e) {
      return e.message();
    }
    return "no error";
  };
  const IntervalMap fixed = {{"a", {1, 1}}, {"b", {2, 2}}};
  EXPECT_EQ(message(breed("{}"), fixed),
            "parameters.sampler: breed needs at least one ranged parameter (min < max) in "
            "parameters.ranges; every parameter here is fixed");
  EXPECT_NE(message(breed("{exploration: 1.5}"), kRanges)
                .find("parameters.sampler.parameters.exploration"),
            std::string::npos);
  EXPECT_NE(message(breed("{sigma: 0}"), kRanges).find("sigma"), std::string::npos);
  EXPECT_NE(message(breed("{ramp: -1}"), kRanges).find("ramp"), std::string::npos);
  EXPECT_NE(message(breed("{generation: 0}"), kRanges).find("generation"), std::string::npos);
  EXPECT_NE(message(breed("{width: 2}"), kRanges).find("width"), std::string::npos);
  EXPECT_EQ(message(breed("{}"), kRanges), "no error");
}

TEST(BreedSampler, DrawsInGenerations) {
  EXPECT_EQ(ex::make_sampler(breed("{generation: 6}"), kRanges, 1, 0)->generation(), 6u);
  EXPECT_EQ(
      ex::make_sampler({"halton", YAML::Node(YAML::NodeType::Map)}, kRanges, 1, 20)->generation(),
      0u);
}
