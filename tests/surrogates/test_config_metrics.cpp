// Torch-free parts of surrogates: The Well's metrics against hand-computed values, the
// thread choice, the training and model configuration, and the I/O description.
#include <gtest/gtest.h>

#include <cmath>

#include "surge/core/error.hpp"
#include "surge/surrogates/config.hpp"
#include "surge/surrogates/description.hpp"
#include "surge/surrogates/metrics.hpp"
#include "surge/surrogates/trainer.hpp"

using namespace surge;
using namespace surge::surrogates;

TEST(Metrics, MatchHandComputedValues) {
  // x = {1, 2, 3, 4}, y = {1, 2, 3, 5}: sum (x - y)^2 = 1, mean 0.25; sum y^2 = 39;
  // mean y = 2.75, var y = (1.75^2 + 0.75^2 + 0.25^2 + 2.25^2) / (4 - 1) = 35 / 12 (The Well
  // divides by the unbiased variance, as torch.std).
  const float x[] = {1, 2, 3, 4}, y[] = {1, 2, 3, 5};
  const FieldMetrics m = field_metrics(x, y, 4);
  EXPECT_NEAR(m.relative_l2, 1.0 / (std::sqrt(39.0) + 1e-7), 1e-15);
  EXPECT_NEAR(m.nrmse, std::sqrt(0.25 / (39.0 / 4 + 1e-7)), 1e-15);
  EXPECT_NEAR(m.vrmse, std::sqrt(0.25 / (35.0 / 12.0 + 1e-7)), 1e-15);
  EXPECT_NEAR(m.vrmse, 0.2927700, 1e-7);
  // A constant target has no variance: VRMSE is the RMSE over sqrt(1e-7).
  const float c[] = {2, 2, 2, 2};
  EXPECT_NEAR(field_metrics(x, c, 4).vrmse, std::sqrt(1.5 / 1e-7), 1e-6);
  // A perfect prediction scores 0 everywhere.
  const FieldMetrics zero = field_metrics(y, y, 4);
  EXPECT_EQ(zero.relative_l2, 0.0);
  EXPECT_EQ(zero.nrmse, 0.0);
  EXPECT_EQ(zero.vrmse, 0.0);
}

TEST(Metrics, MeanOverSamplesPerField) {
  // Two samples, fields a and b of two nodes each: [a0 a1 b0 b1] per row.
  const std::vector<float> target = {1, 3, 2, 2, /**/ 1, 3, 4, 0};
  const std::vector<float> prediction = {1, 3, 2, 2, /**/ 3, 1, 4, 2};
  const auto m = mean_field_metrics(prediction, target, 2, {"a", "b"}, 2);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].field, "a");
  // a: sample 0 exact; sample 1 mse = 4, unbiased var = 2 -> vrmse sqrt 2; mean over samples
  // = sqrt(2) / 2.
  EXPECT_NEAR(m[0].vrmse, 0.5 * std::sqrt(4.0 / (2.0 + 1e-7)), 1e-12);
  EXPECT_NEAR(m[0].relative_l2, 0.5 * std::sqrt(8.0) / (std::sqrt(10.0) + 1e-7), 1e-12);
  // b: sample 0 exact; sample 1 mse = 2, mean y^2 = 8 -> nrmse 0.5; mean = 0.25.
  EXPECT_NEAR(m[1].nrmse, 0.5 * std::sqrt(2.0 / (8.0 + 1e-7)), 1e-12);
  EXPECT_THROW((void)mean_field_metrics(prediction, target, 3, {"a", "b"}, 2), core::ConfigError);
}

TEST(Threads, ProductNeverExceedsTheCoresUnlessAskedFor) {
  ThreadChoice c = choose_threads({}, 8);
  EXPECT_EQ(c.intra_op, 1);
  EXPECT_EQ(c.blas, 8);
  EXPECT_FALSE(c.oversubscribed);
  ThreadsConfig t;
  t.intra_op = 2;
  c = choose_threads(t, 8);
  EXPECT_EQ(c.blas, 4);
  t = {};
  t.blas = 3;
  c = choose_threads(t, 8);
  EXPECT_EQ(c.intra_op, 2);
  EXPECT_LE(c.intra_op * c.blas, 8);
  t.intra_op = 4;
  t.blas = 4;
  EXPECT_TRUE(choose_threads(t, 8).oversubscribed);
  EXPECT_EQ(choose_threads({}, 0).cores, 1);
}

TEST(Config, EveryKeyIsDocumentedAndCheckedByName) {
  for (const auto& key : core::describe_config<TrainingConfig>()) {
    EXPECT_FALSE(key.doc.empty()) << key.key;
  }
  const auto keys = core::describe_config<TrainingConfig>();
  auto has = [&](const std::string& k) {
    return std::any_of(keys.begin(), keys.end(), [&](const core::KeyDoc& d) { return d.key == k; });
  };
  EXPECT_TRUE(has("optimizer.type"));
  EXPECT_TRUE(has("schedule.milestones"));
  EXPECT_TRUE(has("threads.blas"));
  EXPECT_TRUE(has("checkpoint_every"));

  auto error = [](const std::string& yaml) -> std::string {
    try {
      const auto c = core::read_config<TrainingConfig>(YAML::Load(yaml), {}, "training");
      validate(c);
    } catch (const core::ConfigError& e) {
      return e.message();
    }
    return "";
  };
  EXPECT_NE(error("optimizer: {type: lbfgs}").find("'training.optimizer.type' must be one of"),
            std::string::npos);
  EXPECT_NE(error("learning_rate: 1").find("learning_rate"), std::string::npos);
  EXPECT_NE(error("schedule: {type: multistep}").find("milestones"), std::string::npos);
  EXPECT_NE(error("schedule: {type: multistep, milestones: [5, 3]}").find("increasing"),
            std::string::npos);
  EXPECT_NE(error("schedule: {type: cosine}\nmax_batches: 0").find("cosine"), std::string::npos);
  EXPECT_EQ(error("schedule: {type: cosine}\noptimizer: {type: sgd, lr: 0.1}"), "");

  const auto types = model_types();
  ASSERT_EQ(types.size(), 3u);
  EXPECT_EQ(types[0].name, "fno");
  EXPECT_EQ(types[0].kind, "next_step");
  EXPECT_EQ(types[1].name, "graphnet");
  EXPECT_EQ(types[1].kind, "next_step");
  EXPECT_EQ(types[2].name, "mlp");
  EXPECT_EQ(types[2].kind, "field_from_parameters");
  EXPECT_EQ(model_kind("fno"), "next_step");
  EXPECT_THROW((void)model_kind("gnn"), core::ConfigError);
  ModelConfig m;
  m.type = "transformer";
  EXPECT_THROW(check_model_config(m), core::ConfigError);
  m.type = "mlp";
  m.parameters["activation"] = "softsign";
  try {
    check_model_config(m);
    FAIL();
  } catch (const core::ConfigError& e) {
    EXPECT_NE(e.message().find("'model.parameters.activation' must be one of"), std::string::npos)
        << e.message();
  }
  m.parameters["activation"] = "tanh";
  m.parameters["hidden"] = std::vector<int>{16, 0};
  EXPECT_THROW(check_model_config(m), core::ConfigError);
}

TEST(Description, RoundTripsThroughYamlAndRejectsNonsense) {
  IoDescription io;
  io.solver = "heat2d";
  io.inputs = {{"ic", 0, 200}, {"alpha", 0.5, 0.5}, {"t", 0, 0.1}};
  io.fields = {"temperature"};
  io.grid = {8, 4};
  io.times = {0.05, 0.1};
  const IoDescription back = IoDescription::from_yaml(io.to_yaml());
  EXPECT_EQ(back.inputs.size(), 3u);
  EXPECT_EQ(back.inputs[2].max, 0.1);
  EXPECT_EQ(back.grid, io.grid);
  EXPECT_EQ(back.times, io.times);
  EXPECT_EQ(back.output_size(), 32);
  EXPECT_TRUE(back.has_time());
  EXPECT_EQ(back.parameter_names(), (std::vector<std::string>{"ic", "alpha"}));
  io.inputs[0].min = 300;
  EXPECT_THROW(io.check(), core::ConfigError);
  io.inputs[0] = {"alpha", 0, 1};
  EXPECT_THROW(io.check(), core::ConfigError);
}
