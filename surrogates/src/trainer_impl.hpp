#pragma once
// Library-internal: the state of a Trainer, shared by its translation units (trainer.cpp: the
// training loop; trainer_validation.cpp: validation and rollouts; trainer_checkpoint.cpp:
// checkpoints and export).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/core/split_worker.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::surrogates {

using Clock = std::chrono::steady_clock;

namespace detail {
inline double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
}  // namespace detail

struct Trainer::Impl {
  MPI_Comm comm;
  int rank = 0, size = 1;
  core::Logger log{"trainer"};
  ModelConfig model_config;  // resolved
  TrainingConfig config;
  IoDescription io;
  std::shared_ptr<detail::Model> model;
  std::vector<torch::Tensor> params;
  std::int64_t n_params = 0;
  torch::Tensor flat_grad;  // [n_params + 3]: every .grad is a view; then n, stop vote, loss sum
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  detail::OperatorNorm norm;  // .state: outputs (field_from_parameters) or states; .delta
  std::int64_t step = 0;
  History history;
  MemberLosses member_losses;
  // The batch's simulation of each item, and host copies of its per-item losses and relative
  // L2 errors where they are not CPU floats: kept from batch to batch so that the
  // bookkeeping allocates nothing.
  std::vector<std::int64_t> batch_simulations;
  torch::Tensor loss_host, relative_host;
  TrainerTiming timing;
  ThreadChoice threads;
  double elapsed_before = 0.0;  // wall seconds of earlier runs (from a checkpoint)
  Clock::time_point start = Clock::now();
  torch::Tensor x_buf, y_buf;    // reused batch storage
  std::vector<double> row_sums;  // the targets' statistics sums of each row, while assembling
  std::unique_ptr<core::SplitWorker> splitter;  // the second assembly thread, once needed

  [[nodiscard]] double wall() const {
    return elapsed_before + detail::seconds(start, Clock::now());
  }

  [[nodiscard]] double learning_rate(std::int64_t b) const {
    const ScheduleConfig& s = config.schedule;
    const double lr = config.optimizer.lr;
    double rate = lr;
    if (s.type == "step") {
      rate = lr * std::pow(s.gamma, static_cast<double>(b / s.step_size));
    } else if (s.type == "multistep") {
      const auto passed =
          std::count_if(s.milestones.begin(), s.milestones.end(), [b](int m) { return m <= b; });
      rate = lr * std::pow(s.gamma, static_cast<double>(passed));
    } else if (s.type == "cosine") {
      const double period = static_cast<double>(s.period > 0 ? s.period : config.max_batches);
      const double progress = std::min(static_cast<double>(b), period) / period;
      rate = s.min_lr + (lr - s.min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
    }
    if (b < s.warmup_batches)
      rate *= static_cast<double>(b + 1) / static_cast<double>(s.warmup_batches);
    return rate;
  }

  void make_optimizer() {
    const OptimizerConfig& o = config.optimizer;
    if (o.type == "adam") {
      optimizer = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(o.lr)
                                                                   .betas({o.beta1, o.beta2})
                                                                   .eps(o.eps)
                                                                   .weight_decay(o.weight_decay));
    } else if (o.type == "adamw") {
      optimizer = std::make_unique<torch::optim::AdamW>(params, torch::optim::AdamWOptions(o.lr)
                                                                    .betas({o.beta1, o.beta2})
                                                                    .eps(o.eps)
                                                                    .weight_decay(o.weight_decay));
    } else {
      optimizer = std::make_unique<torch::optim::SGD>(
          params, torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
    }
  }

  // Every parameter's gradient becomes a view into one flat tensor, so that the allreduce
  // works on it in place (PyTorch DDP's gradient_as_bucket_view) and zeroing is one call.
  void bind_gradients() {
    n_params = 0;
    for (const auto& p : params) n_params += p.numel();
    flat_grad = torch::zeros({n_params + 3}, torch::kFloat);
    std::int64_t offset = 0;
    for (auto& p : params) {
      p.mutable_grad() = flat_grad.narrow(0, offset, p.numel()).view_as(p);
      offset += p.numel();
    }
  }

  // Sums flat_grad over the ranks in buckets of allreduce_bucket_mb.
  void allreduce_gradients() {
    float* data = flat_grad.data_ptr<float>();
    const std::int64_t total = flat_grad.numel();
    const auto bucket = std::max<std::int64_t>(
        1, static_cast<std::int64_t>(config.allreduce_bucket_mb * 1024 * 1024 / sizeof(float)));
    for (std::int64_t offset = 0; offset < total; offset += bucket) {
      const auto count = static_cast<int>(std::min(bucket, total - offset));
      SURGE_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data + offset, count, MPI_FLOAT, MPI_SUM, comm));
    }
  }

  // Copies the batch into x_buf/y_buf (no other copy) and returns views of n rows. With
  // `target_sums` (field_from_parameters models) the targets' statistics_sums are taken in the
  // same pass as their copy.
  std::pair<torch::Tensor, torch::Tensor> assemble(const reservoir::Batch<reservoir::Sample>& b,
                                                   std::vector<double>* target_sums = nullptr) {
    const auto n = static_cast<std::int64_t>(b.size());
    const std::int64_t nx = io.input_size(), ny = io.output_size();
    const reservoir::Sample& first = b[0];
    SURGE_REQUIRE(static_cast<std::int64_t>(first.x.size()) == nx &&
                      static_cast<std::int64_t>(first.y.size()) == ny,
                  ProtocolError,
                  "a sample has x of " << first.x.size() << " and y of " << first.y.size()
                                       << " values; the model takes " << nx << " and " << ny);
    if (!x_buf.defined() || x_buf.size(0) < n) {
      x_buf = torch::empty({n, nx}, torch::kFloat);
      y_buf = torch::empty({n, ny}, torch::kFloat);
    }
    torch::Tensor x = x_buf.narrow(0, 0, n), y = y_buf.narrow(0, 0, n);
    if (!target_sums) {
      reservoir::stack(b, x.data_ptr<float>(), static_cast<std::size_t>(n * nx),
                       y.data_ptr<float>(), static_cast<std::size_t>(n * ny));
      return {x, y};
    }
    // Each row's sums apart, then added in row order: the same doubles whichever thread
    // gathered which row.
    *target_sums = norm.state.empty_sums(n);
    const std::size_t width = target_sums->size();
    row_sums.assign(static_cast<std::size_t>(n) * width, 0.0);
    float* xs = x.data_ptr<float>();
    float* ys = y.data_ptr<float>();
    auto gather = [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t i = first; i < last; ++i) {
        const reservoir::Sample& s = b[static_cast<std::size_t>(i)];
        SURGE_REQUIRE(static_cast<std::int64_t>(s.x.size()) == nx &&
                          static_cast<std::int64_t>(s.y.size()) == ny,
                      ProtocolError,
                      "sample " << i << " of the batch has x of " << s.x.size() << " and y of "
                                << s.y.size() << " values; the model takes " << nx << " and "
                                << ny);
        std::copy(s.x.begin(), s.x.end(), xs + i * nx);
        norm.state.add_row_sums(s.y.data(), ys + i * ny,
                                row_sums.data() + static_cast<std::size_t>(i) * width);
      }
    };
    if (in_halves(n, n * ny, gather)) ++timing.split_batches;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::size_t k = 1; k < width; ++k)
        (*target_sums)[k] += row_sums[static_cast<std::size_t>(i) * width + k];
    return {x, y};
  }
  // The targets y [n, output_size] normalised in place, in halves as above.
  void normalise_targets(torch::Tensor& y) {
    in_halves(y.size(0), y.numel(), [&](std::int64_t first, std::int64_t last) {
      norm.state.normalise_output_rows(y, first, last);
    });
  }
  // Runs rows(first, last) over [0, n): in two halves, the second on `splitter`, when the
  // batch holds at least kSplitFloats target values and the rank has two cores or more
  // (returns true); otherwise at once on this thread.
  template <class Rows>
  bool in_halves(std::int64_t n, std::int64_t floats, const Rows& rows) {
    if (floats < kSplitFloats || threads.cores < 2 || n < 2) {
      rows(std::int64_t{0}, n);
      return false;
    }
    if (!splitter) splitter = std::make_unique<core::SplitWorker>();
    splitter->run([&](int part) { part == 0 ? rows(0, n / 2) : rows(n / 2, n); });
    return true;
  }
  // 1 MiB of targets: at batch 256 of 64^2 fields (4 MiB) the gather took 1.23 ms on one
  // thread, and two brought the assembly from 7.3-7.5 % to 6.3-6.8 % of a step
  // (bench_surrogates --quick, 2026-12-07); at batch 32 (0.5 MiB, ~0.1 ms) waking a thread
  // would not pay.
  static constexpr std::int64_t kSplitFloats = std::int64_t{1} << 18;

  // Sums for the running statistics of one batch (zeros when it is empty): the targets'
  // (field_from_parameters), or the states' then the increments' (next_step).
  [[nodiscard]] std::vector<double> statistics_sums(const torch::Tensor& y, std::int64_t items) {
    const std::size_t one = 1 + 2 * io.fields.size();
    if (!io.is_operator())
      return items > 0 ? norm.state.batch_sums(y) : std::vector<double>(one, 0.0);
    std::vector<double> sums(2 * one, 0.0);
    if (items == 0) return sums;
    const std::int64_t k = y.size(0) / items;
    const std::vector<double> a = norm.state.batch_sums(y);
    std::copy(a.begin(), a.end(), sums.begin());
    if (k > 1) {
      const torch::Tensor w = y.view({items, k, -1});
      const torch::Tensor d =
          (w.narrow(1, 1, k - 1) - w.narrow(1, 0, k - 1)).reshape({items * (k - 1), -1});
      const std::vector<double> b = norm.delta.batch_sums(d);
      std::copy(b.begin(), b.end(), sums.begin() + static_cast<std::ptrdiff_t>(one));
    }
    return sums;
  }
  void merge_statistics(const std::vector<double>& sums) {
    const std::size_t one = 1 + 2 * io.fields.size();
    norm.state.merge({sums.begin(), sums.begin() + static_cast<std::ptrdiff_t>(one)});
    if (io.is_operator())
      norm.delta.merge({sums.begin() + static_cast<std::ptrdiff_t>(one), sums.end()});
  }

  // Adds each item's loss (per_item [items]) and relative L2 error (relative [items]) to the
  // table, under the simulation of the item's first sample (batch_simulations); the fresh
  // ratios divide by the batch's mean relative L2 error. Allocates nothing once the table
  // holds the ids: CPU floats are read in place, anything else through buffers kept from batch
  // to batch.
  void book_member_losses(const torch::Tensor& per_item, const torch::Tensor& relative) {
    const float* v = host_floats(per_item, loss_host);
    const float* r = host_floats(relative, relative_host);
    const std::size_t n = batch_simulations.size();
    double batch_relative = 0.0;
    for (std::size_t i = 0; i < n; ++i) batch_relative += static_cast<double>(r[i]);
    batch_relative /= static_cast<double>(std::max<std::size_t>(n, 1));
    for (std::size_t i = 0; i < n; ++i)
      member_losses.book(batch_simulations[i], static_cast<double>(v[i]), static_cast<double>(r[i]),
                         batch_relative);
  }
  // The values of t [items], as CPU floats: t's own where it is a contiguous CPU float tensor,
  // otherwise a copy in `host` (resized only when the batch size changes).
  [[nodiscard]] static const float* host_floats(const torch::Tensor& t, torch::Tensor& host) {
    if (t.is_cpu() && t.scalar_type() == torch::kFloat && t.is_contiguous())
      return t.data_ptr<float>();
    torch::NoGradGuard no_grad;
    if (host.numel() != t.numel()) host = torch::empty({t.numel()}, torch::kFloat);
    host.copy_(t.reshape({-1}));
    return host.data_ptr<float>();
  }

  // field_from_parameters: each item's MSE in normalised units ([items], the loss it adds to
  // the batch's mean) and its relative L2 error, from the outputs and the targets y [items,
  // fields * nodes] in normalised units: y = (u - mean) / std per field, so u / std = y + s
  // with s = mean / std and the std cancels (detail::item_errors). No gradient.
  [[nodiscard]] std::pair<torch::Tensor, torch::Tensor> item_errors(const torch::Tensor& out,
                                                                    const torch::Tensor& y) const {
    const std::vector<double>& mean = norm.state.mean();
    const std::vector<double> sd = norm.state.std();
    std::vector<double> shift(mean.size());
    for (std::size_t f = 0; f < mean.size(); ++f) shift[f] = mean[f] / sd[f];
    return detail::item_errors(out.detach(), y, shift);
  }
  // Each item's relative L2 error, the mean over its fields of ||error|| / ||target||, from the
  // error and the target [items, fields * nodes] or [items, fields, nx, ny], both in one unit
  // per field (the std cancels). [items].
  [[nodiscard]] torch::Tensor relative_errors(const torch::Tensor& error,
                                              const torch::Tensor& target) const {
    const auto c = static_cast<std::int64_t>(io.fields.size());
    const torch::Tensor energy = detail::field_square_sums(target, c);
    const double nodes = static_cast<double>(target.numel()) / static_cast<double>(energy.numel());
    return detail::relative_from_sums(detail::field_square_sums(error, c), energy, nodes);
  }

  // next_step: x [items * k, P] and y [items * k, C * nodes] hold windows of k consecutive
  // states. The model starts from the first state of each window (with training noise) and
  // is unrolled over the k - 1 others; each item's loss is the mean over the steps of the MSE
  // in the target's normalised units (operator_error). Returns the per-item losses [items],
  // and their relative L2 errors of the state (MemberLoss), the same mean over the steps,
  // in `relative` [items] (no gradient).
  [[nodiscard]] torch::Tensor unrolled_loss(const torch::Tensor& x, const torch::Tensor& y,
                                            std::int64_t items, torch::Tensor& relative) {
    const std::int64_t k = y.size(0) / items;
    const auto c = static_cast<std::int64_t>(io.fields.size());
    const torch::Tensor states = y.view({items, k, c, io.grid[0], io.grid[1]});
    const torch::Tensor parameters = x.view({items, k, -1}).select(1, 0);
    torch::Tensor h = states.select(1, 0);
    if (config.input_noise > 0) {
      const torch::Tensor sd = norm.state.out_std().view({1, c, io.grid[0], io.grid[1]});
      h = h + torch::randn_like(h) * sd * config.input_noise;
    }
    const torch::Tensor inv_sd = norm.state.out_inv_std().view({1, c, io.grid[0], io.grid[1]});
    torch::Tensor loss;
    for (std::int64_t j = 1; j < k; ++j) {
      h = detail::operator_step(*model, io, norm, h, parameters);
      const torch::Tensor truth = states.select(1, j);
      const torch::Tensor e = detail::operator_error(io, norm, h, truth);
      const torch::Tensor l = e.square().reshape({items, -1}).mean(1);
      loss = j == 1 ? l : loss + l;
      torch::NoGradGuard no_grad;
      // In the state's std units, as item_errors: the std cancels.
      const torch::Tensor r = relative_errors((h.detach() - truth) * inv_sd, truth * inv_sd);
      relative = j == 1 ? r : relative + r;
    }
    relative = relative / static_cast<double>(k - 1);
    return loss / static_cast<double>(k - 1);
  }

  [[nodiscard]] std::vector<std::int64_t> state_shape(std::int64_t b) const {
    return {b, static_cast<std::int64_t>(io.fields.size()), io.grid[0], io.grid[1]};
  }

  void stack_validation(const std::vector<reservoir::Sample>& v, std::size_t begin, std::size_t end,
                        torch::Tensor& x, torch::Tensor& y) const {
    std::vector<const reservoir::Sample*> p;
    for (std::size_t i = begin; i < end; ++i) p.push_back(&v[i]);
    stack_validation(p, 0, p.size(), x, y);
  }
  void stack_validation(const std::vector<const reservoir::Sample*>& v, std::size_t begin,
                        std::size_t end, torch::Tensor& x, torch::Tensor& y) const {
    const std::int64_t nx = io.input_size(), ny = io.output_size();
    const auto n = static_cast<std::int64_t>(end - begin);
    x = torch::empty({n, nx}, torch::kFloat);
    y = torch::empty({n, ny}, torch::kFloat);
    for (std::size_t i = begin; i < end; ++i) {
      const reservoir::Sample& s = *v[i];
      SURGE_REQUIRE(static_cast<std::int64_t>(s.x.size()) == nx &&
                        static_cast<std::int64_t>(s.y.size()) == ny,
                    ProtocolError,
                    "validation sample " << i << " has x of " << s.x.size() << " and y of "
                                         << s.y.size() << " values; the model takes " << nx
                                         << " and " << ny);
      const auto row = static_cast<std::int64_t>(i - begin);
      std::copy(s.x.begin(), s.x.end(), x.data_ptr<float>() + row * nx);
      std::copy(s.y.begin(), s.y.end(), y.data_ptr<float>() + row * ny);
    }
  }

  void prune_checkpoints() const;
};

}  // namespace surge::surrogates
