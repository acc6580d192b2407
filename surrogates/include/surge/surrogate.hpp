#pragma once
// A trained surrogate loaded from the directory that training exported, for use in any C++
// program: `find_package(surge COMPONENTS surrogate)` and link `surge::surrogate` (LibTorch
// only; C and Fortran programs use its C API, <surge/surrogate.h>).
//
//   surge::Surrogate s = surge::Surrogate::load("run/model");
//   torch::Tensor field = s.predict({100, 500, 300, 200, 400, 1.0}, 0.05);  // [fields, nx, ny]
//
// Operator (next_step) models advance a state instead:
//   torch::Tensor next = s.step(state, parameters);            // [channels, nx, ny]
//   torch::Tensor path = s.rollout(state, parameters, 50);     // [51, channels, nx, ny]

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
  // The same from x [batch, input_size], written into `out`: a contiguous float CPU tensor of
  // [batch, output_size] (your own array through torch::from_blob, say), without a copy.
  // Thread-safe for distinct `out`. Throws as predict(x), and core::ConfigError for an `out`
  // of another shape, type or layout.
  void predict_into(const torch::Tensor& x, torch::Tensor& out) const;

  // Field-from-parameters models: every field at time t for the given parameters (in the
  // order of parameter_names()), as [fields, grid...]. Throws core::ConfigError if the model
  // is of another kind or the number of parameters is wrong.
  [[nodiscard]] torch::Tensor predict(const std::vector<double>& parameters, double t) const;

  // Next-step models: the state `dt()` later, from a state [channels, nx, ny] (or a batch
  // [B, channels, nx, ny]) and the member's parameters in the order of parameter_names()
  // ([P], or [B, P] for a batch). Channels are channel_names(), in order. Thread-safe.
  // Throws core::ConfigError for a model of another kind or arguments of the wrong shape.
  [[nodiscard]] torch::Tensor step(const torch::Tensor& state,
                                   const torch::Tensor& parameters) const;
  [[nodiscard]] torch::Tensor step(const torch::Tensor& state,
                                   const std::vector<double>& parameters) const;
  // `steps` autoregressive steps from `initial`: [steps + 1, channels, nx, ny] (or
  // [B, steps + 1, ...]), the initial state first. Throws as step().
  [[nodiscard]] torch::Tensor rollout(const torch::Tensor& initial, const torch::Tensor& parameters,
                                      std::int64_t steps) const;
  [[nodiscard]] torch::Tensor rollout(const torch::Tensor& initial,
                                      const std::vector<double>& parameters,
                                      std::int64_t steps) const;
  // Next-step models: the time one step advances, and the solver outputs it spans.
  [[nodiscard]] double dt() const noexcept;
  [[nodiscard]] std::int64_t stride() const noexcept;
  // Per grid axis: whether the model treats it as periodic (may be empty: not recorded).
  [[nodiscard]] const std::vector<bool>& periodic() const noexcept;
  // The streamed fields behind the channels: (name, components); a vector field of k
  // components gives k channels name_x, name_y, ...
  [[nodiscard]] std::vector<std::pair<std::string, int>> field_layout() const;

  // The model's kind ("field_from_parameters" or "next_step"), architecture ("mlp", "fno")
  // and description.
  [[nodiscard]] const std::string& kind() const noexcept;
  [[nodiscard]] const std::string& architecture() const noexcept;
  [[nodiscard]] const std::string& solver() const noexcept;
  // Names of x, in order (parameters, then "t" for field-from-parameters models; the
  // parameters alone for next_step models).
  [[nodiscard]] const std::vector<std::string>& input_names() const noexcept;
  // Inputs other than t.
  [[nodiscard]] std::vector<std::string> parameter_names() const;
  // The range each input was trained on ({min, max} per input).
  [[nodiscard]] std::vector<std::pair<double, double>> input_ranges() const;
  // The output channels (a vector field's components are channels of their own).
  [[nodiscard]] const std::vector<std::string>& field_names() const noexcept;
  [[nodiscard]] const std::vector<std::string>& channel_names() const noexcept {
    return field_names();
  }
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
