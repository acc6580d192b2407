#pragma once
// Library-internal: the LibTorch side of a surrogate shared by the trainer and
// surge::Surrogate: the model base and its registry, the normalisers, and the exported
// directory format (surrogate.yaml + model.pt).

#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "surge/core/registry.hpp"
#include "surge/surrogates/config.hpp"
#include "surge/surrogates/description.hpp"

namespace surge::surrogates::detail {

// The first line of a LibTorch error message (the rest is a backtrace).
[[nodiscard]] inline std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// The bytes of a LibTorch archive, serialised in memory: LibTorch 1.13 cannot survive a
// write that fails half way (its archive writer's destructor throws again, which
// terminates), so files are written from these bytes by core::AtomicFile.
[[nodiscard]] inline std::string archive_bytes(torch::serialize::OutputArchive& archive) {
  std::string bytes;
  archive.save_to([&bytes](const void* data, std::size_t size) -> std::size_t {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  return bytes;
}

// Every architecture. field_from_parameters: normalised x [batch, input_size] -> normalised
// y [batch, output_size]. next_step: operator_input() [batch, C + P + 2, nx, ny] -> the
// normalised target [batch, C, nx, ny].
class Model : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
};

// Factory arguments after (parameters, source): the key path of the parameters and the
// description (input and output sizes).
using ModelRegistry = core::Registry<Model, const std::string&, const IoDescription&>;
[[nodiscard]] const ModelRegistry& model_registry();

// The model `config` names, built from the current torch RNG state. Throws ConfigError.
[[nodiscard]] std::shared_ptr<Model> make_model(const ModelConfig& config, const IoDescription& io,
                                                const core::ConfigSource& source = {},
                                                const std::string& path = "model");
// `config` with every parameter's default filled in (what export writes). Throws ConfigError.
[[nodiscard]] ModelConfig resolve_model_config(const ModelConfig& config,
                                               const core::ConfigSource& source = {},
                                               const std::string& path = "model");

// Inputs: x_n = (x - center) * scale, mapping [min, max] to [-1, 1]. Outputs: per field,
// y_n = (y - mean) / std from running statistics (Chan et al.'s pairwise update, in double).
class Normaliser {
 public:
  Normaliser() = default;
  explicit Normaliser(const IoDescription& io);

  [[nodiscard]] torch::Tensor inputs(const torch::Tensor& x) const {
    return (x - in_center_) * in_scale_;
  }
  [[nodiscard]] torch::Tensor outputs(const torch::Tensor& y) const {
    return (y - out_mean_) * out_inv_std_;
  }
  [[nodiscard]] torch::Tensor denormalise(const torch::Tensor& y_n) const {
    return y_n * out_std_ + out_mean_;
  }
  // denormalise() into `out` (a float tensor of y_n's shape), with the same two operations
  // and so the same floats.
  void denormalise_into(const torch::Tensor& y_n, torch::Tensor& out) const {
    torch::mul_out(out, y_n, out_std_);
    out.add_(out_mean_);
  }

  // Per-field sums of a batch y [n, output_size], shifted by the current means:
  // {n, sum(y - mean_f) per field, sum((y - mean_f)^2) per field} (what ranks allreduce).
  [[nodiscard]] std::vector<double> batch_sums(const torch::Tensor& y) const;
  // The same sums built row by row while the batch is stacked: empty_sums(n) holds the count
  // of n rows and zero sums; add_row_sums adds one row of output_size floats to sums[1, 1 + 2
  // fields) (and copies it to `copy` in the same pass, unless null).
  [[nodiscard]] std::vector<double> empty_sums(std::int64_t rows) const;
  void add_row_sums(const float* row, float* copy, double* sums) const;
  // y = (y - mean) / std in place, y a contiguous [n, output_size] float tensor; the same
  // values as outputs(y). The second form only rows [first, last).
  void normalise_outputs_in_place(torch::Tensor& y) const {
    normalise_output_rows(y, 0, y.size(0));
  }
  void normalise_output_rows(torch::Tensor& y, std::int64_t first, std::int64_t last) const;
  // Merges sums from batch_sums (possibly summed over ranks) into the running statistics.
  void merge(const std::vector<double>& sums);

  // The per-element tensors the trainer applies in place ([input_size] / [output_size]).
  [[nodiscard]] const torch::Tensor& in_center() const noexcept { return in_center_; }
  [[nodiscard]] const torch::Tensor& in_scale() const noexcept { return in_scale_; }
  [[nodiscard]] const torch::Tensor& out_mean() const noexcept { return out_mean_; }
  [[nodiscard]] const torch::Tensor& out_inv_std() const noexcept { return out_inv_std_; }
  [[nodiscard]] const torch::Tensor& out_std() const noexcept { return out_std_; }

  [[nodiscard]] const std::vector<double>& mean() const noexcept { return mean_; }
  [[nodiscard]] std::vector<double> std() const;
  [[nodiscard]] double count() const noexcept { return count_; }
  // Running state (count, mean, M2 per field), for checkpoints, and its restoration.
  [[nodiscard]] std::vector<double> state() const;
  void set_state(const std::vector<double>& state);
  // Sets fixed statistics (a loaded surrogate): mean and std per field.
  void set_fixed(const std::vector<double>& mean, const std::vector<double>& std);

 private:
  void refresh();

  std::int64_t fields_ = 0, field_size_ = 0;
  double count_ = 0.0;
  std::vector<double> mean_, m2_;
  torch::Tensor in_center_, in_scale_;
  torch::Tensor out_mean_, out_std_, out_inv_std_;  // [output_size], float
};

// Adds sum(v - shift) and sum((v - shift)^2) over v[0, n) to *s1 and *s2 (float within
// blocks of 256 values, double across them); copies v to `copy` in the same pass unless it
// is null.
void add_shifted_sums(const float* v, float* copy, std::int64_t n, double shift, double* s1,
                      double* s2);
// The same sums of v - shift, and sum((w - v)^2) over the same n values to *se, in one pass.
void add_error_sums(const float* v, const float* w, std::int64_t n, double shift, double* s1,
                    double* s2, double* se);

// Per item and field, the sum of the squares of t [items, fields * nodes] or [items, fields,
// nx, ny]: [items, fields].
[[nodiscard]] torch::Tensor field_square_sums(const torch::Tensor& t, std::int64_t fields);
// The mean over the fields of sqrt(sum error^2 / sum target^2), from those sums [items,
// fields] over `nodes` values each, the target's floored at kTinyEnergy a value. [items].
[[nodiscard]] torch::Tensor relative_from_sums(const torch::Tensor& se, const torch::Tensor& energy,
                                               double nodes);
// A floor on a field's mean square (in units of its std^2): a field that is zero everywhere
// makes the error relative to 1e-12 and not a division by zero.
inline constexpr double kTinyEnergy = 1e-12;
// Each item's mean squared error and relative L2 error (the mean over its fields of
// ||out - y|| / ||y + shift_f||), [items] each, from out and y [items, fields * nodes] (no
// gradient is taken). Contiguous CPU floats go through one pass per item and field
// (add_error_sums: sum((out - y)^2) and sum((y + s)^2) at once, no temporary: in the trainer
// 135 us a step at batch 256 of 64^2 fields and 19 us at batch 32, where the tensor
// expressions took 500 us and 130 us, 4.5 % of either step, bench_surrogates 2026-12-07);
// other tensors (a GPU's) through four tensor passes, a field's sum((y + s)^2) being
// sum(y^2) + 2 s sum(y) + nodes s^2 (which cancels to float noise where y + s is near zero
// throughout a field). The two agree to float rounding elsewhere (test_normaliser).
[[nodiscard]] std::pair<torch::Tensor, torch::Tensor> item_errors(const torch::Tensor& out,
                                                                  const torch::Tensor& y,
                                                                  const std::vector<double>& shift);

// next_step models: statistics of the states (which normalise the input state, and the target
// when it is the state) and of the increments s(k + stride) - s(k) (the target otherwise).
// The input parameters are normalised by `state`'s linear map.
struct OperatorNorm {
  Normaliser state, delta;
};

// The network input of a next_step model for raw states [B, C, nx, ny] and raw parameters
// [B, P]: the normalised state, one constant channel per normalised parameter, and the node
// coordinates mapped to [-1, 1] (x, then y): [B, C + P + 2, nx, ny].
[[nodiscard]] torch::Tensor operator_input(const Normaliser& state_norm, const torch::Tensor& state,
                                           const torch::Tensor& parameters);
// Channels of operator_input() for `io`: C + P + 2.
[[nodiscard]] inline std::int64_t operator_input_channels(const IoDescription& io) {
  return static_cast<std::int64_t>(io.fields.size()) + io.input_size() + 2;
}
// The raw next state from the raw state and the network's normalised output.
[[nodiscard]] torch::Tensor operator_next(const IoDescription& io, const OperatorNorm& norm,
                                          const torch::Tensor& state, const torch::Tensor& out_n);
// One step: operator_next(model(operator_input(state, parameters))).
[[nodiscard]] torch::Tensor operator_step(Model& model, const IoDescription& io,
                                          const OperatorNorm& norm, const torch::Tensor& state,
                                          const torch::Tensor& parameters);
// The error of a predicted state in the units of the target's normalisation, so that the
// first unrolled step's loss is the MSE of the normalised target: [B, C, nx, ny].
[[nodiscard]] torch::Tensor operator_error(const IoDescription& io, const OperatorNorm& norm,
                                           const torch::Tensor& predicted,
                                           const torch::Tensor& truth);

// Writes the exported directory; `delta` is the increment normaliser of a next_step model
// (null otherwise). Throws core::IoError.
void write_surrogate_dir(const std::string& dir, Model& model, const ModelConfig& resolved,
                         const IoDescription& io, const Normaliser& normaliser,
                         const Normaliser* delta, const YAML::Node& training, std::int64_t batches);

// Sizes of every parameter, in registration order.
[[nodiscard]] std::vector<std::vector<std::int64_t>> parameter_shapes(const Model& model);

// Version of the exported directory format. 2 adds the model kind, the channel layout,
// periodicity, stride and dt, and the increment statistics; version 1 directories still load.
inline constexpr std::int64_t kSurrogateFormat = 2;

}  // namespace surge::surrogates::detail
