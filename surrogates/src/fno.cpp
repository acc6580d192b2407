// The Fourier Neural Operator: spectral convolution, the layer stack and its parameters.
#include "fno.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "surge/core/error.hpp"

namespace surge::surrogates::detail {

FnoParameters read_fno_parameters(const YAML::Node& parameters, const core::ConfigSource& source,
                                  const std::string& path) {
  return core::read_config<FnoParameters>(parameters, source, path);
}

// ---- SpectralConv2d ----

SpectralConv2d::SpectralConv2d(std::int64_t in_channels, std::int64_t out_channels,
                               std::int64_t modes_x, std::int64_t modes_y)
    : in_channels_(in_channels), out_channels_(out_channels), modes_x_(modes_x), modes_y_(modes_y) {
  SURGE_REQUIRE(in_channels >= 1 && out_channels >= 1 && modes_x >= 1 && modes_y >= 1, ConfigError,
                "a spectral convolution needs channels and modes >= 1, got in "
                    << in_channels << ", out " << out_channels << ", modes " << modes_x << " x "
                    << modes_y);
  // Li et al.'s initialisation: real and imaginary parts uniform in [0, 1 / (in out)).
  const double scale = 1.0 / static_cast<double>(in_channels * out_channels);
  const std::vector<std::int64_t> shape = {in_channels, out_channels, modes_x, modes_y, 2};
  low_ = register_parameter("low", torch::rand(shape) * scale);
  high_ = register_parameter("high", torch::rand(shape) * scale);
}

torch::Tensor SpectralConv2d::forward(const torch::Tensor& x) {
  SURGE_REQUIRE(
      x.dim() == 4 && x.size(1) == in_channels_, ConfigError,
      "a spectral convolution expects [batch, " << in_channels_ << ", nx, ny], got " << x.sizes());
  return forward_channels_last(x.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
}

namespace {

// The Fourier transforms of a spectral convolution restricted to the kept frequencies, as
// matrices (computed in double): `columns` frequencies 0..columns-1 along y, and along x the
// rows 0..top-1 then nx-bottom..nx-1.
//   forward_y [2 columns, ny]: cos(2 pi k n / ny), then -sin: the real and imaginary parts of
//     the first `columns` terms of rfft along y.
//   forward_x [rows, nx] complex: e^(-2 pi i f m / nx), f the row's signed frequency.
//   inverse_x [nx, rows] complex: its conjugate transpose (ifft along x without the 1 / nx).
//   inverse_y [ny, 2 columns]: c_k cos(2 pi k n / ny) and -c_k sin(...), divided by nx ny,
//     c_k = 2 but for k = 0 and the Nyquist column (1): irfft along y of `columns` terms (the
//     imaginary parts of k = 0 and of the Nyquist column drop out, their sine being zero),
//     with the 1 / (nx ny) of the inverse 2-D transform.
// Products with these matrices are what rfft2, irfft2 and the slicing of the spectrum compute,
// at a fraction of the cost when few modes are kept (12 of 72 x 37 here), and their gradients
// are matrix products too, where the FFTs' gradients transform zero-padded full spectra.
struct TruncatedDft {
  torch::Tensor forward_y, forward_x, inverse_x, inverse_y;
};

TruncatedDft truncated_dft(std::int64_t nx, std::int64_t ny, std::int64_t top, std::int64_t bottom,
                           std::int64_t columns) {
  const double two_pi = 2.0 * std::acos(-1.0);
  const std::int64_t rows = top + bottom;
  std::vector<double> fy(static_cast<std::size_t>(2 * columns * ny));
  std::vector<double> iy(fy.size());
  for (std::int64_t k = 0; k < columns; ++k) {
    const double c = (k == 0 || 2 * k == ny) ? 1.0 : 2.0;
    for (std::int64_t n = 0; n < ny; ++n) {
      // k n mod ny keeps the angle small, so that cos and sin stay exact to the last bit.
      const double a = two_pi * static_cast<double>((k * n) % ny) / static_cast<double>(ny);
      fy[static_cast<std::size_t>(k * ny + n)] = std::cos(a);
      fy[static_cast<std::size_t>((columns + k) * ny + n)] = -std::sin(a);
      const double scale = c / static_cast<double>(nx * ny);
      iy[static_cast<std::size_t>(n * 2 * columns + k)] = scale * std::cos(a);
      iy[static_cast<std::size_t>(n * 2 * columns + columns + k)] = -scale * std::sin(a);
    }
  }
  std::vector<double> fx_re(static_cast<std::size_t>(rows * nx)), fx_im(fx_re.size());
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t f = r < top ? r : nx - rows + r;  // row index in the full spectrum
    for (std::int64_t m = 0; m < nx; ++m) {
      const double a = two_pi * static_cast<double>((f * m) % nx) / static_cast<double>(nx);
      fx_re[static_cast<std::size_t>(r * nx + m)] = std::cos(a);
      fx_im[static_cast<std::size_t>(r * nx + m)] = -std::sin(a);
    }
  }
  auto tensor = [](std::vector<double>& v, std::int64_t a, std::int64_t b) {
    return torch::from_blob(v.data(), {a, b}, torch::kDouble).to(torch::kFloat);
  };
  TruncatedDft d;
  d.forward_y = tensor(fy, 2 * columns, ny);
  d.inverse_y = tensor(iy, ny, 2 * columns);
  d.forward_x = torch::complex(tensor(fx_re, rows, nx), tensor(fx_im, rows, nx));
  d.inverse_x = d.forward_x.conj().t().resolve_conj().contiguous();
  return d;
}

// m [a, b] times every matrix of x [batch, b, c]: [batch, a, c].
torch::Tensor batched(const torch::Tensor& m, const torch::Tensor& x) {
  return torch::bmm(m.expand({x.size(0), m.size(0), m.size(1)}), x);
}

}  // namespace

torch::Tensor SpectralConv2d::forward_channels_last(const torch::Tensor& x) {
  SURGE_REQUIRE(x.dim() == 4 && x.size(3) == in_channels_, ConfigError,
                "a channels-last spectral convolution expects [batch, nx, ny, "
                    << in_channels_ << "], got " << x.sizes());
  const std::int64_t batch = x.size(0), nx = x.size(1), ny = x.size(2);
  // Rows of frequencies 0..top-1 and -bottom..-1: top + bottom <= nx, so they never overlap,
  // and a weight stays tied to its frequency whatever the grid.
  const std::int64_t top = std::min(modes_x_, (nx + 1) / 2);
  const std::int64_t bottom = std::min(modes_x_, nx / 2);
  const std::int64_t rows = top + bottom, columns = std::min(modes_y_, ny / 2 + 1);
  const auto options = x.options();
  TruncatedDft dft = truncated_dft(nx, ny, top, bottom, columns);
  dft.forward_y = dft.forward_y.to(options.device());
  dft.inverse_y = dft.inverse_y.to(options.device());
  dft.forward_x = dft.forward_x.to(options.device());
  dft.inverse_x = dft.inverse_x.to(options.device());

  // The kept spectrum [batch, rows, columns, in]: along y (real -> real and imaginary parts),
  // then along x (complex). Every product is a bmm with the matrix expanded over the batch:
  // LibTorch 1.13's matmul of a matrix by a batch of matrices folds it into a transposed
  // product whose gradient came out wrong here.
  const torch::Tensor along_y = batched(
      dft.forward_y, x.reshape({batch * nx, ny, in_channels_}));  // [batch nx, 2 columns, in]
  const torch::Tensor half =
      torch::complex(along_y.narrow(1, 0, columns), along_y.narrow(1, columns, columns));
  const torch::Tensor kept =
      batched(dft.forward_x, half.reshape({batch, nx, columns * in_channels_}))
          .view({batch, rows, columns, in_channels_});
  const torch::Tensor low = torch::view_as_complex(low_);
  const torch::Tensor high = torch::view_as_complex(high_);
  const torch::Tensor weights =
      torch::cat({low.slice(2, 0, top), high.slice(2, modes_x_ - bottom, modes_x_)}, 2)
          .slice(3, 0, columns);

  // One batched product per kept frequency, frequency-major: on one core, forward + backward
  // of this product take 15 % less time than einsum's (batch 16, 32 channels, 32 x 32,
  // 12 modes), 3 % of a whole FNO step.
  const std::int64_t frequencies = rows * columns;
  const torch::Tensor mixed =
      torch::bmm(kept.permute({1, 2, 0, 3}).reshape({frequencies, batch, in_channels_}),
                 weights.permute({2, 3, 0, 1}).reshape({frequencies, in_channels_, out_channels_}))
          .view({rows, columns, batch, out_channels_})
          .permute({2, 0, 1, 3})
          .reshape({batch, rows, columns * out_channels_});

  // Back along x (complex), then along y to real values.
  const torch::Tensor back_x =
      batched(dft.inverse_x, mixed).view({batch * nx, columns, out_channels_});
  const torch::Tensor parts = torch::cat({torch::real(back_x), torch::imag(back_x)}, 1);
  return batched(dft.inverse_y, parts).view({batch, nx, ny, out_channels_});
}

// ---- Fno ----

Fno::Fno(const FnoParameters& p, std::int64_t in_channels, std::int64_t out_channels,
         bool periodic_x, bool periodic_y)
    : in_channels_(in_channels),
      periodic_x_(periodic_x),
      periodic_y_(periodic_y),
      padding_(p.padding) {
  SURGE_REQUIRE(in_channels >= 1 && out_channels >= 1, ConfigError,
                "an FNO needs >= 1 input and output channels, got " << in_channels << " and "
                                                                    << out_channels);
  SURGE_REQUIRE(
      p.width >= 1 && p.layers >= 1 && p.projection >= 1 && p.modes >= 1 && p.padding >= -1,
      ConfigError, "invalid FNO parameters");
  using torch::nn::Conv2d, torch::nn::Conv2dOptions;
  lift_ = register_module("lift", Conv2d(Conv2dOptions(in_channels, p.width, 1)));
  for (int l = 0; l < p.layers; ++l) {
    const std::string n = std::to_string(l);
    spectral_.push_back(register_module(
        "spectral" + n, std::make_shared<SpectralConv2d>(p.width, p.width, p.modes, p.modes)));
    pointwise_.push_back(
        register_module("pointwise" + n, Conv2d(Conv2dOptions(p.width, p.width, 1))));
  }
  project_ = register_module("project", Conv2d(Conv2dOptions(p.width, p.projection, 1)));
  output_ = register_module("output", Conv2d(Conv2dOptions(p.projection, out_channels, 1)));
  if (p.activation == "gelu")
    activation_ = [](const torch::Tensor& h) { return torch::gelu(h); };
  else if (p.activation == "relu")
    activation_ = [](const torch::Tensor& h) { return torch::relu(h); };
  else
    activation_ = [](const torch::Tensor& h) { return torch::silu(h); };
}

std::int64_t Fno::padding_cells(std::int64_t n, bool periodic) const {
  if (periodic) return 0;
  return padding_ >= 0 ? padding_ : (n + 7) / 8;
}

namespace {
// A 1x1 convolution applied to channels-last h [..., in]: one matrix product of all the grid
// points with the [out, in] weight (the Conv2d's own parameters, so checkpoints and exported
// models keep their layout). On one core it takes about half the time of Conv2d's forward and
// backward on channels-first tensors.
torch::Tensor pointwise(const torch::nn::Conv2d& conv, const torch::Tensor& h) {
  const torch::Tensor& w = conv->weight;
  return torch::nn::functional::linear(h, w.view({w.size(0), w.size(1)}), conv->bias);
}
}  // namespace

torch::Tensor Fno::forward(const torch::Tensor& x) {
  SURGE_REQUIRE(x.dim() == 4 && x.size(1) == in_channels_, ConfigError,
                "an FNO expects [batch, " << in_channels_ << ", nx, ny], got " << x.sizes());
  const std::int64_t nx = x.size(2), ny = x.size(3);
  // The layers run channels-last, [batch, nx, ny, channels]: every 1x1 convolution is then one
  // matrix product, and the FFTs run along axes 1 and 2.
  torch::Tensor h = pointwise(lift_, x.permute({0, 2, 3, 1}));
  // Zero cells at the high end (Li et al.'s FNO2d; neuraloperator's DomainPadding pads both
  // ends): the spectral layers then see a periodic domain in which the walls do not touch.
  const std::int64_t pad_x = padding_cells(nx, periodic_x_), pad_y = padding_cells(ny, periodic_y_);
  if (pad_x > 0 || pad_y > 0) h = torch::constant_pad_nd(h, {0, 0, 0, pad_y, 0, pad_x});
  for (std::size_t l = 0; l < spectral_.size(); ++l) {
    h = spectral_[l]->forward_channels_last(h) + pointwise(pointwise_[l], h);
    if (l + 1 < spectral_.size()) h = activation_(h);
  }
  if (pad_x > 0 || pad_y > 0) h = h.slice(1, 0, nx).slice(2, 0, ny);
  return pointwise(output_, activation_(pointwise(project_, h))).permute({0, 3, 1, 2});
}

std::unique_ptr<Model> make_fno(const FnoParameters& p, std::int64_t in_channels,
                                std::int64_t out_channels, bool periodic_x, bool periodic_y) {
  return std::make_unique<Fno>(p, in_channels, out_channels, periodic_x, periodic_y);
}

}  // namespace surge::surrogates::detail
