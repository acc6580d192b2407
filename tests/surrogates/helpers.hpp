#pragma once
// Shared by the surrogates tests: the steady heat field on the unit square as a function of
// its four boundary values (linear in b1..b4: u = sum_i b_i phi_i, each phi_i the discrete
// harmonic function with 1 on side i), samples of it, and small configurations.

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "surge/reservoir/registry.hpp"
#include "surge/surrogates/config.hpp"
#include "surge/surrogates/description.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::surrogates::testing {

// phi_side on an n x n grid of nodes (row-major, y fastest): 1 on `side` (0: x = 0,
// 1: x = 1, 2: y = 0, 3: y = 1; corners belong to the x sides), 0 on the other sides, and
// the 5-point Laplace equation inside, solved by SOR to 1e-13.
inline std::vector<double> harmonic_basis(int n, int side) {
  std::vector<double> u(static_cast<std::size_t>(n * n), 0.0);
  auto at = [&](int i, int j) -> double& { return u[static_cast<std::size_t>(i * n + j)]; };
  for (int k = 0; k < n; ++k) {
    if (side == 2) at(k, 0) = 1;
    if (side == 3) at(k, n - 1) = 1;
  }
  for (int k = 0; k < n; ++k) {
    at(0, k) = side == 0 ? 1 : 0;
    at(n - 1, k) = side == 1 ? 1 : 0;
  }
  const double omega = 2.0 / (1.0 + std::sin(M_PI / (n - 1)));
  for (int sweep = 0; sweep < 10000; ++sweep) {
    double change = 0;
    for (int i = 1; i < n - 1; ++i)
      for (int j = 1; j < n - 1; ++j) {
        const double target = 0.25 * (at(i - 1, j) + at(i + 1, j) + at(i, j - 1) + at(i, j + 1));
        const double d = omega * (target - at(i, j));
        at(i, j) += d;
        change = std::max(change, std::abs(d));
      }
    if (change < 1e-13) break;
  }
  return u;
}

struct HeatMap {
  int n = 12;
  std::vector<std::vector<double>> basis;
  explicit HeatMap(int grid) : n(grid) {
    for (int s = 0; s < 4; ++s) basis.push_back(harmonic_basis(n, s));
  }
  // The steady field for boundary values b (4 values), times `scale`.
  [[nodiscard]] std::vector<float> field(const std::vector<double>& b, double scale = 1.0) const {
    std::vector<float> out(basis[0].size());
    for (std::size_t k = 0; k < out.size(); ++k) {
      double v = 0;
      for (int s = 0; s < 4; ++s)
        v += b[static_cast<std::size_t>(s)] * basis[static_cast<std::size_t>(s)][k];
      out[k] = static_cast<float>(v * scale);
    }
    return out;
  }
};

inline constexpr double kLow = 100.0, kHigh = 500.0;

// Inputs b1..b4 in [100, 500] (and t in [0, 1] when timed), one field "temperature".
inline IoDescription heat_description(int n, bool timed) {
  IoDescription io;
  io.solver = "heat2d";
  for (const char* name : {"b1", "b2", "b3", "b4"}) io.inputs.push_back({name, kLow, kHigh});
  if (timed) io.inputs.push_back({"t", 0.0, 1.0});
  io.fields = {"temperature"};
  io.grid = {n, n};
  if (timed) io.times = {0.25, 0.5, 0.75, 1.0};
  return io;
}

// `count` samples with boundary values drawn from [100, 500] (seeded). Timed samples add
// t in [0, 1] and target the steady field times (0.5 + t), a map that depends on t.
inline std::vector<reservoir::Sample> heat_samples(const HeatMap& map, int count,
                                                   std::uint64_t seed, bool timed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> b(kLow, kHigh), t(0.0, 1.0);
  std::vector<reservoir::Sample> out;
  for (int i = 0; i < count; ++i) {
    reservoir::Sample s;
    s.simulation_id = i;
    std::vector<double> values{b(rng), b(rng), b(rng), b(rng)};
    for (double v : values) s.x.push_back(static_cast<float>(v));
    double scale = 1.0;
    if (timed) {
      const double time = t(rng);
      s.x.push_back(static_cast<float>(time));
      scale = 0.5 + time;
    }
    s.y = map.field(values, scale);
    out.push_back(std::move(s));
  }
  return out;
}

// A buffer of `policy` holding `samples`, with reception ended (so it drains, or replays
// `extra_passes` times for the reservoir policy).
inline std::unique_ptr<reservoir::Buffer<reservoir::Sample>> filled_buffer(
    const std::vector<reservoir::Sample>& samples, std::int64_t batch_size,
    const std::string& policy = "fifo", double extra_passes = 0.0) {
  core::Pluggable part;
  part.type = policy;
  part.parameters["capacity"] = static_cast<std::int64_t>(samples.size());
  part.parameters["batch_size"] = batch_size;
  part.parameters["watermark"] = 0;
  part.parameters["seed"] = 7;
  if (policy == "reservoir") part.parameters["extra_passes"] = extra_passes;
  auto buffer = reservoir::make_buffer<reservoir::Sample>(part);
  for (auto s : samples)
    if (!buffer->put(std::move(s))) throw std::runtime_error("the test buffer refused a sample");
  buffer->end_of_reception();
  return buffer;
}

inline ModelConfig mlp(const std::vector<int>& hidden, const std::string& activation = "relu") {
  ModelConfig m;
  m.type = "mlp";
  m.parameters["hidden"] = hidden;
  m.parameters["activation"] = activation;
  return m;
}

// A small, quick training config with one thread (tests run beside each other).
inline TrainingConfig quick_training(std::int64_t max_batches) {
  TrainingConfig c;
  c.max_batches = max_batches;
  c.validate_every = 0;
  c.threads.intra_op = 1;
  c.threads.blas = 1;
  c.seed = 42;
  c.output_statistics_batches = 0;
  return c;
}

}  // namespace surge::surrogates::testing
