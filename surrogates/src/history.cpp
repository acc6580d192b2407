// The bounded training and validation curves of a Trainer (see History in trainer.hpp).
#include <algorithm>
#include <cstdint>
#include <utility>

#include "surge/surrogates/trainer.hpp"

namespace surge::surrogates {
namespace {

// Batches row i of `rows` stands for (batches are counted from 1).
std::int64_t span(const std::vector<TrainingRecord>& rows, std::size_t i) {
  return rows[i].batch - (i == 0 ? 0 : rows[i - 1].batch);
}

// Folds `later` (the batches right after `into`'s) into `into`.
void merge(TrainingRecord& into, const TrainingRecord& later) {
  const std::int64_t samples = into.samples + later.samples;
  if (samples > 0) {
    into.loss = (into.loss * static_cast<double>(into.samples) +
                 later.loss * static_cast<double>(later.samples)) /
                static_cast<double>(samples);
  }
  into.samples = samples;
  into.batch = later.batch;
  into.learning_rate = later.learning_rate;
  into.samples_per_second = later.samples_per_second;
  into.wall_seconds = later.wall_seconds;
}

}  // namespace

std::int64_t History::stride() const noexcept {
  if (stride_ == 0) {
    // Every row but the last (which may still be filling) stands for the full stride.
    stride_ = 1;
    for (std::size_t i = 0; i + 1 < training.size(); ++i)
      stride_ = std::max(stride_, span(training, i));
  }
  return stride_;
}

void History::add(const TrainingRecord& record) {
  const std::int64_t s = stride();
  if (!training.empty() && span(training, training.size() - 1) < s &&
      record.batch > training.back().batch) {
    merge(training.back(), record);
  } else {
    training.push_back(record);
  }
  while (training.size() >= kTrainingRows) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < training.size(); i += 2, ++kept) {
      training[kept] = training[i];
      if (i + 1 < training.size()) merge(training[kept], training[i + 1]);
    }
    training.resize(kept);
    stride_ *= 2;
  }
}

void History::add(ValidationRecord record) {
  validation.push_back(std::move(record));
  if (validation.size() < kValidationRows) return;
  // Keep every other row counted back from the latest, so the latest always stays.
  const std::size_t n = validation.size();
  std::size_t kept = 0;
  for (std::size_t i = (n - 1) % 2; i < n; i += 2) validation[kept++] = std::move(validation[i]);
  validation.resize(kept);
}

}  // namespace surge::surrogates
