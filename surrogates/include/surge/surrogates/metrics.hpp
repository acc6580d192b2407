#pragma once
// Validation metrics of The Well (PolymathicAI), per field. For one sample and one field of
// n nodes, prediction x and target y:
//   relative L2 = ||x - y||_2 / (||y||_2 + 1e-7)
//   NRMSE       = sqrt(mean((x - y)^2) / (mean(y^2) + 1e-7))
//   VRMSE       = sqrt(mean((x - y)^2) / (var(y) + 1e-7))      (unbiased var over the n nodes)
// and a set's metric is the mean over its samples. Torch-free: they run on float arrays.

#include <cstdint>
#include <string>
#include <vector>

namespace surge::surrogates {

inline constexpr double kMetricEpsilon = 1e-7;

struct FieldMetrics {
  std::string field;
  double relative_l2 = 0.0;
  double nrmse = 0.0;
  double vrmse = 0.0;
};

// The three metrics of one sample and one field (n values each; accumulated in double).
[[nodiscard]] FieldMetrics field_metrics(const float* prediction, const float* target,
                                         std::int64_t n);

// Mean metrics over `samples` rows of prediction/target, each row holding the fields one
// after the other (field_size nodes each; y layout of IoDescription). Throws
// core::ConfigError when the sizes do not match.
[[nodiscard]] std::vector<FieldMetrics> mean_field_metrics(const std::vector<float>& prediction,
                                                           const std::vector<float>& target,
                                                           std::int64_t samples,
                                                           const std::vector<std::string>& fields,
                                                           std::int64_t field_size);

}  // namespace surge::surrogates
