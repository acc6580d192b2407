// Normalisers (running per-channel statistics, the linear input map) and the next_step
// model's input, output and error in normalised units: shared by training and inference.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "model.hpp"
#include "surge/core/error.hpp"

namespace surge::surrogates::detail {

// ---- Normaliser ----

Normaliser::Normaliser(const IoDescription& io)
    : fields_(static_cast<std::int64_t>(io.fields.size())),
      field_size_(io.field_size()),
      mean_(io.fields.size(), 0.0),
      m2_(io.fields.size(), 0.0) {
  std::vector<float> center, scale;
  for (const InputRange& r : io.inputs) {
    center.push_back(static_cast<float>(0.5 * (r.min + r.max)));
    scale.push_back(r.max > r.min ? static_cast<float>(2.0 / (r.max - r.min)) : 0.0f);
  }
  in_center_ = torch::tensor(center, torch::kFloat);
  in_scale_ = torch::tensor(scale, torch::kFloat);
  refresh();
}

std::vector<double> Normaliser::std() const {
  std::vector<double> out(mean_.size(), 1.0);
  for (std::size_t f = 0; f < mean_.size(); ++f) {
    const double s = count_ > 0 ? std::sqrt(m2_[f] / count_) : 1.0;
    out[f] = s > 1e-30 ? s : 1.0;  // a constant field is only shifted
  }
  return out;
}

void Normaliser::refresh() {
  const std::vector<double> s = std();
  std::vector<float> mean(static_cast<std::size_t>(fields_ * field_size_));
  std::vector<float> sd(mean.size()), inv(mean.size());
  for (std::int64_t f = 0; f < fields_; ++f) {
    for (std::int64_t i = 0; i < field_size_; ++i) {
      const auto k = static_cast<std::size_t>(f * field_size_ + i);
      mean[k] = static_cast<float>(mean_[static_cast<std::size_t>(f)]);
      sd[k] = static_cast<float>(s[static_cast<std::size_t>(f)]);
      inv[k] = static_cast<float>(1.0 / s[static_cast<std::size_t>(f)]);
    }
  }
  out_mean_ = torch::tensor(mean, torch::kFloat);
  out_std_ = torch::tensor(sd, torch::kFloat);
  out_inv_std_ = torch::tensor(inv, torch::kFloat);
}

namespace {

// Eight floats, as one AVX register or two SSE ones (GCC and Clang vector extensions).
typedef float Float8 __attribute__((vector_size(32)));

// Blocks of 256 values are summed in float vectors (exact enough: 256 terms), the blocks in
// double. Compiled twice on x86-64, with AVX2 and without, the loader picking the one the
// machine runs: about 5 times faster than eight double accumulators with SSE2 alone.
// One pass over v[0, n): sum(v - shift) and sum((v - shift)^2) into *s1 and *s2; with kCopy,
// v copied to `copy`; with kError, sum((w - v)^2) into *se.
template <bool kCopy, bool kError>
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx2", "default")))
#endif
void block_sums(const float* v, const float* w, float* copy, std::int64_t n, double shift,
                double* s1, double* s2, double* se) {
  constexpr std::int64_t kBlock = 256;
  const auto fs = static_cast<float>(shift);
  double t1 = 0.0, t2 = 0.0, te = 0.0;
  for (std::int64_t at = 0; at < n; at += kBlock) {
    const std::int64_t end = std::min(n, at + kBlock);
    Float8 a0 = {}, b0 = {}, a1 = {}, b1 = {};  // two pairs: independent add chains
    Float8 e0 = {}, e1 = {};
    std::int64_t i = at;
    for (; i + 16 <= end; i += 16) {
      Float8 f0, f1;
      std::memcpy(&f0, v + i, sizeof f0);
      std::memcpy(&f1, v + i + 8, sizeof f1);
      if (kCopy) {
        std::memcpy(copy + i, &f0, sizeof f0);
        std::memcpy(copy + i + 8, &f1, sizeof f1);
      }
      if (kError) {
        Float8 g0, g1;
        std::memcpy(&g0, w + i, sizeof g0);
        std::memcpy(&g1, w + i + 8, sizeof g1);
        const Float8 h0 = g0 - f0, h1 = g1 - f1;
        e0 += h0 * h0;
        e1 += h1 * h1;
      }
      const Float8 d0 = f0 - fs, d1 = f1 - fs;
      a0 += d0;
      b0 += d0 * d0;
      a1 += d1;
      b1 += d1 * d1;
    }
    float sa = 0.0f, sb = 0.0f, sc = 0.0f;
    for (; i < end; ++i) {
      if (kCopy) copy[i] = v[i];
      if (kError) {
        const float h = w[i] - v[i];
        sc += h * h;
      }
      const float d = v[i] - fs;
      sa += d;
      sb += d * d;
    }
    for (int k = 0; k < 8; ++k) {
      sa += a0[k] + a1[k];
      sb += b0[k] + b1[k];
      if (kError) sc += e0[k] + e1[k];
    }
    t1 += sa;
    t2 += sb;
    te += sc;
  }
  // The part of the shift a float cannot hold, r: sum(v - shift) = sum(d) - n r and
  // sum((v - shift)^2) = sum(d^2) - 2 r sum(d) + n r^2.
  const double r = shift - static_cast<double>(fs), count = static_cast<double>(n);
  *s1 += t1 - count * r;
  *s2 += t2 - 2.0 * r * t1 + count * r * r;
  if (kError) *se += te;
}

}  // namespace

void add_shifted_sums(const float* v, float* copy, std::int64_t n, double shift, double* s1,
                      double* s2) {
  if (copy)
    block_sums<true, false>(v, nullptr, copy, n, shift, s1, s2, nullptr);
  else
    block_sums<false, false>(v, nullptr, nullptr, n, shift, s1, s2, nullptr);
}

void add_error_sums(const float* v, const float* w, std::int64_t n, double shift, double* s1,
                    double* s2, double* se) {
  block_sums<false, true>(v, w, nullptr, n, shift, s1, s2, se);
}

torch::Tensor field_square_sums(const torch::Tensor& t, std::int64_t fields) {
  return torch::linalg_vector_norm(t.reshape({t.size(0), fields, -1}), 2, {2}).square_();
}

torch::Tensor relative_from_sums(const torch::Tensor& se, const torch::Tensor& energy,
                                 double nodes) {
  return (se / energy.clamp_min(kTinyEnergy * nodes)).sqrt().mean(1);
}

std::pair<torch::Tensor, torch::Tensor> item_errors(const torch::Tensor& out,
                                                    const torch::Tensor& y,
                                                    const std::vector<double>& shift) {
  torch::NoGradGuard no_grad;
  const std::int64_t items = y.size(0), c = static_cast<std::int64_t>(shift.size());
  const std::int64_t nodes = y.size(1) / c;
  if (out.is_cpu() && y.is_cpu() && out.scalar_type() == torch::kFloat &&
      y.scalar_type() == torch::kFloat && out.is_contiguous() && y.is_contiguous()) {
    torch::Tensor per_item = torch::empty({items}, torch::kFloat);
    torch::Tensor relative = torch::empty({items}, torch::kFloat);
    const float* o = out.data_ptr<float>();
    const float* t = y.data_ptr<float>();
    float* pi = per_item.data_ptr<float>();
    float* ri = relative.data_ptr<float>();
    for (std::int64_t i = 0; i < items; ++i) {
      double se_sum = 0.0, rel_sum = 0.0;
      for (std::int64_t f = 0; f < c; ++f) {
        const std::int64_t at = (i * c + f) * nodes;
        double s1 = 0.0, energy = 0.0, se = 0.0;  // sum(y + s), sum((y + s)^2), sum(err^2)
        add_error_sums(t + at, o + at, nodes, -shift[static_cast<std::size_t>(f)], &s1, &energy,
                       &se);
        se_sum += se;
        rel_sum += std::sqrt(se / std::max(energy, kTinyEnergy * static_cast<double>(nodes)));
      }
      pi[i] = static_cast<float>(se_sum / static_cast<double>(c * nodes));
      ri[i] = static_cast<float>(rel_sum / static_cast<double>(c));
    }
    return {per_item, relative};
  }
  const torch::Tensor yf = y.reshape({items, c, -1});
  const torch::Tensor se = field_square_sums(out - y, c);
  const torch::Tensor s = torch::tensor(shift, torch::kDouble).to(y.device(), y.scalar_type());
  const torch::Tensor energy = field_square_sums(yf, c)
                                   .add_(yf.sum(2).mul_(s * 2))
                                   .add_(s.square() * static_cast<double>(nodes));
  return {se.sum(1).div_(static_cast<double>(c * nodes)),
          relative_from_sums(se, energy, static_cast<double>(nodes))};
}

std::vector<double> Normaliser::batch_sums(const torch::Tensor& y) const {
  // One pass over the floats with double accumulators: no temporary tensors, so that the
  // statistics stay a small share of a step even for large fields.
  const torch::Tensor yc = y.contiguous();
  const std::int64_t n = yc.size(0);
  const float* data = yc.data_ptr<float>();
  std::vector<double> sums = empty_sums(n);
  for (std::int64_t r = 0; r < n; ++r)
    add_row_sums(data + r * fields_ * field_size_, nullptr, sums.data());
  return sums;
}

std::vector<double> Normaliser::empty_sums(std::int64_t rows) const {
  std::vector<double> sums(static_cast<std::size_t>(1 + 2 * fields_), 0.0);
  sums[0] = static_cast<double>(rows * field_size_);
  return sums;
}

void Normaliser::add_row_sums(const float* row, float* copy, double* sums) const {
  for (std::int64_t f = 0; f < fields_; ++f) {
    const std::int64_t at = f * field_size_;
    add_shifted_sums(row + at, copy ? copy + at : nullptr, field_size_,
                     mean_[static_cast<std::size_t>(f)], &sums[1 + f], &sums[1 + fields_ + f]);
  }
}

void Normaliser::normalise_output_rows(torch::Tensor& y, std::int64_t first,
                                       std::int64_t last) const {
  float* data = y.data_ptr<float>();
  const std::vector<double> sd = std();
  for (std::int64_t f = 0; f < fields_; ++f) {
    const auto mean = static_cast<float>(mean_[static_cast<std::size_t>(f)]);
    const auto inv = static_cast<float>(1.0 / sd[static_cast<std::size_t>(f)]);
    for (std::int64_t r = first; r < last; ++r) {
      float* row = data + (r * fields_ + f) * field_size_;
      for (std::int64_t i = 0; i < field_size_; ++i) row[i] = (row[i] - mean) * inv;
    }
  }
}

void Normaliser::merge(const std::vector<double>& sums) {
  const double nb = sums[0];
  if (nb <= 0) return;
  for (std::int64_t f = 0; f < fields_; ++f) {
    const auto i = static_cast<std::size_t>(f);
    const double s1 = sums[static_cast<std::size_t>(1 + f)];
    const double s2 = sums[static_cast<std::size_t>(1 + fields_ + f)];
    // Sums are shifted by the old mean, so the batch mean is mean + d and its M2 is
    // s2 - s1^2 / nb; Chan's update combines the two (count, mean, M2) triples.
    const double d = s1 / nb;
    const double m2b = std::max(0.0, s2 - s1 * d);
    const double total = count_ + nb;
    mean_[i] += d * nb / total;
    m2_[i] += m2b + d * d * count_ * nb / total;
  }
  count_ += nb;
  refresh();
}

std::vector<double> Normaliser::state() const {
  std::vector<double> out{count_};
  out.insert(out.end(), mean_.begin(), mean_.end());
  out.insert(out.end(), m2_.begin(), m2_.end());
  return out;
}

void Normaliser::set_state(const std::vector<double>& state) {
  SURGE_REQUIRE(state.size() == static_cast<std::size_t>(1 + 2 * fields_), IoError,
                "normaliser state of " << state.size() << " values, expected " << 1 + 2 * fields_);
  count_ = state[0];
  std::copy(state.begin() + 1, state.begin() + 1 + fields_, mean_.begin());
  std::copy(state.begin() + 1 + fields_, state.end(), m2_.begin());
  refresh();
}

void Normaliser::set_fixed(const std::vector<double>& mean, const std::vector<double>& std) {
  // count 1 with M2 = std^2 reproduces exactly these statistics.
  count_ = 1.0;
  mean_ = mean;
  m2_.resize(std.size());
  for (std::size_t f = 0; f < std.size(); ++f) m2_[f] = std[f] * std[f];
  refresh();
  std::vector<float> sd(static_cast<std::size_t>(fields_ * field_size_));
  for (std::int64_t f = 0; f < fields_; ++f)
    for (std::int64_t i = 0; i < field_size_; ++i)
      sd[static_cast<std::size_t>(f * field_size_ + i)] =
          static_cast<float>(std[static_cast<std::size_t>(f)]);
  // Exactly the stored values, not sqrt(std^2); the inverse as refresh() computes it, so that a
  // loaded surrogate normalises bit for bit as the trainer did.
  std::vector<float> inv(sd.size());
  for (std::int64_t f = 0; f < fields_; ++f)
    for (std::int64_t i = 0; i < field_size_; ++i)
      inv[static_cast<std::size_t>(f * field_size_ + i)] =
          static_cast<float>(1.0 / std[static_cast<std::size_t>(f)]);
  out_std_ = torch::tensor(sd, torch::kFloat);
  out_inv_std_ = torch::tensor(inv, torch::kFloat);
}

// ---- next_step models ----

torch::Tensor operator_input(const Normaliser& state_norm, const torch::Tensor& state,
                             const torch::Tensor& parameters) {
  const std::int64_t b = state.size(0), nx = state.size(2), ny = state.size(3);
  const torch::Tensor s = state_norm.outputs(state.reshape({b, -1})).reshape(state.sizes());
  const auto opts = state.options();
  std::vector<torch::Tensor> parts{s};
  if (parameters.size(1) > 0) {
    const torch::Tensor p = state_norm.inputs(parameters);
    parts.push_back(p.reshape({b, p.size(1), 1, 1}).expand({b, p.size(1), nx, ny}));
  }
  const torch::Tensor cx = torch::linspace(-1.0, 1.0, nx, opts).reshape({1, 1, nx, 1});
  const torch::Tensor cy = torch::linspace(-1.0, 1.0, ny, opts).reshape({1, 1, 1, ny});
  parts.push_back(cx.expand({b, 1, nx, ny}));
  parts.push_back(cy.expand({b, 1, nx, ny}));
  return torch::cat(parts, 1);
}

torch::Tensor operator_next(const IoDescription& io, const OperatorNorm& norm,
                            const torch::Tensor& state, const torch::Tensor& out_n) {
  const std::int64_t b = state.size(0);
  const torch::Tensor flat = out_n.reshape({b, -1});
  if (io.increment) return state + norm.delta.denormalise(flat).reshape(state.sizes());
  return norm.state.denormalise(flat).reshape(state.sizes());
}

torch::Tensor operator_step(Model& model, const IoDescription& io, const OperatorNorm& norm,
                            const torch::Tensor& state, const torch::Tensor& parameters) {
  return operator_next(io, norm, state,
                       model.forward(operator_input(norm.state, state, parameters)));
}

torch::Tensor operator_error(const IoDescription& io, const OperatorNorm& norm,
                             const torch::Tensor& predicted, const torch::Tensor& truth) {
  const Normaliser& n = io.increment ? norm.delta : norm.state;
  const std::int64_t b = predicted.size(0);
  return ((predicted - truth).reshape({b, -1}) * n.out_inv_std()).reshape(predicted.sizes());
}

}  // namespace surge::surrogates::detail
