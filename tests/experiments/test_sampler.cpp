// Samplers: seeded and repeatable, inside the ranges, fixed values kept, Latin hypercube
// strata each used once, Halton equal to its radical-inverse definition.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "surge/experiments/sampler.hpp"

namespace ex = surge::experiments;
using surge::core::IntervalMap;
using surge::core::Pluggable;

namespace {
const IntervalMap kRanges = {{"a", {100, 500}}, {"b", {-1, 1}}, {"fixed", {2.5, 2.5}}};
Pluggable part(const char* type) { return {type, YAML::Node(YAML::NodeType::Map)}; }
}  // namespace

TEST(Sampler, SeededRepeatableAndInsideTheRanges) {
  for (const char* type : {"uniform", "lhs", "halton"}) {
    auto s1 = ex::make_sampler(part(type), kRanges, 7, 20);
    auto s2 = ex::make_sampler(part(type), kRanges, 7, 20);
    auto s3 = ex::make_sampler(part(type), kRanges, 8, 20);
    bool differs = false;
    for (int i = 0; i < 30; ++i) {
      const auto p = s1->next();
      ASSERT_EQ(p.size(), 3u);
      EXPECT_EQ(p, s2->next()) << type;
      differs = differs || p != s3->next();
      EXPECT_GE(p[0], 100);
      EXPECT_LE(p[0], 500);
      EXPECT_GE(p[1], -1);
      EXPECT_LE(p[1], 1);
      EXPECT_EQ(p[2], 2.5);
    }
    EXPECT_TRUE(differs) << type << " ignores its seed";
  }
}

TEST(Sampler, LatinHypercubeUsesEveryStratumOnce) {
  const int n = 16;
  auto s = ex::make_sampler(part("lhs"), kRanges, 3, n);
  std::set<int> strata_a, strata_b;
  for (int i = 0; i < n; ++i) {
    const auto p = s->next();
    strata_a.insert(static_cast<int>((p[0] - 100) / 400 * n));
    strata_b.insert(static_cast<int>((p[1] + 1) / 2 * n));
  }
  EXPECT_EQ(strata_a.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(strata_b.size(), static_cast<std::size_t>(n));
}

TEST(Sampler, HaltonFollowsTheRadicalInverse) {
  // Differences between consecutive points remove the random shift (mod 1): base 2 gives
  // 1/2, 1/4, 3/4, 1/8, ... and base 3 gives 1/3, 2/3, 1/9, ...
  const IntervalMap unit = {{"x", {0, 1}}, {"y", {0, 1}}};
  auto s = ex::make_sampler(part("halton"), unit, 11, 0);
  const double bx[] = {0.5, 0.25, 0.75, 0.125}, by[] = {1.0 / 3, 2.0 / 3, 1.0 / 9, 4.0 / 9};
  auto p0 = s->next();
  for (int i = 1; i < 4; ++i) {
    const auto p = s->next();
    const double dx = std::fmod(p[0] - p0[0] + 2.0, 1.0), dy = std::fmod(p[1] - p0[1] + 2.0, 1.0);
    EXPECT_NEAR(dx, std::fmod(bx[i] - bx[0] + 2.0, 1.0), 1e-12) << i;
    EXPECT_NEAR(dy, std::fmod(by[i] - by[0] + 2.0, 1.0), 1e-12) << i;
  }
}

TEST(Sampler, UnknownTypeAndParametersAreConfigErrors) {
  try {
    (void)ex::make_sampler(part("sobol"), kRanges, 1, 1);
    FAIL();
  } catch (const surge::core::ConfigError& e) {
    EXPECT_EQ(e.message(), "unknown sampler 'sobol' (known: breed, halton, lhs, uniform)");
  }
  EXPECT_THROW((void)ex::make_sampler({"lhs", YAML::Load("{strength: 2}")}, kRanges, 1, 1),
               surge::core::ConfigError);
}
