// Torch-free parts of training: the training-config checks and The Well's metrics.
#include <algorithm>
#include <cmath>

#include "surge/core/error.hpp"
#include "surge/surrogates/config.hpp"
#include "surge/surrogates/metrics.hpp"

namespace surge::surrogates {

void validate(const TrainingConfig& c) {
  const auto& m = c.schedule.milestones;
  for (std::size_t i = 0; i < m.size(); ++i) {
    SURGE_REQUIRE(m[i] >= 0 && (i == 0 || m[i] > m[i - 1]), ConfigError,
                  "'training.schedule.milestones' must be increasing batch numbers >= 0");
  }
  SURGE_REQUIRE(c.schedule.type != "multistep" || !m.empty(), ConfigError,
                "'training.schedule.milestones' must not be empty for a multistep schedule");
  SURGE_REQUIRE(c.schedule.type != "cosine" || c.schedule.period > 0 || c.max_batches > 0,
                ConfigError,
                "a cosine schedule needs 'training.schedule.period' or 'training.max_batches'");
  SURGE_REQUIRE(c.schedule.type != "cosine" || c.schedule.min_lr <= c.optimizer.lr, ConfigError,
                "'training.schedule.min_lr' (" << c.schedule.min_lr << ") exceeds the rate "
                                               << c.optimizer.lr);
}

// ---- Metrics ----

FieldMetrics field_metrics(const float* prediction, const float* target, std::int64_t n) {
  double se = 0, yy = 0, ysum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(prediction[i]) - target[i];
    se += d * d;
    yy += static_cast<double>(target[i]) * target[i];
    ysum += target[i];
  }
  const double mean = ysum / static_cast<double>(n);
  double var = 0;
  for (std::int64_t i = 0; i < n; ++i) var += (target[i] - mean) * (target[i] - mean);
  // The Well's denominator: the unbiased variance (torch.std), over the n nodes.
  var /= static_cast<double>(std::max<std::int64_t>(n - 1, 1));
  const double mse = se / static_cast<double>(n);
  FieldMetrics m;
  m.relative_l2 = std::sqrt(se) / (std::sqrt(yy) + kMetricEpsilon);
  m.nrmse = std::sqrt(mse / (yy / static_cast<double>(n) + kMetricEpsilon));
  m.vrmse = std::sqrt(mse / (var + kMetricEpsilon));
  return m;
}

std::vector<FieldMetrics> mean_field_metrics(const std::vector<float>& prediction,
                                             const std::vector<float>& target, std::int64_t samples,
                                             const std::vector<std::string>& fields,
                                             std::int64_t field_size) {
  const auto row = static_cast<std::int64_t>(fields.size()) * field_size;
  SURGE_REQUIRE(samples > 0 && static_cast<std::int64_t>(prediction.size()) == samples * row &&
                    prediction.size() == target.size(),
                ConfigError,
                "metrics of " << samples << " samples of " << row << " values need "
                              << samples * row << " predictions and targets, got "
                              << prediction.size() << " and " << target.size());
  std::vector<FieldMetrics> out(fields.size());
  for (std::size_t f = 0; f < fields.size(); ++f) out[f].field = fields[f];
  for (std::int64_t s = 0; s < samples; ++s) {
    for (std::size_t f = 0; f < fields.size(); ++f) {
      const std::int64_t offset = s * row + static_cast<std::int64_t>(f) * field_size;
      const FieldMetrics m =
          field_metrics(prediction.data() + offset, target.data() + offset, field_size);
      out[f].relative_l2 += m.relative_l2 / static_cast<double>(samples);
      out[f].nrmse += m.nrmse / static_cast<double>(samples);
      out[f].vrmse += m.vrmse / static_cast<double>(samples);
    }
  }
  return out;
}

}  // namespace surge::surrogates
