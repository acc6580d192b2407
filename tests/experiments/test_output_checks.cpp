// Checks on a study's output directory before it starts: the estimate of what it writes, the
// warning when that exceeds the free space, and the refusals (a directory that cannot be
// written, a read-only results.h5), each one line naming the path.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "surge/core/error.hpp"
#include "surge/experiments/output_checks.hpp"
#include "surge/surrogates/description.hpp"

namespace fs = std::filesystem;
using namespace surge::experiments;

namespace {

// A heat field of 4 x 4 nodes from one parameter and t, at 3 frames.
surge::surrogates::IoDescription heat_io() {
  surge::surrogates::IoDescription io;
  io.inputs = {{"ic", 100.0, 500.0}, {"t", 0.0, 1.0}};
  io.fields = {"temperature"};
  io.grid = {4, 4};
  io.times = {0.0, 0.5, 1.0};
  return io;
}

ExperimentConfig small_study() {
  ExperimentConfig cfg;
  cfg.model.parameters["hidden"] = std::vector<int>{8};
  cfg.parameters.train_members = 4;
  cfg.parameters.validation_members = 2;
  cfg.training.max_batches = 100;
  cfg.training.validate_every = 50;
  cfg.study.checkpoint_every_s = 0.0;
  return cfg;
}

class OutputChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("surge_output_checks_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(dir_);
  }
  // The message of the ConfigError check_output_directory throws for `out`, or "".
  std::string refusal(const fs::path& out, bool overwrite = false) const {
    try {
      check_output_directory(small_study(), heat_io(), {}, out.string(), overwrite);
    } catch (const surge::core::ConfigError& e) {
      return e.message();
    }
    return "";
  }

  fs::path dir_;
};

}  // namespace

TEST(OutputEstimate, CountsEachKindOfFile) {
  ExperimentConfig cfg = small_study();
  const auto io = heat_io();
  // MLP 2 -> 8 -> 16: (2 * 8 + 8) + (8 * 16 + 16) weights.
  const std::int64_t weights = surge::surrogates::count_weights(cfg.model, io);
  EXPECT_EQ(weights, 168);
  const OutputEstimate base = estimate_output(cfg, io, weights, 1);
  EXPECT_EQ(base.model, 64u * 1024 + 4 * 168);
  EXPECT_EQ(base.checkpoints, 0u);
  EXPECT_EQ(base.logs, 6u * 4096);
  // Truth and prediction of 2 validation members x 3 frames x 16 nodes, as float.
  cfg.parameters.validation_members = 3;
  EXPECT_EQ(estimate_output(cfg, io, weights, 1).results - base.results,
            2u * 4 * 3 * 16 + (8 * 2 + 64));  // one more predicted member and member row
  // Trainer checkpoints every 10 of 100 batches, 2 kept: 3 at once at most.
  cfg = small_study();
  cfg.training.checkpoint_every = 10;
  const OutputEstimate trained = estimate_output(cfg, io, weights, 1);
  EXPECT_GE(trained.checkpoints, 3u * 3 * 4 * 168);
  // Study checkpoints hold every server rank's buffer: 2 ranks hold more than 1.
  cfg.study.checkpoint_every_s = 30.0;
  EXPECT_GT(estimate_output(cfg, io, weights, 2).checkpoints,
            estimate_output(cfg, io, weights, 1).checkpoints);
}

TEST(OutputEstimate, WarnsOnlyWhenItDoesNotFit) {
  OutputEstimate e;
  e.results = 3 << 20;
  e.model = 1 << 20;
  EXPECT_FALSE(space_warning(e, 5 << 20, "/out").has_value());
  const auto warning = space_warning(e, 2 << 20, "/out");
  ASSERT_TRUE(warning.has_value());
  EXPECT_EQ(*warning,
            "study.output_dir '/out': the study will write about 4.0 MiB (results 3.0 MiB, model "
            "1.0 MiB, checkpoints 0 B, logs 0 B) but 2.0 MiB are free: it will not fit");
}

TEST_F(OutputChecks, WritableDirectoryPassesAndNothingIsCreated) {
  EXPECT_EQ(refusal(dir_), "");
  EXPECT_EQ(refusal(dir_ / "new" / "study"), "");
  EXPECT_FALSE(fs::exists(dir_ / "new"));
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(OutputChecks, ReadOnlyResultsAreRefused) {
  std::ofstream(dir_ / "results.h5") << "kept";
  fs::permissions(dir_ / "results.h5", fs::perms::owner_read | fs::perms::group_read);
  EXPECT_EQ(refusal(dir_, true),
            "'" + (dir_ / "results.h5").string() +
                "' is read-only: surge run would replace it (make it writable or move it away "
                "first)");
}

TEST_F(OutputChecks, ParentThatIsAFileIsRefused) {
  std::ofstream(dir_ / "file") << "x";
  EXPECT_EQ(refusal(dir_ / "file" / "out"), "study.output_dir '" + (dir_ / "file/out").string() +
                                                "': '" + (dir_ / "file").string() +
                                                "' is not a directory");
}

TEST_F(OutputChecks, UnwritableDirectoryIsRefused) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes anywhere (storage_unwritable covers it)";
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_EQ(refusal(dir_),
            "study.output_dir '" + dir_.string() + "' is not writable: Permission denied");
  EXPECT_EQ(refusal(dir_ / "out"), "study.output_dir '" + (dir_ / "out").string() +
                                       "' cannot be created in '" + dir_.string() +
                                       "': Permission denied");
}
