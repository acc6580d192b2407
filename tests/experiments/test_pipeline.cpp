// The study driver (experiments/src/pipeline) over a fake sample source: the stages run in
// order, every sample the source made is trained on or counted, a source's failure ends the
// study with exit code 1 and its words in results.h5, and the stop agreement's exit codes.
#include <gtest/gtest.h>
#include <mpi.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../surrogates/helpers.hpp"
#include "pipeline/pipeline.hpp"
#include "pipeline/stop_agreement.hpp"
#include "surge/core/hdf5.hpp"
#include "surge/reservoir/registry.hpp"

namespace surge::experiments {
namespace {

namespace fs = std::filesystem;
using surrogates::testing::HeatMap;

// Puts `samples` into the buffer from its own thread; fails (error() says so) after `fail_at`
// samples when >= 0. Records the stages it was called at.
class FakeSource final : public SampleSource {
 public:
  FakeSource(reservoir::Buffer<reservoir::Sample>& buffer, std::vector<reservoir::Sample> samples,
             std::vector<reservoir::Sample> validation, int fail_at)
      : buffer_(buffer),
        samples_(std::move(samples)),
        validation_(std::move(validation)),
        fail_at_(fail_at) {}
  ~FakeSource() override { shutdown(); }

  const char* what_stops() const override { return "the fake"; }
  void start() override {
    record("start");
    thread_ = std::thread([this] {
      for (auto s : samples_) {
        if (fail_at_ >= 0 && put_ == fail_at_) {
          std::lock_guard<std::mutex> lock(mutex_);
          error_ = "the fake failed at sample " + std::to_string(fail_at_);
          return;
        }
        if (!buffer_.put(std::move(s))) return;
        ++put_;
      }
      buffer_.end_of_reception();
    });
  }
  std::vector<reservoir::Sample> validation() override {
    record("validation");
    return validation_;
  }
  std::string error() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return error_;
  }
  void stop() override { buffer_.close(); }
  bool drained() const override { return true; }
  void shutdown() override {
    if (thread_.joinable()) thread_.join();
  }
  std::string progress(const surrogates::TrainingRecord&) const override { return "fake"; }
  std::string describe_errors(const std::vector<std::string>& by_rank) const override {
    return by_rank.at(0).empty() ? std::string() : "fake error: " + by_rank[0];
  }
  RunSummary summarise(double seconds, const std::string& stop_reason) override {
    record("summarise");
    RunSummary s;
    s.study = "fake";
    s.resolved_config = "study: {name: fake}\n";
    s.parameter_names = {"b1", "b2", "b3", "b4"};
    s.samples[0] = put_;
    s.seconds = seconds;
    s.stop_reason = stop_reason;
    s.reservoir_policy = "fifo";
    s.reservoir = buffer_.statistics();
    return s;
  }
  void report(const RunSummary& summary, const StudyOutputs&, std::int64_t batches,
              int code) const override {
    record("report");
    reported_code = code;
    reported_reason = summary.stop_reason;
    reported_batches = batches;
  }

  std::vector<std::string> stages() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stages_;
  }
  std::int64_t put() const { return put_; }
  mutable int reported_code = -1;
  mutable std::string reported_reason;
  mutable std::int64_t reported_batches = -1;

 private:
  void record(const char* stage) const {
    std::lock_guard<std::mutex> lock(mutex_);
    stages_.emplace_back(stage);
  }
  reservoir::Buffer<reservoir::Sample>& buffer_;
  const std::vector<reservoir::Sample> samples_;
  const std::vector<reservoir::Sample> validation_;
  const int fail_at_;
  std::atomic<std::int64_t> put_{0};
  mutable std::mutex mutex_;
  std::string error_;
  mutable std::vector<std::string> stages_;
  std::thread thread_;
};

std::unique_ptr<reservoir::Buffer<reservoir::Sample>> fifo(std::int64_t capacity) {
  core::Pluggable part;
  part.type = "fifo";
  part.parameters["capacity"] = capacity;
  part.parameters["batch_size"] = 16;
  part.parameters["watermark"] = 16;
  part.parameters["seed"] = 7;
  return reservoir::make_buffer<reservoir::Sample>(part);
}

struct FakeRun {
  int code = -1;
  std::unique_ptr<FakeSource> source;
  std::int64_t batches = 0;
  fs::path out;
};

FakeRun run_fake(const std::string& name, int samples, int fail_at) {
  const HeatMap map(6);
  FakeRun run;
  run.out = fs::path(::testing::TempDir()) / ("surge_pipeline_" + name);
  fs::remove_all(run.out);
  fs::create_directories(run.out);
  auto buffer = fifo(64);
  run.source = std::make_unique<FakeSource>(
      *buffer, surrogates::testing::heat_samples(map, samples, 1, true),
      surrogates::testing::heat_samples(map, 8, 2, true), fail_at);
  const surrogates::IoDescription io = surrogates::testing::heat_description(6, true);
  surrogates::Trainer trainer(surrogates::testing::mlp({8}),
                              surrogates::testing::quick_training(100000), io, MPI_COMM_WORLD);
  StudyState state{*run.source, *buffer, trainer, io, run.out};
  PipelineOptions options;
  options.component = "test";
  options.plots = false;
  run.code = run_pipeline(state, options);
  run.batches = trainer.batches();
  return run;
}

std::string stop_reason_in(const fs::path& results) {
  core::h5::File file = core::h5::open_file(results.string());
  return core::h5::read_attribute_string(file, "stop_reason");
}

TEST(Pipeline, RunsItsStagesInOrderAndTrainsOnEverySample) {
  const FakeRun run = run_fake("clean", 480, -1);
  EXPECT_EQ(run.code, 0);
  EXPECT_EQ(run.source->stages(),
            (std::vector<std::string>{"start", "validation", "summarise", "report"}));
  EXPECT_EQ(run.source->put(), 480);
  // A fifo buffer serves each sample once, in batches of 16: 480 / 16 batches, then exhausted.
  EXPECT_EQ(run.batches, 30);
  EXPECT_EQ(run.source->reported_batches, 30);
  EXPECT_EQ(run.source->reported_reason, "buffer exhausted");
  EXPECT_TRUE(fs::exists(run.out / "model"));
  EXPECT_EQ(stop_reason_in(run.out / "results.h5"), "buffer exhausted");
}

TEST(Pipeline, ASourceFailureStopsTheStudyWithItsWordsAndExitCodeOne) {
  const FakeRun run = run_fake("failing", 100000, 200);
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.source->put(), 200);
  EXPECT_EQ(run.source->reported_code, 1);
  EXPECT_EQ(run.source->reported_reason, "fake error: the fake failed at sample 200");
  EXPECT_EQ(stop_reason_in(run.out / "results.h5"), "fake error: the fake failed at sample 200");
  // What was trained before the failure is kept.
  EXPECT_TRUE(fs::exists(run.out / "model"));
}

TEST(StopAgreement, ExitCodesSayFailedBeforeInterrupted) {
  EXPECT_EQ(StopAgreement::exit_code(false, false), 0);
  EXPECT_EQ(StopAgreement::exit_code(false, true), 130);
  EXPECT_EQ(StopAgreement::exit_code(true, true), 1);
  EXPECT_EQ(StopAgreement::exit_code(true, false), 1);
}

TEST(StopAgreement, OneRankAgreesWithItselfAndKeepsTheCheckpointClock) {
  StopAgreement agreement(0.05);
  StopAgreement::Verdict v = agreement.agree(false, false);
  EXPECT_FALSE(v.stop);
  EXPECT_FALSE(v.drained);
  EXPECT_FALSE(v.checkpoint);
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  v = agreement.agree(true, true);
  EXPECT_TRUE(v.stop);
  EXPECT_TRUE(v.drained);
  EXPECT_TRUE(v.checkpoint);
  agreement.checkpoint_done();
  EXPECT_FALSE(agreement.agree(false, true).checkpoint);
  EXPECT_FALSE(StopAgreement(0.0).agree(false, true).checkpoint);
}

}  // namespace
}  // namespace surge::experiments
