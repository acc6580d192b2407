// The trainer and the exported surrogate: learning a field map with a known answer,
// schedules and budgets, exact checkpoint resume, export -> load -> identical predictions,
// and the errors of loading a broken directory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "helpers.hpp"
#include "surge/core/error.hpp"
#include "surge/surrogate.hpp"

namespace fs = std::filesystem;
using namespace surge;
using namespace surge::surrogates;
using namespace surge::surrogates::testing;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::path(SURGE_BINARY_DIR) / "test_output" / "surrogates" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

ValidationSet as_validation(std::vector<reservoir::Sample> samples) {
  ValidationSet v;
  v.samples = std::move(samples);
  return v;
}

}  // namespace

// u(b1..b4) is linear in the boundary values, so a small MLP learns it; 1 % relative L2 on
// held-out boundary values is the stated tolerance. The untrained model is far from it, so
// the assertion can fail.
TEST(Trainer, MlpLearnsSteadyHeatMapToOnePercent) {
  const int n = 12;
  const HeatMap map(n);
  const auto train = heat_samples(map, 512, 1, false);
  const ValidationSet validation = as_validation(heat_samples(map, 64, 2, false));
  TrainingConfig c = quick_training(1500);
  c.optimizer.lr = 3e-3;
  c.schedule.type = "cosine";
  c.validate_every = 500;
  Trainer trainer(mlp({64, 64}), c, heat_description(n, false));
  const double before = trainer.validate(validation).fields.at(0).relative_l2;
  auto buffer = filled_buffer(train, 32, "reservoir", 1000.0);
  std::int64_t calls = 0;
  const StopReason reason =
      trainer.train(*buffer, validation, [&](const TrainingRecord& r) { calls += r.batch > 0; });
  EXPECT_EQ(reason, StopReason::kBatchBudget);
  EXPECT_EQ(trainer.batches(), 1500);
  EXPECT_EQ(calls, 1500);
  ASSERT_EQ(trainer.history().training.size(), 1500u);
  ASSERT_EQ(trainer.history().validation.size(), 3u);  // batches 500, 1000, 1500
  EXPECT_EQ(trainer.history().validation.back().batch, 1500);
  const FieldMetrics after = trainer.history().validation.back().fields.at(0);
  EXPECT_EQ(after.field, "temperature");
  EXPECT_GT(before, 0.05);
  EXPECT_LT(after.relative_l2, 0.01) << "relative L2 before training: " << before;
  EXPECT_LT(after.nrmse, 0.01);
  EXPECT_LT(after.vrmse, 0.1);
  // Output statistics: the mean of the steady field is close to the mean boundary value.
  EXPECT_NEAR(trainer.output_mean().at(0), 300.0, 30.0);
}

// The per-member statistic is the mean of the per-sample losses the batches computed. A FIFO
// buffer with batches of 8 and 8 samples per simulation in order: batch k holds simulation k
// alone, so its statistic is that batch's loss. Then batches that mix 4 simulations: the
// table's totals are the batches' (loss x samples) summed.
TEST(Trainer, PerMemberLossesAreTheLossesTrainedOn) {
  const HeatMap map(6);
  auto samples = heat_samples(map, 8 * 10, 3, false);
  for (std::size_t i = 0; i < samples.size(); ++i)
    samples[i].simulation_id = static_cast<std::int64_t>(i / 8);
  TrainingConfig c = quick_training(10);
  c.optimizer.lr = 1e-2;
  Trainer trainer(mlp({8}), c, heat_description(6, false));
  auto buffer = filled_buffer(samples, 8);
  (void)trainer.train(*buffer, {});
  const MemberLosses& losses = trainer.member_losses();
  ASSERT_EQ(losses.size(), 10u);
  for (std::int64_t k = 0; k < 10; ++k) {
    const double batch_loss = trainer.history().training.at(static_cast<std::size_t>(k)).loss;
    const MemberLoss* l = losses.find(k);
    ASSERT_NE(l, nullptr) << k;
    ASSERT_EQ(l->samples, 8) << k;
    EXPECT_NEAR(l->loss_sum / 8, batch_loss, 1e-6 * batch_loss) << k;
    EXPECT_NEAR(l->mean_loss(), batch_loss, 1e-6 * batch_loss) << k;
    // All 8 items fresh, in one batch: their losses over its mean average 1.
    ASSERT_EQ(l->fresh_samples, MemberLosses::kFreshItems) << k;
    EXPECT_NEAR(l->fresh_ratio_sum / 8, 1.0, 1e-6) << k;
    EXPECT_NEAR(l->fresh_ratio(), 1.0, 1e-6) << k;
  }

  for (std::size_t i = 0; i < samples.size(); ++i)
    samples[i].simulation_id = 100 + static_cast<std::int64_t>(i % 4);
  TrainingConfig mixed = quick_training(30);
  Trainer again(mlp({8}), mixed, heat_description(6, false));
  auto replay = filled_buffer(samples, 8, "reservoir", 2.0);
  (void)again.train(*replay, {});
  double booked = 0, trained = 0;
  std::int64_t count = 0;
  again.member_losses().for_each([&](std::int64_t id, const MemberLoss& l) {
    EXPECT_GE(id, 100);
    EXPECT_LT(id, 104);
    booked += l.loss_sum;
    count += l.samples;
    // Only the first items of a simulation are fresh.
    EXPECT_EQ(l.fresh_samples, std::min(l.samples, MemberLosses::kFreshItems)) << id;
  });
  for (const auto& r : again.history().training) trained += r.loss * static_cast<double>(r.samples);
  EXPECT_EQ(count, 8 * again.batches());
  EXPECT_NEAR(booked, trained, 1e-6 * trained);
  again.set_member_losses({});
  EXPECT_TRUE(again.member_losses().empty());
}

// The fresh ratio is the item's relative L2 error, ||prediction - y|| / ||y|| in physical
// units, over its batch's mean: one batch of 8 simulations whose fields differ in size by a
// factor of 8, each item booked with its trained loss (an MSE in units of the field's std).
// An item's relative L2 error is then the square root of its loss times std^2 over the mean
// of its y^2, computed here from the samples themselves; the loss over the batch's loss (the
// statistic before) differs from it by factors up to 64.
TEST(Trainer, FreshRatiosAreRelativeL2ErrorsOverTheBatchMean) {
  const HeatMap map(6);
  auto samples = heat_samples(map, 8, 5, false);
  std::vector<double> energy;  // mean of y^2, physical units
  for (std::size_t i = 0; i < samples.size(); ++i) {
    samples[i].simulation_id = static_cast<std::int64_t>(i);
    const float scale = 0.2f * static_cast<float>(i + 1);
    double e = 0;
    for (float& v : samples[i].y) {
      v *= scale;
      e += static_cast<double>(v) * static_cast<double>(v);
    }
    energy.push_back(e / static_cast<double>(samples[i].y.size()));
  }
  Trainer trainer(mlp({8}), quick_training(1), heat_description(6, false));
  auto buffer = filled_buffer(samples, 8);
  (void)trainer.train(*buffer, {});
  const double sd = trainer.output_std().at(0);
  const MemberLosses& losses = trainer.member_losses();
  ASSERT_EQ(losses.size(), 8u);
  std::vector<double> relative;
  double mean = 0, ratios = 0, apart = 0, batch = 0;
  for (std::int64_t k = 0; k < 8; ++k) {
    const MemberLoss* l = losses.find(k);
    ASSERT_NE(l, nullptr) << k;
    ASSERT_EQ(l->samples, 1) << k;
    ASSERT_EQ(l->fresh_samples, 1) << k;
    relative.push_back(std::sqrt(l->loss_sum * sd * sd / energy[static_cast<std::size_t>(k)]));
    mean += relative.back() / 8;
    batch += l->loss_sum / 8;
  }
  for (std::int64_t k = 0; k < 8; ++k) {
    const MemberLoss* l = losses.find(k);
    const double expected = relative[static_cast<std::size_t>(k)] / mean;
    EXPECT_NEAR(l->fresh_ratio(), expected, 1e-5 * expected) << k;
    ratios += l->fresh_ratio();
    // Not the loss over the batch's loss (the assertion below can fail).
    apart = std::max(apart, std::abs(l->fresh_ratio() - l->loss_sum / batch) / expected);
  }
  EXPECT_NEAR(ratios, 8.0, 1e-5);
  EXPECT_GT(apart, 0.5);
  EXPECT_NEAR(trainer.history().training.at(0).loss, batch, 1e-6 * batch);
}

TEST(Trainer, SchedulesGiveTheDocumentedRates) {
  const HeatMap map(6);
  const auto samples = heat_samples(map, 8 * 12, 3, false);
  auto rates = [&](const ScheduleConfig& s) {
    TrainingConfig c = quick_training(12);
    c.optimizer.lr = 0.1;
    c.schedule = s;
    Trainer trainer(mlp({4}), c, heat_description(6, false));
    auto buffer = filled_buffer(samples, 8);
    (void)trainer.train(*buffer, {});
    std::vector<double> out;
    for (const auto& r : trainer.history().training) out.push_back(r.learning_rate);
    return out;
  };
  ScheduleConfig step;
  step.type = "step";
  step.step_size = 5;
  step.gamma = 0.5;
  auto r = rates(step);
  ASSERT_EQ(r.size(), 12u);
  EXPECT_DOUBLE_EQ(r[4], 0.1);
  EXPECT_DOUBLE_EQ(r[5], 0.05);
  EXPECT_DOUBLE_EQ(r[10], 0.025);
  ScheduleConfig multi;
  multi.type = "multistep";
  multi.milestones = {3, 7};
  multi.gamma = 0.1;
  r = rates(multi);
  EXPECT_DOUBLE_EQ(r[2], 0.1);
  EXPECT_DOUBLE_EQ(r[3], 0.1 * 0.1);
  EXPECT_DOUBLE_EQ(r[7], 0.1 * 0.1 * 0.1);
  ScheduleConfig cosine;
  cosine.type = "cosine";
  cosine.period = 10;
  cosine.min_lr = 0.01;
  cosine.warmup_batches = 2;
  r = rates(cosine);
  EXPECT_DOUBLE_EQ(r[0], 0.1 * 0.5);  // warm-up: (b + 1) / 2 of the cosine rate at b = 0
  EXPECT_NEAR(r[5], 0.01 + 0.09 * 0.5, 1e-15);
  EXPECT_DOUBLE_EQ(r[10], 0.01);
  EXPECT_DOUBLE_EQ(r[11], 0.01);
}

TEST(Trainer, StopsOnExhaustionAndOnTheTimeBudget) {
  const HeatMap map(6);
  const auto samples = heat_samples(map, 8 * 3 + 5, 4, false);
  {
    Trainer trainer(mlp({4}), quick_training(100), heat_description(6, false));
    auto buffer = filled_buffer(samples, 8);
    EXPECT_EQ(trainer.train(*buffer, {}), StopReason::kExhausted);
    EXPECT_EQ(trainer.batches(), 4);  // three full batches and a last one of 5
    EXPECT_EQ(trainer.history().training.back().samples, 5);
  }
  {
    TrainingConfig c = quick_training(0);
    c.max_seconds = 1e-9;
    Trainer trainer(mlp({4}), c, heat_description(6, false));
    auto buffer = filled_buffer(samples, 8);
    EXPECT_EQ(trainer.train(*buffer, {}), StopReason::kTimeBudget);
    EXPECT_EQ(trainer.batches(), 1);
  }
}

TEST(Trainer, RejectsSamplesOfTheWrongSize) {
  const HeatMap map(6);
  auto samples = heat_samples(map, 8, 5, false);
  for (auto& s : samples) s.y.pop_back();
  Trainer trainer(mlp({4}), quick_training(10), heat_description(6, false));
  auto buffer = filled_buffer(samples, 8);
  try {
    (void)trainer.train(*buffer, {});
    FAIL() << "no ProtocolError";
  } catch (const core::ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("x of 4 and y of 35 values; the model takes 4 and 36"),
              std::string::npos)
        << e.what();
  }
}

// 2k batches straight equal k batches, a checkpoint, a new trainer that loads it, and k more:
// same weights bit for bit (model, Adam moments, step, normaliser and schedule restored).
TEST(Trainer, CheckpointResumeIsExact) {
  const int k = 15, batch = 8;
  const HeatMap map(6);
  const auto samples = heat_samples(map, 2 * k * batch, 6, true);
  const std::vector<reservoir::Sample> second(samples.begin() + k * batch, samples.end());
  const fs::path dir = fresh_dir("checkpoint");
  TrainingConfig c = quick_training(2 * k);
  c.optimizer.type = "adamw";
  c.optimizer.weight_decay = 0.01;
  c.schedule.type = "cosine";
  c.grad_clip = 0.5;
  c.checkpoint_every = k;
  c.checkpoint_dir = (dir / "a").string();
  const IoDescription io = heat_description(6, true);

  Trainer straight(mlp({16, 16}, "tanh"), c, io);
  auto all = filled_buffer(samples, batch);
  ASSERT_EQ(straight.train(*all, {}), StopReason::kBatchBudget);
  ASSERT_TRUE(fs::exists(dir / "a" / ("checkpoint_" + std::to_string(k) + ".pt")));
  EXPECT_EQ(*Trainer::latest_checkpoint(c.checkpoint_dir),
            (dir / "a" / ("checkpoint_" + std::to_string(2 * k) + ".pt")).string());

  c.checkpoint_dir = (dir / "b").string();
  Trainer resumed(mlp({16, 16}, "tanh"), c, io);
  resumed.load_checkpoint((dir / "a" / ("checkpoint_" + std::to_string(k) + ".pt")).string());
  EXPECT_EQ(resumed.batches(), k);
  EXPECT_EQ(resumed.history().training.size(), static_cast<std::size_t>(k));
  auto rest = filled_buffer(second, batch);
  ASSERT_EQ(resumed.train(*rest, {}), StopReason::kBatchBudget);
  EXPECT_EQ(resumed.batches(), 2 * k);

  const auto a = straight.flat_parameters(), b = resumed.flat_parameters();
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  EXPECT_EQ(straight.output_mean(), resumed.output_mean());
  for (int i = 0; i < 2 * k; ++i)
    EXPECT_EQ(straight.history().training[static_cast<std::size_t>(i)].loss,
              resumed.history().training[static_cast<std::size_t>(i)].loss)
        << "batch " << i + 1;

  // Control: without the checkpoint the second half alone ends elsewhere.
  Trainer fresh(mlp({16, 16}, "tanh"), c, io);
  auto again = filled_buffer(second, batch);
  (void)fresh.train(*again, {});
  EXPECT_NE(std::memcmp(a.data(), fresh.flat_parameters().data(), a.size() * sizeof(float)), 0);

  // A checkpoint of another architecture is refused.
  Trainer other(mlp({8}), c, io);
  EXPECT_THROW(
      other.load_checkpoint((dir / "a" / ("checkpoint_" + std::to_string(k) + ".pt")).string()),
      core::ConfigError);
}

TEST(Surrogate, ExportLoadPredictsIdentically) {
  const int n = 6;
  const HeatMap map(n);
  const auto train = heat_samples(map, 160, 8, true);
  const auto held = heat_samples(map, 10, 9, true);
  Trainer trainer(mlp({16}, "gelu"), quick_training(20), heat_description(n, true));
  auto buffer = filled_buffer(train, 8);
  (void)trainer.train(*buffer, {});
  const fs::path dir = fresh_dir("export") / "model";
  trainer.export_model(dir.string());

  const Surrogate s = Surrogate::load(dir.string());
  EXPECT_EQ(s.architecture(), "mlp");
  EXPECT_EQ(s.kind(), "field_from_parameters");
  EXPECT_EQ(s.solver(), "heat2d");
  EXPECT_EQ(s.input_names(), (std::vector<std::string>{"b1", "b2", "b3", "b4", "t"}));
  EXPECT_EQ(s.parameter_names(), (std::vector<std::string>{"b1", "b2", "b3", "b4"}));
  EXPECT_EQ(s.field_names(), std::vector<std::string>{"temperature"});
  EXPECT_EQ(s.grid(), (std::vector<std::int64_t>{n, n}));
  EXPECT_EQ(s.times(), (std::vector<double>{0.25, 0.5, 0.75, 1.0}));
  EXPECT_NE(s.metadata_yaml().find("trained_batches: 20"), std::string::npos);

  std::vector<float> x;
  for (const auto& h : held) x.insert(x.end(), h.x.begin(), h.x.end());
  const auto expected = trainer.predict(x, static_cast<std::int64_t>(held.size()));
  const torch::Tensor xt =
      torch::from_blob(x.data(), {static_cast<std::int64_t>(held.size()), 5}, torch::kFloat);
  const torch::Tensor y = s.predict(xt).contiguous();
  ASSERT_EQ(y.sizes(), (std::vector<std::int64_t>{10, n * n}));
  EXPECT_EQ(std::memcmp(y.data_ptr<float>(), expected.data(), expected.size() * sizeof(float)), 0);

  // The convenience form returns the field of one row, shaped [fields, nx, ny].
  const auto& h = held[3];
  const torch::Tensor field = s.predict({h.x[0], h.x[1], h.x[2], h.x[3]}, h.x[4]).contiguous();
  ASSERT_EQ(field.sizes(), (std::vector<std::int64_t>{1, n, n}));
  const torch::Tensor row = s.predict(xt[3]).contiguous();  // [input_size] -> [output_size]
  ASSERT_EQ(row.sizes(), (std::vector<std::int64_t>{n * n}));
  EXPECT_EQ(std::memcmp(field.data_ptr<float>(), row.data_ptr<float>(), n * n * sizeof(float)), 0);
  // One row and a batch of ten take different GEMM kernels: equal to rounding.
  for (int k = 0; k < n * n; ++k)
    EXPECT_NEAR(row[k].item<float>(), expected[static_cast<std::size_t>(3 * n * n + k)],
                1e-5 * std::abs(expected[static_cast<std::size_t>(3 * n * n + k)]) + 1e-4);
  EXPECT_THROW((void)s.predict({1.0, 2.0}, 0.5), core::ConfigError);
  EXPECT_THROW((void)s.predict(torch::zeros({2, 4})), core::ConfigError);

  // The trainer's validation metrics are The Well's metrics of these predictions.
  ValidationSet v = as_validation(held);
  const ValidationRecord record = trainer.validate(v);
  std::vector<float> target;
  for (const auto& hh : held) target.insert(target.end(), hh.y.begin(), hh.y.end());
  const auto metrics = mean_field_metrics(expected, target, 10, {"temperature"}, n * n);
  EXPECT_DOUBLE_EQ(record.fields[0].relative_l2, metrics[0].relative_l2);
  EXPECT_DOUBLE_EQ(record.fields[0].vrmse, metrics[0].vrmse);
}

TEST(Surrogate, LoadErrorsNameTheProblem) {
  auto message = [](const std::string& dir) -> std::string {
    try {
      (void)Surrogate::load(dir);
    } catch (const core::Error& e) {
      return std::string(e.kind()) + ": " + e.message();
    }
    return "no error";
  };
  const fs::path root = fresh_dir("load_errors");
  EXPECT_NE(message((root / "missing").string()).find("I/O error: surrogate directory"),
            std::string::npos);
  fs::create_directories(root / "empty");
  EXPECT_NE(message((root / "empty").string()).find("holds no surrogate.yaml"), std::string::npos);

  const HeatMap map(6);
  Trainer trainer(mlp({8}), quick_training(2), heat_description(6, false));
  auto buffer = filled_buffer(heat_samples(map, 16, 10, false), 8);
  (void)trainer.train(*buffer, {});
  auto exported = [&](const std::string& name) {
    const fs::path dir = root / name;
    trainer.export_model(dir.string());
    return dir;
  };
  auto rewrite = [](const fs::path& file, const std::string& from, const std::string& to) {
    std::ifstream in(file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    std::ofstream(file) << text;
  };
  EXPECT_EQ(message(exported("good").string()), "no error");

  const fs::path no_weights = exported("no_weights");
  fs::remove(no_weights / "model.pt");
  EXPECT_NE(message(no_weights.string()).find("holds no model.pt"), std::string::npos);

  const fs::path corrupt = exported("corrupt");
  std::ofstream(corrupt / "model.pt", std::ios::trunc) << "not a torch archive";
  EXPECT_NE(message(corrupt.string()).find("I/O error: cannot read weights"), std::string::npos)
      << message(corrupt.string());

  const fs::path unknown = exported("unknown");
  rewrite(unknown / "surrogate.yaml", "type: mlp", "type: fno9");
  EXPECT_NE(
      message(unknown.string())
          .find("config error: unknown model architecture 'fno9' (known: fno, graphnet, mlp)"),
      std::string::npos)
      << message(unknown.string());

  const fs::path wider = exported("wider");
  rewrite(wider / "surrogate.yaml", "hidden: [8]", "hidden: [9]");
  EXPECT_NE(message(wider.string()).find("do not fit the architecture"), std::string::npos)
      << message(wider.string());

  const fs::path garbled = exported("garbled");
  std::ofstream(garbled / "surrogate.yaml", std::ios::trunc) << "format_version: [1\n";
  EXPECT_NE(message(garbled.string()).find("config error"), std::string::npos)
      << message(garbled.string());
}

// A batch of at least 2^18 target values is gathered and normalised by two threads when the
// trainer has two cores (core::SplitWorker): each row's statistics are summed apart and added
// in row order, so the statistics, and so the losses, are the doubles of one thread, bit for
// bit. The same trainer on one core is the reference; the split count shows which path ran.
TEST(Trainer, LargeBatchesAssembledByTwoThreadsTrainAsOnOne) {
  const int n = 32;  // 1024 values a sample: batch 256 holds 2^18
  const HeatMap map(n);
  const auto train = heat_samples(map, 512, 3, false);
  const TrainingConfig c = quick_training(6);
  auto run = [&](int cores) {
    Trainer trainer(mlp({16}), c, heat_description(n, false), MPI_COMM_SELF, {}, cores);
    auto buffer = filled_buffer(train, 256, "reservoir", 10.0);
    EXPECT_EQ(trainer.train(*buffer, {}), StopReason::kBatchBudget);
    std::vector<double> losses;
    for (const auto& r : trainer.history().training) losses.push_back(r.loss);
    return std::make_tuple(trainer.output_mean(), trainer.output_std(), losses,
                           trainer.timing().split_batches);
  };
  const auto [mean1, std1, losses1, split1] = run(1);
  const auto [mean2, std2, losses2, split2] = run(2);
  EXPECT_EQ(split1, 0);
  EXPECT_EQ(split2, 6);
  ASSERT_EQ(losses1.size(), 6u);
  EXPECT_EQ(mean1, mean2);
  EXPECT_EQ(std1, std2);
  EXPECT_EQ(losses1, losses2);
  EXPECT_NE(losses1.front(), losses1.back());  // it trained
}
