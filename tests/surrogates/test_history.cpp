// History keeps a study's curves bounded: rows never exceed their caps, merged training rows
// conserve batches and samples and average the loss by samples, and a history rebuilt from its
// rows (as a checkpoint does) goes on at the same stride.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "surge/surrogates/trainer.hpp"

namespace surge::surrogates {
namespace {

TrainingRecord step(std::int64_t batch) {
  TrainingRecord r;
  r.batch = batch;
  r.samples = 1 + batch % 7;                  // uneven, so the weighting matters
  r.loss = 1.0 / static_cast<double>(batch);  // a different value per batch
  r.learning_rate = 1e-3 * static_cast<double>(batch);
  r.wall_seconds = 0.01 * static_cast<double>(batch);
  return r;
}

// Checks every row against the batches it stands for.
void expect_exact(const History& h, std::int64_t batches) {
  ASSERT_FALSE(h.training.empty());
  ASSERT_LT(h.training.size(), History::kTrainingRows);
  EXPECT_EQ(h.training.back().batch, batches);
  std::int64_t first = 1;
  for (std::size_t i = 0; i < h.training.size(); ++i) {
    const TrainingRecord& row = h.training[i];
    std::int64_t samples = 0;
    double weighted = 0;
    for (std::int64_t b = first; b <= row.batch; ++b) {
      samples += step(b).samples;
      weighted += step(b).loss * static_cast<double>(step(b).samples);
    }
    ASSERT_EQ(row.samples, samples) << "row " << i;
    ASSERT_NEAR(row.loss, weighted / static_cast<double>(samples), 1e-12 * row.loss) << "row " << i;
    ASSERT_EQ(row.learning_rate, step(row.batch).learning_rate);
    if (i + 1 < h.training.size()) {
      ASSERT_EQ(row.batch - first + 1, h.stride()) << "row " << i;
    }
    first = row.batch + 1;
  }
}

TEST(History, ShortCurvesKeepEveryBatch) {
  History h;
  for (std::int64_t b = 1; b <= 1500; ++b) h.add(step(b));
  ASSERT_EQ(h.training.size(), 1500u);
  EXPECT_EQ(h.stride(), 1);
  expect_exact(h, 1500);
}

TEST(History, LongCurvesMergeAndStayExact) {
  History h;
  const std::int64_t batches = 5 * static_cast<std::int64_t>(History::kTrainingRows) + 123;
  for (std::int64_t b = 1; b <= batches; ++b) h.add(step(b));
  EXPECT_EQ(h.stride(), 8);  // 5.02 x the cap: merged three times
  expect_exact(h, batches);
}

TEST(History, RebuiltFromItsRowsGoesOnAtTheSameStride) {
  History h;
  const std::int64_t half = 3 * static_cast<std::int64_t>(History::kTrainingRows) + 5;
  for (std::int64_t b = 1; b <= half; ++b) h.add(step(b));
  History resumed;  // as load_checkpoint does: the rows, pushed back as they were
  resumed.training = h.training;
  for (std::int64_t b = half + 1; b <= 2 * half; ++b) {
    h.add(step(b));
    resumed.add(step(b));
  }
  ASSERT_EQ(resumed.training.size(), h.training.size());
  EXPECT_EQ(resumed.stride(), h.stride());
  expect_exact(resumed, 2 * half);
}

TEST(History, ValidationRowsAreThinnedKeepingTheLatest) {
  History h;
  const std::int64_t n = 3 * static_cast<std::int64_t>(History::kValidationRows);
  for (std::int64_t b = 1; b <= n; ++b) {
    ValidationRecord r;
    r.batch = 10 * b;
    h.add(r);
    ASSERT_LT(h.validation.size(), History::kValidationRows);
    ASSERT_EQ(h.validation.back().batch, 10 * b);
  }
  for (std::size_t i = 1; i < h.validation.size(); ++i)
    ASSERT_LT(h.validation[i - 1].batch, h.validation[i].batch);
  EXPECT_EQ(h.validation.front().batch % 10, 0);
}

}  // namespace
}  // namespace surge::surrogates
