// The C API of surge::surrogate (<surge/surrogate.h>) against the C++ API it wraps: the same
// floats bit for bit, the metadata, every misuse as a status and one line, every documented
// status from C (c_status_codes.c), and one handle shared by threads. Links surge::surrogate
// alone. The models are untrained (seeded weights) and exported as training exports them.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "model.hpp"
#include "surge/core/error.hpp"
#include "surge/surrogate.h"
#include "surge/surrogate.hpp"

namespace surge::surrogates {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  // One directory per test: ctest runs the tests of this file as parallel processes.
  const fs::path dir =
      fs::path(SURGE_BINARY_DIR) / "test_output" / "surrogates" /
      (name + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Exports a model of `type` for `io` with seeded weights and fixed statistics to <name>/model.
std::string export_untrained(const std::string& name, const std::string& type,
                             const YAML::Node& parameters, const IoDescription& io) {
  torch::manual_seed(3);
  ModelConfig config;
  config.type = type;
  config.parameters = parameters;
  const ModelConfig resolved = detail::resolve_model_config(config);
  auto model = detail::make_model(resolved, io);
  std::vector<double> mean, sd;
  for (std::size_t f = 0; f < io.fields.size(); ++f) {
    mean.push_back(300.0 + 10.0 * static_cast<double>(f));
    sd.push_back(20.0 + static_cast<double>(f));
  }
  detail::Normaliser state(io), delta(io);
  state.set_fixed(mean, sd);
  delta.set_fixed(std::vector<double>(mean.size(), 0.1), std::vector<double>(sd.size(), 0.5));
  const fs::path dir = fresh_dir(name) / "model";
  detail::write_surrogate_dir(dir.string(), *model, resolved, io, state,
                              io.is_operator() ? &delta : nullptr, YAML::Node(YAML::NodeType::Map),
                              0);
  return dir.string();
}

// Heat-like MLP: b1..b3 and t -> temperature on 6 x 5 nodes at four times.
std::string mlp_model() {
  IoDescription io;
  io.solver = "heat2d";
  io.inputs = {{"b1", 100, 500}, {"b2", 100, 500}, {"b3", 0, 1}, {"t", 0, 1}};
  io.fields = {"temperature"};
  io.grid = {6, 5};
  io.times = {0.0, 0.25, 0.5, 1.0};
  YAML::Node p;
  p["hidden"] = std::vector<int>{16, 16};
  return export_untrained("c_api_mlp", "mlp", p, io);
}

// FNO on a scalar and a 2-vector field (3 channels) on 8 x 8 nodes, two parameters.
std::string fno_model() {
  IoDescription io;
  io.kind = kNextStep;
  io.solver = "test";
  io.inputs = {{"r", 0.0, 1.0}, {"q", -1.0, 1.0}};
  io.layout = {{"rho", 1}, {"v", 2}};
  io.fields = channel_names(io.layout);
  io.grid = {8, 8};
  io.periodic = {true, false};
  io.dt = 0.05;
  YAML::Node p;
  p["modes"] = 3;
  p["width"] = 6;
  p["layers"] = 2;
  return export_untrained("c_api_fno", "fno", p, io);
}

// A loaded handle, freed at the end of the test.
struct Handle {
  surge_surrogate* s = nullptr;
  explicit Handle(const std::string& dir) {
    EXPECT_EQ(surge_surrogate_load(&s, dir.c_str()), SURGE_SURROGATE_OK)
        << surge_surrogate_last_error();
  }
  ~Handle() { surge_surrogate_free(s); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
};

bool same_bits(const torch::Tensor& expected, const std::vector<float>& got) {
  const torch::Tensor e = expected.contiguous();
  return static_cast<std::size_t>(e.numel()) == got.size() &&
         std::memcmp(e.data_ptr<float>(), got.data(), got.size() * sizeof(float)) == 0;
}

TEST(SurrogateCApi, MetadataOfAnMlp) {
  const std::string dir = mlp_model();
  Handle h(dir);
  int kind = 0;
  std::int64_t n = 0;
  ASSERT_EQ(surge_surrogate_kind(h.s, &kind), SURGE_SURROGATE_OK);
  EXPECT_EQ(kind, SURGE_SURROGATE_FIELD_FROM_PARAMETERS);
  ASSERT_EQ(surge_surrogate_parameter_count(h.s, &n), SURGE_SURROGATE_OK);
  ASSERT_EQ(n, 3);
  const char* name = nullptr;
  ASSERT_EQ(surge_surrogate_parameter_name(h.s, 1, &name), SURGE_SURROGATE_OK);
  EXPECT_STREQ(name, "b2");
  double lo = 0, hi = 0;
  ASSERT_EQ(surge_surrogate_parameter_range(h.s, 2, &lo, &hi), SURGE_SURROGATE_OK);
  EXPECT_EQ(lo, 0.0);
  EXPECT_EQ(hi, 1.0);
  ASSERT_EQ(surge_surrogate_channel_count(h.s, &n), SURGE_SURROGATE_OK);
  EXPECT_EQ(n, 1);
  ASSERT_EQ(surge_surrogate_channel_name(h.s, 0, &name), SURGE_SURROGATE_OK);
  EXPECT_STREQ(name, "temperature");
  ASSERT_EQ(surge_surrogate_grid_rank(h.s, &n), SURGE_SURROGATE_OK);
  EXPECT_EQ(n, 2);
  ASSERT_EQ(surge_surrogate_grid_extent(h.s, 1, &n), SURGE_SURROGATE_OK);
  EXPECT_EQ(n, 5);
  ASSERT_EQ(surge_surrogate_output_size(h.s, &n), SURGE_SURROGATE_OK);
  EXPECT_EQ(n, 30);
  ASSERT_EQ(surge_surrogate_time_count(h.s, &n), SURGE_SURROGATE_OK);
  EXPECT_EQ(n, 4);
  double t = 0;
  ASSERT_EQ(surge_surrogate_time(h.s, 3, &t), SURGE_SURROGATE_OK);
  EXPECT_EQ(t, 1.0);
  ASSERT_EQ(surge_surrogate_dt(h.s, &t), SURGE_SURROGATE_OK);
  EXPECT_EQ(t, 0.0);
  EXPECT_STREQ(surge_surrogate_last_error(), "");
}

TEST(SurrogateCApi, PredictIsTheCppPredictionBitForBit) {
  const std::string dir = mlp_model();
  const Surrogate cpp = Surrogate::load(dir);
  Handle h(dir);
  const std::vector<double> p{123.456, 432.1, 0.3};
  std::vector<float> out(30);
  for (double t : {0.0, 0.25, 0.7}) {
    ASSERT_EQ(surge_surrogate_predict(h.s, p.data(), 3, t, out.data(), 30), SURGE_SURROGATE_OK);
    EXPECT_TRUE(same_bits(cpp.predict(p, t), out)) << "t = " << t;
  }
  // A batch is the C++ batch prediction, row by row as x is built for one case.
  const std::vector<double> batch_p{123.456, 432.1, 0.3, 200, 300, 0.9};
  const std::vector<double> batch_t{0.25, 1.0};
  std::vector<float> batch(60);
  ASSERT_EQ(
      surge_surrogate_predict_batch(h.s, 2, batch_p.data(), 3, batch_t.data(), batch.data(), 60),
      SURGE_SURROGATE_OK);
  const torch::Tensor x =
      torch::tensor({123.456f, 432.1f, 0.3f, 0.25f, 200.f, 300.f, 0.9f, 1.0f}, torch::kFloat)
          .reshape({2, 4});
  EXPECT_TRUE(same_bits(cpp.predict(x), batch));
  // The C++ call behind it checks where it writes.
  torch::Tensor wrong = torch::empty({3, 30});
  EXPECT_THROW(cpp.predict_into(x, wrong), core::ConfigError);
  wrong = torch::empty({2, 30}, torch::kDouble);
  EXPECT_THROW(cpp.predict_into(x, wrong), core::ConfigError);
}

TEST(SurrogateCApi, StepAndRolloutAreTheCppOnesBitForBit) {
  const std::string dir = fno_model();
  const Surrogate cpp = Surrogate::load(dir);
  Handle h(dir);
  int kind = 0;
  ASSERT_EQ(surge_surrogate_kind(h.s, &kind), SURGE_SURROGATE_OK);
  EXPECT_EQ(kind, SURGE_SURROGATE_NEXT_STEP);
  const char* name = nullptr;
  ASSERT_EQ(surge_surrogate_channel_name(h.s, 2, &name), SURGE_SURROGATE_OK);
  EXPECT_STREQ(name, "v_y");
  double dt = 0;
  ASSERT_EQ(surge_surrogate_dt(h.s, &dt), SURGE_SURROGATE_OK);
  EXPECT_EQ(dt, 0.05);

  torch::manual_seed(5);
  const torch::Tensor state = torch::randn({3, 8, 8}) * 5.0 + 300.0;
  const std::vector<double> p{0.4, -0.2};
  std::vector<float> initial(state.data_ptr<float>(), state.data_ptr<float>() + 192);
  std::vector<float> next(192);
  ASSERT_EQ(surge_surrogate_step(h.s, initial.data(), p.data(), 2, next.data(), 192),
            SURGE_SURROGATE_OK);
  EXPECT_TRUE(same_bits(cpp.step(state, p), next));
  // In place: state and next the same array.
  std::vector<float> in_place = initial;
  ASSERT_EQ(surge_surrogate_step(h.s, in_place.data(), p.data(), 2, in_place.data(), 192),
            SURGE_SURROGATE_OK);
  EXPECT_EQ(in_place, next);

  std::vector<float> path(4 * 192);
  ASSERT_EQ(surge_surrogate_rollout(h.s, initial.data(), p.data(), 2, 3, path.data(), 4 * 192),
            SURGE_SURROGATE_OK);
  EXPECT_TRUE(same_bits(cpp.rollout(state, p, 3), path));
  // The rollout is the steps `surge predict` takes one by one.
  torch::Tensor s = state;
  for (int k = 0; k < 3; ++k) s = cpp.step(s, p);
  EXPECT_EQ(
      std::memcmp(s.contiguous().data_ptr<float>(), path.data() + 3 * 192, 192 * sizeof(float)), 0);
}

// `call` fails with `status` and a last error containing `text`.
void expect_failure(int got, int status, const std::string& text) {
  EXPECT_EQ(got, status);
  const std::string message = surge_surrogate_last_error();
  EXPECT_NE(message.find(text), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "more than one line: " << message;
}

TEST(SurrogateCApi, MissingAndCorruptDirectoriesFailToLoad) {
  const std::string dir = mlp_model();
  surge_surrogate* s = reinterpret_cast<surge_surrogate*>(&s);
  const fs::path root = fs::path(dir).parent_path();
  expect_failure(surge_surrogate_load(&s, (root / "nowhere").c_str()), SURGE_SURROGATE_ERROR_LOAD,
                 "does not exist");
  EXPECT_EQ(s, nullptr);
  fs::create_directories(root / "empty");
  expect_failure(surge_surrogate_load(&s, (root / "empty").c_str()), SURGE_SURROGATE_ERROR_LOAD,
                 "holds no surrogate.yaml");

  const fs::path weights = root / "bad_weights";
  fs::copy(dir, weights);
  fs::resize_file(weights / "model.pt", fs::file_size(weights / "model.pt") / 2);
  expect_failure(surge_surrogate_load(&s, weights.c_str()), SURGE_SURROGATE_ERROR_LOAD,
                 "cannot read weights");

  const fs::path yaml = root / "bad_yaml";
  fs::copy(dir, yaml);
  std::ofstream(yaml / "surrogate.yaml") << "format_version: [1\n";
  expect_failure(surge_surrogate_load(&s, yaml.c_str()), SURGE_SURROGATE_ERROR_LOAD,
                 "surrogate.yaml");
  EXPECT_EQ(s, nullptr);

  expect_failure(surge_surrogate_load(&s, nullptr), SURGE_SURROGATE_ERROR_ARGUMENT, "NULL");
  expect_failure(surge_surrogate_load(nullptr, dir.c_str()), SURGE_SURROGATE_ERROR_ARGUMENT,
                 "NULL");
  surge_surrogate_free(nullptr);
}

TEST(SurrogateCApi, MisuseIsAnArgumentError) {
  Handle mlp(mlp_model());
  Handle fno(fno_model());
  const std::vector<double> p{1, 2, 3};
  std::vector<float> out(4 * 192);
  expect_failure(surge_surrogate_predict(mlp.s, p.data(), 2, 0.5, out.data(), 30),
                 SURGE_SURROGATE_ERROR_ARGUMENT, "takes 3 parameters, got 2");
  expect_failure(surge_surrogate_predict(mlp.s, p.data(), 3, 0.5, out.data(), 29),
                 SURGE_SURROGATE_ERROR_ARGUMENT, "out holds 29 floats; the surrogate needs 30");
  expect_failure(surge_surrogate_predict(mlp.s, p.data(), 3, 0.5, nullptr, 30),
                 SURGE_SURROGATE_ERROR_ARGUMENT, "NULL");
  expect_failure(surge_surrogate_predict(nullptr, p.data(), 3, 0.5, out.data(), 30),
                 SURGE_SURROGATE_ERROR_ARGUMENT, "NULL");
  expect_failure(surge_surrogate_step(mlp.s, out.data(), p.data(), 3, out.data(), 30),
                 SURGE_SURROGATE_ERROR_ARGUMENT, "needs a next_step model");
  expect_failure(surge_surrogate_predict(fno.s, p.data(), 2, 0.5, out.data(), 192),
                 SURGE_SURROGATE_ERROR_ARGUMENT, "needs a field_from_parameters model");
  expect_failure(surge_surrogate_rollout(fno.s, out.data(), p.data(), 2, -1, out.data(), 0),
                 SURGE_SURROGATE_ERROR_ARGUMENT, "steps must be >= 0");
  expect_failure(surge_surrogate_rollout(fno.s, nullptr, p.data(), 2, 1, out.data(), 384),
                 SURGE_SURROGATE_ERROR_ARGUMENT, "the state is NULL");
  const char* name = nullptr;
  expect_failure(surge_surrogate_channel_name(fno.s, 3, &name), SURGE_SURROGATE_ERROR_ARGUMENT,
                 "channel index 3 is outside [0, 3)");
  // A success clears the message.
  std::int64_t n = 0;
  ASSERT_EQ(surge_surrogate_output_size(fno.s, &n), SURGE_SURROGATE_OK);
  EXPECT_STREQ(surge_surrogate_last_error(), "");
}

// The C program c_status_codes.c checks every code surrogate.h documents on an MLP.
TEST(SurrogateCApi, EveryDocumentedStatusCodeFromC) {
  const std::string dir = mlp_model();
  const std::string cmd = std::string(SURGE_C_STATUS_CODES) + " " + dir + " " +
                          (fs::path(dir).parent_path() / "nowhere").string();
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << cmd;
  EXPECT_EQ(WEXITSTATUS(status), 0) << cmd;
}

TEST(SurrogateCApi, OneHandleServesSeveralThreads) {
  const std::string dir = mlp_model();
  const Surrogate cpp = Surrogate::load(dir);
  Handle h(dir);
  constexpr int kThreads = 4;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const std::vector<double> p{100.0 + 50 * i, 200.0, 0.5};
      const torch::Tensor expected = cpp.predict(p, 0.25);
      std::vector<float> out(30);
      for (int k = 0; k < 50; ++k) {
        if (surge_surrogate_predict(h.s, p.data(), 3, 0.25, out.data(), 30) != 0 ||
            !same_bits(expected, out))
          ++mismatches[static_cast<std::size_t>(i)];
      }
      // Each thread sees its own last error.
      (void)surge_surrogate_predict(h.s, p.data(), i, 0.25, out.data(), 30);
      errors[static_cast<std::size_t>(i)] = surge_surrogate_last_error();
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(mismatches[static_cast<std::size_t>(i)], 0) << "thread " << i;
    if (i == 3)
      EXPECT_EQ(errors[3], "");
    else
      EXPECT_NE(errors[static_cast<std::size_t>(i)].find("got " + std::to_string(i)),
                std::string::npos)
          << errors[static_cast<std::size_t>(i)];
  }
}

}  // namespace
}  // namespace surge::surrogates
