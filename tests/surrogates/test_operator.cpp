// Next-step (operator) surrogates end to end in the library: the trainer learns a known
// linear operator from windows of a trajectory buffer, rollouts are measured against a
// closed form, and an exported model steps and rolls out bit for bit as the trainer did.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "graph.hpp"
#include "helpers.hpp"
#include "surge/core/error.hpp"
#include "surge/surrogate.hpp"

namespace surge::surrogates {
namespace {

namespace fs = std::filesystem;

constexpr int kN = 12;     // grid nodes per axis (periodic)
constexpr int kSteps = 8;  // steps after the initial state
constexpr int kChannels = 2;

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::path(SURGE_BINARY_DIR) / "test_output" / "surrogates" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A vector field "u" of two components on a periodic kN x kN grid, one parameter r.
IoDescription diffusion_description() {
  IoDescription io;
  io.kind = kNextStep;
  io.solver = "test";
  io.inputs = {{"r", 0.05, 0.2}};
  io.layout = {{"u", 2}};
  io.fields = channel_names(io.layout);
  io.grid = {kN, kN};
  io.periodic = {true, true};
  io.times.resize(kSteps + 1);
  for (int k = 0; k <= kSteps; ++k) io.times[static_cast<std::size_t>(k)] = 0.1 * k;
  io.dt = 0.1;
  return io;
}

// One explicit diffusion step per channel: u' = u + r (5-point periodic Laplacian of u).
std::vector<float> diffusion_step(const std::vector<float>& u, double r) {
  std::vector<float> out(u.size());
  auto at = [&](int c, int i, int j) {
    return u[static_cast<std::size_t>(c * kN * kN + ((i + kN) % kN) * kN + (j + kN) % kN)];
  };
  for (int c = 0; c < kChannels; ++c)
    for (int i = 0; i < kN; ++i)
      for (int j = 0; j < kN; ++j) {
        const double lap = at(c, i + 1, j) + at(c, i - 1, j) + at(c, i, j + 1) + at(c, i, j - 1) -
                           4.0 * at(c, i, j);
        out[static_cast<std::size_t>(c * kN * kN + i * kN + j)] =
            static_cast<float>(at(c, i, j) + r * lap);
      }
  return out;
}

// Trajectories of smooth random initial fields (a few low Fourier modes), seeded.
std::vector<reservoir::Sample> trajectories(int members, std::uint64_t seed,
                                            std::int64_t first_id) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> amp(-1.0, 1.0), rate(0.05, 0.2), phase(0.0, 6.283);
  std::vector<reservoir::Sample> out;
  for (int m = 0; m < members; ++m) {
    const double r = rate(rng);
    std::vector<float> u(static_cast<std::size_t>(kChannels * kN * kN), 0.0f);
    for (int c = 0; c < kChannels; ++c)
      for (int kx = 0; kx <= 2; ++kx)
        for (int ky = 0; ky <= 2; ++ky) {
          const double a = amp(rng), p = phase(rng);
          for (int i = 0; i < kN; ++i)
            for (int j = 0; j < kN; ++j)
              u[static_cast<std::size_t>(c * kN * kN + i * kN + j)] +=
                  static_cast<float>(a * std::cos(2 * M_PI * (kx * i + ky * j) / kN + p));
        }
    for (int k = 0; k <= kSteps; ++k) {
      reservoir::Sample s;
      s.simulation_id = first_id + m;
      s.step = k;
      s.x.assign(1, static_cast<float>(r));
      s.y = u;
      out.push_back(std::move(s));
      u = diffusion_step(u, r);
    }
  }
  return out;
}

std::unique_ptr<reservoir::Buffer<reservoir::Sample>> trajectory_buffer(
    const std::vector<reservoir::Sample>& samples, std::int64_t window) {
  core::Pluggable part;
  part.type = "trajectory";
  part.parameters["capacity"] = static_cast<std::int64_t>(samples.size());
  part.parameters["batch_size"] = 8;
  part.parameters["watermark"] = 0;
  part.parameters["window"] = window;
  part.parameters["extra_passes"] = 30.0;
  part.parameters["seed"] = 3;
  auto buffer = reservoir::make_buffer<reservoir::Sample>(part);
  for (auto s : samples)
    if (!buffer->put(std::move(s))) throw std::runtime_error("the test buffer refused a sample");
  buffer->end_of_reception();
  return buffer;
}

ModelConfig small_fno() {
  ModelConfig m;
  m.type = "fno";
  m.parameters["modes"] = 6;
  m.parameters["width"] = 16;
  m.parameters["layers"] = 2;
  m.parameters["projection"] = 32;
  return m;
}

// One-step relative L2 of the identity (next = current) on the validation pairs: what a
// model that learned nothing would score.
double identity_error(const std::vector<reservoir::Sample>& samples) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i + 1 < samples.size(); ++i) {
    if (samples[i + 1].simulation_id != samples[i].simulation_id) continue;
    for (std::size_t k = 0; k < samples[i].y.size(); ++k) {
      const double d = samples[i].y[k] - samples[i + 1].y[k];
      num += d * d;
      den += static_cast<double>(samples[i + 1].y[k]) * samples[i + 1].y[k];
    }
  }
  return std::sqrt(num / den);
}

TEST(NextStep, FnoLearnsADiffusionStepFromTrajectoryWindows) {
  const auto train = trajectories(24, 1, 0);
  ValidationSet validation;
  validation.samples = trajectories(3, 2, 100);
  TrainingConfig c = testing::quick_training(600);
  c.optimizer.lr = 3e-3;
  c.schedule.type = "cosine";
  Trainer trainer(small_fno(), c, diffusion_description());
  auto buffer = trajectory_buffer(train, 2);
  (void)trainer.train(*buffer, validation);
  const ValidationRecord record = trainer.validate(validation);
  const double baseline = identity_error(validation.samples);
  ASSERT_EQ(record.fields.size(), 2u);
  EXPECT_EQ(record.fields[0].field, "u_x");
  EXPECT_EQ(record.fields[1].field, "u_y");
  for (const auto& f : record.fields) {
    // The increment r Lap u is ~10 % of the state; the model gets it to a tenth of that.
    EXPECT_LT(f.relative_l2, 0.1 * baseline) << f.field << " (identity: " << baseline << ")";
  }
  // Rolled out over every step, errors grow but stay below the identity's at the end.
  const RolloutResult r = trainer.rollout(validation);
  ASSERT_EQ(r.horizon.size(), static_cast<std::size_t>(kSteps));
  EXPECT_EQ(r.frames, kSteps + 1);
  EXPECT_DOUBLE_EQ(r.time.back(), kSteps * 0.1);
  EXPECT_LT(r.metrics.back()[0].relative_l2, 0.5 * r.horizon.size() * baseline);
}

TEST(NextStep, UnrolledTrainingRunsOnLongerWindows) {
  const auto train = trajectories(8, 4, 0);
  TrainingConfig c = testing::quick_training(30);
  c.rollout_steps = 3;
  c.input_noise = 0.01;
  Trainer trainer(small_fno(), c, diffusion_description());
  auto pairs = trajectory_buffer(train, 2);
  EXPECT_THROW((void)trainer.train(*pairs, {}), core::ConfigError);  // windows of 2, not 4
  auto buffer = trajectory_buffer(train, 4);
  (void)trainer.train(*buffer, {});
  EXPECT_EQ(trainer.batches(), 30);
  const auto& h = trainer.history().training;
  EXPECT_LT(h.back().loss, h.front().loss);
}

// With every weight zero and no increment statistics yet, the model predicts no change: its
// rollout repeats the initial state, and on u_h = a^h u_0 the relative L2 at horizon h is
// |1 - a^h| / a^h and the VRMSE |1 - a^h| sqrt(mean(u0^2)) / (a^h std(u0)).
TEST(NextStep, RolloutMetricsOfTheIdentityHaveTheirClosedForm) {
  const double a = 0.9;
  ValidationSet validation;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<float> u0(static_cast<std::size_t>(kChannels * kN * kN));
  for (auto& v : u0) v = static_cast<float>(normal(rng));
  for (int k = 0; k <= kSteps; ++k) {
    reservoir::Sample s;
    s.simulation_id = 7;
    s.step = k;
    s.x.assign(1, 0.1f);
    for (float v : u0) s.y.push_back(static_cast<float>(std::pow(a, k) * v));
    validation.samples.push_back(std::move(s));
  }
  Trainer trainer(small_fno(), testing::quick_training(0), diffusion_description());
  trainer.set_flat_parameters(std::vector<float>(trainer.flat_parameters().size(), 0.0f));
  const RolloutResult r = trainer.rollout(validation);
  ASSERT_EQ(r.horizon.size(), static_cast<std::size_t>(kSteps));
  for (std::size_t h = 0; h < r.horizon.size(); ++h) {
    const double ah = std::pow(a, static_cast<double>(r.horizon[h]));
    for (int c = 0; c < kChannels; ++c) {
      double sum = 0, sq = 0;
      for (int i = 0; i < kN * kN; ++i) {
        const double v = u0[static_cast<std::size_t>(c * kN * kN + i)];
        sum += v;
        sq += v * v;
      }
      const double n = kN * kN, mean = sum / n;
      const double var = (sq - n * mean * mean) / (n - 1);  // unbiased, as The Well
      EXPECT_NEAR(r.metrics[h][static_cast<std::size_t>(c)].relative_l2, std::abs(1 - ah) / ah,
                  1e-5);
      EXPECT_NEAR(r.metrics[h][static_cast<std::size_t>(c)].vrmse,
                  std::abs(1 - ah) * std::sqrt(sq / n) / (ah * std::sqrt(var)), 1e-5);
    }
  }
  // The kept prediction is the initial state at every frame.
  const std::size_t frame = static_cast<std::size_t>(kChannels * kN * kN);
  for (std::int64_t f = 0; f < r.frames; ++f)
    EXPECT_EQ(std::memcmp(r.prediction.data() + f * frame, u0.data(), frame * sizeof(float)), 0);
}

TEST(NextStep, ExportedModelStepsAndRollsOutBitForBit) {
  const auto train = trajectories(6, 8, 0);
  ValidationSet validation;
  validation.samples = trajectories(2, 9, 50);
  Trainer trainer(small_fno(), testing::quick_training(40), diffusion_description());
  auto buffer = trajectory_buffer(train, 2);
  (void)trainer.train(*buffer, {});
  const fs::path dir = fresh_dir("operator_export") / "model";
  trainer.export_model(dir.string());
  const RolloutResult expected = trainer.rollout(validation);

  const Surrogate s = Surrogate::load(dir.string());
  EXPECT_EQ(s.kind(), "next_step");
  EXPECT_EQ(s.architecture(), "fno");
  EXPECT_EQ(s.channel_names(), (std::vector<std::string>{"u_x", "u_y"}));
  EXPECT_EQ(s.field_layout(), (std::vector<std::pair<std::string, int>>{{"u", 2}}));
  EXPECT_EQ(s.parameter_names(), std::vector<std::string>{"r"});
  EXPECT_DOUBLE_EQ(s.dt(), 0.1);
  EXPECT_EQ(s.stride(), 1);
  EXPECT_EQ(s.periodic(), (std::vector<bool>{true, true}));

  // The two validation members as one batch, as the trainer rolls them out.
  torch::Tensor initial = torch::empty({2, kChannels, kN, kN});
  torch::Tensor parameters = torch::empty({2, 1});
  for (int m = 0; m < 2; ++m) {
    const auto& first = validation.samples[static_cast<std::size_t>(m * (kSteps + 1))];
    std::memcpy(initial[m].data_ptr<float>(), first.y.data(), first.y.size() * sizeof(float));
    parameters[m][0] = first.x[0];
  }
  const torch::Tensor path = s.rollout(initial, parameters, kSteps).contiguous();
  ASSERT_EQ(path.sizes(), (std::vector<std::int64_t>{2, kSteps + 1, kChannels, kN, kN}));
  ASSERT_EQ(static_cast<std::size_t>(path.numel()), expected.prediction.size());
  EXPECT_EQ(std::memcmp(path.data_ptr<float>(), expected.prediction.data(),
                        expected.prediction.size() * sizeof(float)),
            0);
  // step() is the first frame of a rollout; the unbatched forms give the same values.
  const torch::Tensor next = s.step(initial, parameters).contiguous();
  EXPECT_TRUE(torch::equal(next, path.select(1, 1)));
  const torch::Tensor one =
      s.rollout(initial[1], std::vector<double>{parameters[1][0].item<double>()}, 2);
  ASSERT_EQ(one.sizes(), (std::vector<std::int64_t>{3, kChannels, kN, kN}));
  EXPECT_TRUE(torch::allclose(one, path[1].narrow(0, 0, 3), 1e-5, 1e-6));

  EXPECT_THROW((void)s.step(torch::zeros({3, kN, kN}), std::vector<double>{0.1}),
               core::ConfigError);
  EXPECT_THROW((void)s.step(initial[0], std::vector<double>{0.1, 0.2}), core::ConfigError);
  EXPECT_THROW((void)s.predict(std::vector<double>{0.1}, 0.0), core::ConfigError);
}

// A graph network on an unstructured mesh (the grid is N x 1, node k = grid point (k, 0)):
// it trains from trajectory windows of graph-Laplacian diffusion, and its export carries the
// mesh, so that the loaded model needs nothing but its directory and rolls out bit for bit.
TEST(NextStep, GraphNetOnAMeshExportsItsMeshAndRollsOutBitForBit) {
  const std::string mesh = std::string(SURGE_SOURCE_DIR) + "/experiments/meshes/disk.yaml";
  const detail::Graph g = detail::read_mesh(mesh);
  const std::int64_t n = g.nodes;
  IoDescription io;
  io.kind = kNextStep;
  io.inputs = {{"r", 0.05, 0.2}};
  io.fields = {"u"};
  io.grid = {n, 1};
  io.periodic = {false, false};
  io.dt = 1.0;
  const auto senders = g.senders.contiguous(), receivers = g.receivers.contiguous();
  const auto* s_ptr = senders.data_ptr<std::int64_t>();
  const auto* r_ptr = receivers.data_ptr<std::int64_t>();
  const auto pos = g.positions.contiguous();
  auto make = [&](int members, std::uint64_t seed, std::int64_t first) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> k(-3, 3), rate(0.05, 0.2);
    std::vector<reservoir::Sample> out;
    for (int m = 0; m < members; ++m) {
      const double kx = k(rng), ky = k(rng), r = rate(rng) / 6.0;  // degree <= 6: stable
      std::vector<float> u(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i)
        u[static_cast<std::size_t>(i)] = static_cast<float>(
            std::sin(kx * pos[i][0].item<double>() + ky * pos[i][1].item<double>()));
      for (int step = 0; step <= 4; ++step) {
        reservoir::Sample sample;
        sample.simulation_id = first + m;
        sample.step = step;
        sample.x.assign(1, static_cast<float>(6.0 * r));
        sample.y = u;
        out.push_back(std::move(sample));
        std::vector<float> next = u;
        for (std::int64_t e = 0; e < senders.numel(); ++e)
          next[static_cast<std::size_t>(r_ptr[e])] += static_cast<float>(
              r * (u[static_cast<std::size_t>(s_ptr[e])] - u[static_cast<std::size_t>(r_ptr[e])]));
        u = next;
      }
    }
    return out;
  };
  ModelConfig model;
  model.type = "graphnet";
  model.parameters["latent"] = 16;
  model.parameters["message_passing_steps"] = 2;
  model.parameters["mesh"] = mesh;
  TrainingConfig c = testing::quick_training(80);
  c.optimizer.lr = 3e-3;
  Trainer trainer(model, c, io);
  auto buffer = trajectory_buffer(make(6, 1, 0), 2);
  (void)trainer.train(*buffer, {});
  const auto& h = trainer.history().training;
  double first = 0, last = 0;
  for (int i = 0; i < 10; ++i) {
    first += h[static_cast<std::size_t>(i)].loss;
    last += h[h.size() - 1 - static_cast<std::size_t>(i)].loss;
  }
  EXPECT_LT(last, 0.5 * first);
  const fs::path dir = fresh_dir("graphnet_export") / "model";
  trainer.export_model(dir.string());
  ASSERT_TRUE(fs::exists(dir / "mesh.yaml"));
  // The exported model is self-contained: move it away from where it was written.
  const fs::path moved = fresh_dir("graphnet_moved") / "model";
  fs::rename(dir, moved);
  ValidationSet validation;
  validation.samples = make(2, 2, 10);
  const RolloutResult expected = trainer.rollout(validation);
  const Surrogate s = Surrogate::load(moved.string());
  EXPECT_EQ(s.architecture(), "graphnet");
  torch::Tensor initial = torch::empty({2, 1, n, 1}), parameters = torch::empty({2, 1});
  for (int m = 0; m < 2; ++m) {
    const auto& first = validation.samples[static_cast<std::size_t>(m * 5)];
    std::memcpy(initial[m].data_ptr<float>(), first.y.data(), first.y.size() * sizeof(float));
    parameters[m][0] = first.x[0];
  }
  const torch::Tensor path = s.rollout(initial, parameters, 4).contiguous();
  ASSERT_EQ(static_cast<std::size_t>(path.numel()), expected.prediction.size());
  EXPECT_EQ(std::memcmp(path.data_ptr<float>(), expected.prediction.data(),
                        expected.prediction.size() * sizeof(float)),
            0);
  // A mesh whose node count is not the grid's is refused by name.
  io.grid = {n + 1, 1};
  EXPECT_THROW(Trainer(model, testing::quick_training(1), io), core::ConfigError);
}

// A model exported before format 2 (no kind layout, periodicity or increments) still loads.
TEST(NextStep, FormatVersionOneModelsStillLoad) {
  const testing::HeatMap map(6);
  Trainer trainer(testing::mlp({8}), testing::quick_training(5),
                  testing::heat_description(6, true));
  auto buffer = testing::filled_buffer(testing::heat_samples(map, 40, 1, true), 8);
  (void)trainer.train(*buffer, {});
  const fs::path dir = fresh_dir("format1") / "model";
  trainer.export_model(dir.string());
  // Rewrite surrogate.yaml as version 1 wrote it.
  YAML::Node root = YAML::LoadFile((dir / "surrogate.yaml").string());
  root["format_version"] = 1;
  root["io"].remove("layout");
  root["io"].remove("periodic");
  std::ofstream((dir / "surrogate.yaml").string()) << root;
  const Surrogate s = Surrogate::load(dir.string());
  EXPECT_EQ(s.kind(), "field_from_parameters");
  EXPECT_EQ(s.field_layout(), (std::vector<std::pair<std::string, int>>{{"temperature", 1}}));
  const std::vector<float> x = {200, 300, 400, 250, 0.5};
  const auto expected = trainer.predict(x, 1);
  const torch::Tensor y = s.predict(torch::tensor(x)).contiguous();
  EXPECT_EQ(std::memcmp(y.data_ptr<float>(), expected.data(), expected.size() * sizeof(float)), 0);
  EXPECT_THROW((void)s.step(torch::zeros({1, 6, 6}), std::vector<double>{}), core::ConfigError);
}

}  // namespace
}  // namespace surge::surrogates
