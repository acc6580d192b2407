// Sample builder: streamed fields become channel-major samples (a vector's components
// de-interleaved into channels), fields that do not fit are refused without losing the
// others, and next-step samples of stride s are filed so that a trajectory buffer pairs
// only states s steps apart of the same member.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "surge/core/error.hpp"
#include "surge/experiments/sample_builder.hpp"
#include "surge/reservoir/registry.hpp"

namespace ex = surge::experiments;
using surge::reservoir::Sample;
using surge::streaming::Field;

namespace {

constexpr std::size_t kNodes = 6;  // a 2 x 3 grid

// A float32 field whose element k is base + k.
Field make_field(std::uint64_t sim, std::int64_t step, const std::string& name,
                 std::vector<std::uint64_t> shape, float base) {
  Field f;
  f.simulation = sim;
  f.step = step;
  f.time = 0.5 * static_cast<double>(step);
  f.name = name;
  f.dtype = surge::streaming::DType::float32;
  f.shape = std::move(shape);
  f.parameters = {1.5, 2.5};
  std::size_t n = 1;
  for (auto e : f.shape) n *= e;
  f.data = surge::streaming::FieldBuffer::allocate(n * sizeof(float));
  auto* out = reinterpret_cast<float*>(f.data.writable());
  for (std::size_t k = 0; k < n; ++k) out[k] = base + static_cast<float>(k);
  return f;
}

}  // namespace

TEST(SampleBuilder, VectorComponentsBecomeChannels) {
  ex::SampleBuilder b({{"rho", 1}, {"v", 2}}, kNodes, true);
  EXPECT_EQ(b.output_size(), 3 * kNodes);
  EXPECT_FALSE(b.add(make_field(4, 2, "v", {2, 3, 2}, 100)).has_value());
  const auto s = b.add(make_field(4, 2, "rho", {2, 3}, 0));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->simulation_id, 4);
  EXPECT_EQ(s->step, 2);
  EXPECT_EQ(s->x, (std::vector<float>{1.5f, 2.5f, 1.0f}));  // parameters, then t
  // rho: 0..5; v interleaved [x0 y0 x1 y1 ...] = 100.. -> v_x = 100, 102, ..., v_y = 101, ...
  for (std::size_t i = 0; i < kNodes; ++i) {
    EXPECT_EQ(s->y[i], static_cast<float>(i));
    EXPECT_EQ(s->y[kNodes + i], 100.0f + 2 * i);
    EXPECT_EQ(s->y[2 * kNodes + i], 101.0f + 2 * i);
  }
  // Without time (next-step samples) x holds the parameters only.
  ex::SampleBuilder n({{"rho", 1}}, kNodes, false);
  EXPECT_EQ(n.add(make_field(1, 0, "rho", {2, 3}, 0))->x, (std::vector<float>{1.5f, 2.5f}));
}

// A sample of one field is made at once (nothing left pending), from float32 as from
// float64 data, a vector field's components de-interleaved as before.
TEST(SampleBuilder, OneFieldMakesItsSampleAtOnce) {
  ex::SampleBuilder b({{"u", 1}}, kNodes, true);
  Field wide = make_field(3, 7, "u", {2, 3}, 0);
  wide.dtype = surge::streaming::DType::float64;
  wide.data = surge::streaming::FieldBuffer::allocate(kNodes * sizeof(double));
  auto* values = reinterpret_cast<double*>(wide.data.writable());
  for (std::size_t k = 0; k < kNodes; ++k) values[k] = 0.25 + static_cast<double>(k);
  for (const Field& f : {make_field(3, 6, "u", {2, 3}, 10), wide}) {
    const auto s = b.add(f);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->step, f.step);
    ASSERT_EQ(s->y.size(), kNodes);
    for (std::size_t i = 0; i < kNodes; ++i) {
      EXPECT_EQ(s->y[i], f.step == 6 ? 10.0f + i : 0.25f + i);
    }
  }
  EXPECT_EQ(b.forget(3), 0u);
  ex::SampleBuilder v({{"v", 2}}, kNodes, false);
  const auto s = v.add(make_field(1, 0, "v", {2, 3, 2}, 100));
  ASSERT_TRUE(s.has_value());
  for (std::size_t i = 0; i < kNodes; ++i) {
    EXPECT_EQ(s->y[i], 100.0f + 2 * i);
    EXPECT_EQ(s->y[kNodes + i], 101.0f + 2 * i);
  }
}

TEST(SampleBuilder, RefusesFieldsThatDoNotFit) {
  ex::SampleBuilder b({{"rho", 1}, {"v", 2}}, kNodes, true);
  EXPECT_THROW((void)b.add(make_field(1, 0, "p", {2, 3}, 0)), surge::core::ProtocolError);
  EXPECT_THROW((void)b.add(make_field(1, 0, "rho", {3, 3}, 0)), surge::core::ProtocolError);
  // A vector sent flat (the right count, no component axis) is refused too.
  EXPECT_THROW((void)b.add(make_field(1, 0, "v", {2, 6}, 0)), surge::core::ProtocolError);
  // A field whose payload is shorter than its shape says.
  Field short_field = make_field(1, 0, "rho", {2, 3}, 0);
  short_field.data = surge::streaming::FieldBuffer::allocate(4);
  EXPECT_THROW((void)b.add(short_field), surge::core::ProtocolError);
  // The refusals left nothing behind: the step still completes from good fields.
  EXPECT_FALSE(b.add(make_field(1, 0, "rho", {2, 3}, 0)).has_value());
  EXPECT_TRUE(b.add(make_field(1, 0, "v", {2, 3, 2}, 0)).has_value());
  // forget() drops a simulation's partial steps.
  EXPECT_FALSE(b.add(make_field(2, 0, "rho", {2, 3}, 0)).has_value());
  EXPECT_EQ(b.forget(2), 1u);
  EXPECT_FALSE(b.add(make_field(2, 0, "v", {2, 3, 2}, 0)).has_value());
}

TEST(SampleBuilder, StridedNextStepWindowsPairStatesStrideApartOfOneMember) {
  constexpr std::int64_t kStride = 3, kSteps = 10;
  surge::core::Pluggable part{"trajectory",
                              YAML::Load("{capacity: 100, batch_size: 1, "
                                         "watermark: 0, window: 2, extra_passes: 5}")};
  auto buffer = surge::reservoir::make_buffer<Sample>(part);
  ex::SampleBuilder b({{"u", 1}}, kNodes, false);
  for (std::uint64_t sim : {7u, 8u}) {
    for (std::int64_t step = 0; step <= kSteps; ++step) {
      if (sim == 8 && step == 4) continue;  // a lost step: no window may span it
      auto s = b.add(make_field(sim, step, "u", {2, 3}, static_cast<float>(1000 * sim + step)));
      ASSERT_TRUE(s.has_value());
      ex::stride_key(*s, kStride);
      ASSERT_TRUE(buffer->put(std::move(*s)));
    }
  }
  buffer->end_of_reception();
  // Pairs (k, k + 3): sim 7 has 8 (k = 0..7), sim 8 has 8 minus those touching step 4 (1, 4).
  std::set<std::pair<int, int>> pairs;
  while (auto batch = buffer->next_batch()) {
    ASSERT_EQ(batch->window, 2);
    const int a = static_cast<int>((*batch)[0].y[0]), c = static_cast<int>((*batch)[1].y[0]);
    EXPECT_EQ(a / 1000, c / 1000) << "a window across members";
    EXPECT_EQ(c - a, kStride) << "a window of states not " << kStride << " steps apart";
    pairs.insert({a, c});
  }
  EXPECT_EQ(pairs.size(), 14u);
  EXPECT_FALSE(pairs.count({8001, 8004}));
  EXPECT_FALSE(pairs.count({8004, 8007}));
}
