#pragma once
// Library-internal: the Fourier Neural Operator (Li et al. 2020, arXiv:2010.08895) on 2-D
// grids, x [batch, in_channels, nx, ny] -> y [batch, out_channels, nx, ny] for any nx, ny:
// the same weights act on every resolution, because they are indexed by frequency.

#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model.hpp"
#include "surge/core/config.hpp"

namespace surge::surrogates::detail {

// `parameters:` of an FNO. The defaults are Li et al.'s FNO2d: 12 modes, width 32, 4 layers,
// projection 128, gelu.
struct FnoParameters {
  int modes = 12;
  int width = 32;
  int layers = 4;
  int projection = 128;
  std::string activation = "gelu";
  int padding = -1;

  template <class V>
  void visit(V& v) {
    v("modes", modes,
      "Fourier modes kept per axis: frequencies 0..modes-1 and -modes..-1 along x, "
      "0..modes-1 along y; on a grid with fewer, all of its frequencies are kept",
      core::at_least(1));
    v("width", width, "channels of the Fourier layers", core::at_least(1));
    v("layers", layers, "Fourier layers", core::at_least(1));
    v("projection", projection,
      "hidden channels of the projection from width to the outputs (Li et al.: 128; "
      "neuraloperator: 2 x width)",
      core::at_least(1));
    v("activation", activation,
      "activation after every Fourier layer but the last, and inside the projection",
      core::one_of({"gelu", "relu", "silu"}));
    v("padding", padding,
      "zero cells appended at the high end of each non-periodic axis while the Fourier layers "
      "run, so that their periodic convolution does not wrap one wall onto the other "
      "(-1: auto = ceil(n / 8) for an axis of n cells; 0: none)",
      core::at_least(-1));
  }
};

// Reads an FNO's parameters (defaults filled in). Throws core::ConfigError.
[[nodiscard]] FnoParameters read_fno_parameters(const YAML::Node& parameters,
                                                const core::ConfigSource& source = {},
                                                const std::string& path = "model.parameters");

// Spectral convolution (Li et al. eq. 4): y = irfft2(R . rfft2(x)), R mixing channels per
// kept frequency and zero elsewhere. The complex weights are stored as real [in, out,
// modes_x, modes_y, 2] tensors (optimisers and the MPI allreduce see real floats only), one
// for rows of frequencies 0..modes_x-1 (`low`) and one for -modes_x..-1 (`high`).
class SpectralConv2d : public torch::nn::Module {
 public:
  SpectralConv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t modes_x,
                 std::int64_t modes_y);

  // x [batch, in_channels, nx, ny] -> [batch, out_channels, nx, ny]. Modes are clipped to
  // the grid so that the low and high rows never overlap (every row kept when 2 modes_x >= nx).
  torch::Tensor forward(const torch::Tensor& x);
  // The same on channels-last x [batch, nx, ny, in_channels] -> [batch, nx, ny, out_channels],
  // the layout the Fno runs in.
  torch::Tensor forward_channels_last(const torch::Tensor& x);

  [[nodiscard]] const torch::Tensor& low() const noexcept { return low_; }
  [[nodiscard]] const torch::Tensor& high() const noexcept { return high_; }

 private:
  std::int64_t in_channels_, out_channels_, modes_x_, modes_y_;
  torch::Tensor low_, high_;
};

// lifting (1x1 conv) -> padding of non-periodic axes -> layers x [act(spectral(h) + w h)],
// no activation after the last -> crop -> projection (1x1 conv, act, 1x1 conv). The 1x1
// convolutions are Conv2d modules (their weights and names), applied channels-last as matrix
// products.
class Fno final : public Model {
 public:
  Fno(const FnoParameters& p, std::int64_t in_channels, std::int64_t out_channels, bool periodic_x,
      bool periodic_y);

  // x [batch, in_channels, nx, ny] -> [batch, out_channels, nx, ny]. Throws core::ConfigError
  // on another shape.
  torch::Tensor forward(const torch::Tensor& x) override;

 private:
  // Zero cells appended to an axis of n cells.
  [[nodiscard]] std::int64_t padding_cells(std::int64_t n, bool periodic) const;

  std::int64_t in_channels_;
  bool periodic_x_, periodic_y_;
  int padding_;
  torch::nn::Conv2d lift_{nullptr}, project_{nullptr}, output_{nullptr};
  std::vector<std::shared_ptr<SpectralConv2d>> spectral_;
  std::vector<torch::nn::Conv2d> pointwise_;
  std::function<torch::Tensor(const torch::Tensor&)> activation_;
};

// The FNO of `p`, built from the current torch RNG state.
[[nodiscard]] std::unique_ptr<Model> make_fno(const FnoParameters& p, std::int64_t in_channels,
                                              std::int64_t out_channels, bool periodic_x,
                                              bool periodic_y);

}  // namespace surge::surrogates::detail
