#pragma once
// A trained surrogate loaded from the directory that training exported, for use in any C++
// program: `find_package(surge)` and link `surge::surrogates`.
//
//   surge::Surrogate s = surge::Surrogate::load("run/model");
//   torch::Tensor field = s.predict({100, 500, 300, 200, 400, 1.0}, 0.05);  // [fields, nx, ny]

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "surge/core/error.hpp"

namespace surge {

class Surrogate {
 public:
  // Loads `dir` (surrogate.yaml + model.pt). Throws core::IoError if the directory or a file
  // is missing or unreadable (corrupt weights included), core::ConfigError if
  // surrogate.yaml names an architecture this build does not know or is inconsistent.
  [[nodiscard]] static Surrogate load(const std::string& dir);

  // Raw inputs [batch, input_size] (or [input_size]) -> raw outputs [batch, output_size]
  // (or [output_size]), float32 on the CPU; normalisation is applied inside. Thread-safe.
  // Throws core::ConfigError if the last dimension is not input_size().
  [[nodiscard]] torch::Tensor predict(const torch::Tensor& x) const;

  // Field-from-parameters models: every field at time t for the given parameters (in the
  // order of parameter_names()), as [fields, grid...]. Throws core::ConfigError if the model
  // is of another kind or the number of parameters is wrong.
  [[nodiscard]] torch::Tensor predict(const std::vector<double>& parameters, double t) const;

  // The model's kind ("field_from_parameters"), architecture ("mlp") and description.
  [[nodiscard]] const std::string& kind() const noexcept;
  [[nodiscard]] const std::string& architecture() const noexcept;
  [[nodiscard]] const std::string& solver() const noexcept;
  // Names of x, in order (parameters, then "t" for field-from-parameters models).
  [[nodiscard]] const std::vector<std::string>& input_names() const noexcept;
  // Inputs other than t.
  [[nodiscard]] std::vector<std::string> parameter_names() const;
  // The range each input was trained on ({min, max} per input).
  [[nodiscard]] std::vector<std::pair<double, double>> input_ranges() const;
  [[nodiscard]] const std::vector<std::string>& field_names() const noexcept;
  [[nodiscard]] const std::vector<std::int64_t>& grid() const noexcept;
  // The solver's output times the model was trained on (may be empty).
  [[nodiscard]] const std::vector<double>& times() const noexcept;
  [[nodiscard]] std::int64_t input_size() const noexcept;
  [[nodiscard]] std::int64_t output_size() const noexcept;
  // surrogate.yaml as loaded (the resolved training config is under `training`).
  [[nodiscard]] const std::string& metadata_yaml() const noexcept;

  struct Impl;  // defined in the library

 private:
  explicit Surrogate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace surge
