// The trainer: batches from a reservoir buffer -> normalised tensors -> optimizer steps, with
// gradients averaged over MPI ranks, validation, checkpoints and export.
#include "surge/surrogates/trainer.hpp"

#include <dlfcn.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>

#include "surge/core/allocator.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "trainer_impl.hpp"

namespace surge::surrogates {

namespace fs = std::filesystem;
using detail::seconds;

const char* to_string(StopReason reason) noexcept {
  switch (reason) {
    case StopReason::kBatchBudget:
      return "batch budget spent";
    case StopReason::kTimeBudget:
      return "time budget spent";
    case StopReason::kExhausted:
      return "buffer exhausted";
  }
  return "?";
}

ThreadChoice choose_threads(const ThreadsConfig& config, int cores) {
  ThreadChoice c;
  c.cores = std::max(1, cores);
  if (config.intra_op == 0 && config.blas == 0) {
    // Matrix products dominate an MLP step and run in OpenBLAS; the elementwise kernels
    // of the intra-op pool are a small share, so OpenBLAS gets the cores.
    c.blas = c.cores;
    c.intra_op = 1;
  } else if (config.intra_op == 0) {
    c.blas = config.blas;
    c.intra_op = std::max(1, c.cores / c.blas);
  } else if (config.blas == 0) {
    c.intra_op = config.intra_op;
    c.blas = std::max(1, c.cores / c.intra_op);
  } else {
    c.intra_op = config.intra_op;
    c.blas = config.blas;
  }
  c.oversubscribed = c.intra_op * c.blas > c.cores;
  return c;
}

int cores_per_rank(MPI_Comm comm) {
  cpu_set_t set;
  CPU_ZERO(&set);
  int cpus = 1;
  if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
  MPI_Comm node = MPI_COMM_NULL;
  SURGE_MPI_CHECK(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  const int local = core::comm_size(node);
  SURGE_MPI_CHECK(MPI_Comm_free(&node));
  return std::max(1, cpus / std::max(1, local));
}

namespace {

// OpenBLAS's thread setter, looked up at run time: libblas.so.3 may be another BLAS.
bool set_blas_threads(int n) {
  using Setter = void (*)(int);
  auto setter = reinterpret_cast<Setter>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (!setter) return false;
  setter(n);
  return true;
}

}  // namespace

Trainer::Trainer(const ModelConfig& model, const TrainingConfig& training, const IoDescription& io,
                 MPI_Comm comm, const core::ConfigSource& source, int cores)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.comm = comm;
  m.rank = core::comm_rank(comm);
  m.size = core::comm_size(comm);
  io.check();
  surrogates::validate(training);
  m.config = training;
  m.io = io;
  m.model_config = detail::resolve_model_config(model, source, "model");

  m.threads = choose_threads(training.threads, cores > 0 ? cores : cores_per_rank(comm));
  torch::set_num_threads(m.threads.intra_op);
  const bool blas = set_blas_threads(m.threads.blas);
  SURGE_LOG(m.log, info,
            "threads: " << m.threads.intra_op << " intra-op x " << m.threads.blas << " OpenBLAS on "
                        << m.threads.cores << " cores per rank"
                        << (blas ? "" : " (OpenBLAS not loaded: BLAS threads left as they are)"));
  if (m.threads.oversubscribed)
    SURGE_LOG(m.log, warn,
              "threads.intra_op * threads.blas = " << m.threads.intra_op * m.threads.blas
                                                   << " exceeds the " << m.threads.cores
                                                   << " cores of this rank: expect a slowdown");

  // Same seed on every rank: identical initial weights without a broadcast.
  torch::manual_seed(static_cast<std::uint64_t>(training.seed));
  m.model = detail::make_model(m.model_config, io, source, "model");
  m.params = m.model->parameters();
  m.bind_gradients();
  m.make_optimizer();
  m.norm.state = detail::Normaliser(io);
  m.norm.delta = detail::Normaliser(io);
  SURGE_LOG(m.log, info,
            m.model_config.type << " with " << m.n_params << " weights: " << io.input_size()
                                << " inputs -> " << io.output_size() << " outputs; "
                                << m.config.optimizer.type << ", schedule "
                                << m.config.schedule.type << ", " << m.size << " rank(s)");
}

Trainer::~Trainer() = default;

StopReason Trainer::train(reservoir::Buffer<reservoir::Sample>& buffer,
                          const ValidationSet& validation, const Callback& callback) {
  Impl& m = *impl_;
  const TrainingConfig& c = m.config;
  // The steps' large temporaries come back from an arena that keeps them (core/allocator.hpp).
  const core::TrainingArena arena;
  SURGE_LOG(m.log, debug, arena.description());
  const auto begin = Clock::now();
  std::int64_t local_samples = 0;
  bool stop_vote = false;
  StopReason reason = StopReason::kExhausted;
  float* tail = m.flat_grad.data_ptr<float>() + m.n_params;  // n, stop vote, loss sum

  while (true) {
    if (c.max_batches > 0 && m.step >= c.max_batches) {
      reason = StopReason::kBatchBudget;
      break;
    }
    const auto t0 = Clock::now();
    std::optional<reservoir::Batch<reservoir::Sample>> batch = buffer.next_batch();
    const auto t1 = Clock::now();
    m.timing.wait_seconds += seconds(t0, t1);

    // n: items of this rank's batch (samples, or windows for next_step models).
    const std::int64_t n = batch ? batch->items() : std::int64_t{0};
    const bool update_stats =
        c.output_statistics_batches == 0 || m.step < c.output_statistics_batches;
    torch::Tensor x, y;
    std::vector<double> sums;  // the targets' statistics, taken while they are copied
    m.batch_simulations.resize(static_cast<std::size_t>(n));  // of each item
    if (n > 0) {
      // A next-step buffer with samples.stride > 1 keys each window by simulation x stride +
      // phase (the feeder's stride_key); the losses are booked by simulation.
      const std::int64_t key_stride = m.io.is_operator() && m.io.stride > 1 ? m.io.stride : 1;
      for (std::int64_t i = 0; i < n; ++i)
        m.batch_simulations[static_cast<std::size_t>(i)] =
            (*batch)[static_cast<std::size_t>(i * batch->window)].simulation_id / key_stride;
      SURGE_REQUIRE(!m.io.is_operator() || batch->window == c.rollout_steps + 1, ConfigError,
                    "training.rollout_steps = "
                        << c.rollout_steps << " needs windows of " << c.rollout_steps + 1
                        << " steps; the buffer serves windows of " << batch->window);
      std::tie(x, y) = m.assemble(*batch, update_stats && !m.io.is_operator() ? &sums : nullptr);
    }
    batch.reset();  // hand the samples back before the step

    // Statistics (summed over ranks) of the targets, or of the states and increments.
    if (update_stats) {
      if (sums.empty()) sums = m.statistics_sums(y, n);
      if (m.size > 1)
        SURGE_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, sums.data(), static_cast<int>(sums.size()),
                                      MPI_DOUBLE, MPI_SUM, m.comm));
      m.merge_statistics(sums);
    }
    if (n > 0 && !m.io.is_operator()) {
      torch::NoGradGuard no_grad;
      x.sub_(m.norm.state.in_center()).mul_(m.norm.state.in_scale());
      m.normalise_targets(y);
    }
    const auto t2 = Clock::now();
    m.timing.assembly_seconds += seconds(t1, t2);

    m.flat_grad.zero_();
    double loss_value = 0.0;
    if (n > 0) {
      // Per-item losses for the bookkeeping by simulation, from the training step's own
      // forward pass.
      torch::Tensor loss, per_item, relative;
      if (m.io.is_operator()) {
        per_item = m.unrolled_loss(x, y, n, relative);
        loss = per_item.mean();
      } else {
        // The fused MSE for the gradient (the mean of the per-item MSEs: every item has the
        // same outputs), the per-item errors from the same outputs outside autograd.
        const torch::Tensor out = m.model->forward(x);
        loss = torch::mse_loss(out, y);
        std::tie(per_item, relative) = m.item_errors(out, y);
      }
      loss.backward();
      loss_value = loss.item<double>();
      m.book_member_losses(per_item, relative);
    }
    std::int64_t total = n;
    if (m.size > 1) {
      // Each rank's gradient is a mean over its n samples: weight by n, sum, divide by the
      // total, so that every sample counts the same whatever rank it came from.
      if (n > 0) m.flat_grad.narrow(0, 0, m.n_params).mul_(static_cast<float>(n));
      tail[0] = static_cast<float>(n);
      tail[1] = (c.max_seconds > 0 && seconds(begin, Clock::now()) > c.max_seconds) ? 1.f : 0.f;
      tail[2] = static_cast<float>(loss_value * static_cast<double>(n));
      m.allreduce_gradients();
      total = static_cast<std::int64_t>(tail[0]);
      stop_vote = tail[1] > 0;
      if (total > 0) {
        m.flat_grad.narrow(0, 0, m.n_params).div_(static_cast<float>(total));
        loss_value = static_cast<double>(tail[2]) / static_cast<double>(total);
      }
    } else {
      stop_vote = c.max_seconds > 0 && seconds(begin, Clock::now()) > c.max_seconds;
    }
    if (total == 0) {
      m.timing.step_seconds += seconds(t2, Clock::now());
      reason = StopReason::kExhausted;
      break;
    }
    SURGE_REQUIRE(std::isfinite(loss_value), NumericalError,
                  "the training loss is " << loss_value << " at batch " << m.step + 1);
    if (c.grad_clip > 0) torch::nn::utils::clip_grad_norm_(m.params, c.grad_clip);
    const double lr = m.learning_rate(m.step);
    for (auto& group : m.optimizer->param_groups()) group.options().set_lr(lr);
    m.optimizer->step();
    ++m.step;
    local_samples += n;
    const auto t3 = Clock::now();
    m.timing.step_seconds += seconds(t2, t3);
    ++m.timing.batches;

    TrainingRecord record;
    record.batch = m.step;
    record.samples = total;
    record.loss = loss_value;
    record.learning_rate = lr;
    record.samples_per_second = static_cast<double>(local_samples) / seconds(begin, t3);
    record.wall_seconds = m.wall();
    m.history.add(record);
    if (callback) callback(record);

    if (c.validate_every > 0 && m.step % c.validate_every == 0 && !validation.empty()) {
      m.history.add(validate(validation));
    }
    if (c.checkpoint_every > 0 && m.step % c.checkpoint_every == 0 && m.rank == 0) {
      fs::create_directories(c.checkpoint_dir);
      save_checkpoint(
          (fs::path(c.checkpoint_dir) / ("checkpoint_" + std::to_string(m.step) + ".pt")).string());
      m.prune_checkpoints();
    }
    if (stop_vote) {
      reason = StopReason::kTimeBudget;
      break;
    }
  }
  if (!validation.empty() && m.step > 0 &&
      (m.history.validation.empty() || m.history.validation.back().batch != m.step)) {
    m.history.add(validate(validation));
  }
  SURGE_LOG(m.log, info,
            "stopped after batch " << m.step << ": " << to_string(reason) << " (" << local_samples
                                   << " samples in " << seconds(begin, Clock::now())
                                   << " s on this rank)");
  return reason;
}

std::vector<float> Trainer::predict(const std::vector<float>& x, std::int64_t n) const {
  const Impl& m = *impl_;
  SURGE_REQUIRE(!m.io.is_operator(), ConfigError,
                "predict() needs a field_from_parameters model, this one is " << m.io.kind);
  SURGE_REQUIRE(static_cast<std::int64_t>(x.size()) == n * m.io.input_size(), ConfigError,
                "predict: " << x.size() << " inputs for " << n << " rows of " << m.io.input_size());
  torch::NoGradGuard no_grad;
  const torch::Tensor xt =
      torch::from_blob(const_cast<float*>(x.data()), {n, m.io.input_size()}, torch::kFloat);
  const torch::Tensor y =
      m.norm.state.denormalise(m.model->forward(m.norm.state.inputs(xt))).contiguous();
  return {y.data_ptr<float>(), y.data_ptr<float>() + y.numel()};
}

const History& Trainer::history() const noexcept { return impl_->history; }
const MemberLosses& Trainer::member_losses() const noexcept { return impl_->member_losses; }
void Trainer::set_member_losses(MemberLosses losses) { impl_->member_losses = std::move(losses); }
std::int64_t Trainer::batches() const noexcept { return impl_->step; }
const TrainerTiming& Trainer::timing() const noexcept { return impl_->timing; }
const ThreadChoice& Trainer::threads() const noexcept { return impl_->threads; }
std::vector<double> Trainer::output_mean() const { return impl_->norm.state.mean(); }
std::vector<double> Trainer::output_std() const { return impl_->norm.state.std(); }

std::vector<float> Trainer::flat_parameters() const {
  std::vector<float> out;
  for (const auto& p : impl_->params) {
    const torch::Tensor c = p.detach().contiguous();
    out.insert(out.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return out;
}

void Trainer::set_flat_parameters(const std::vector<float>& values) {
  SURGE_REQUIRE(
      static_cast<std::int64_t>(values.size()) == impl_->n_params, ConfigError,
      "set_flat_parameters: " << values.size() << " values for " << impl_->n_params << " weights");
  torch::NoGradGuard no_grad;
  std::int64_t offset = 0;
  for (auto& p : impl_->params) {
    p.copy_(torch::from_blob(const_cast<float*>(values.data()) + offset, p.sizes(), torch::kFloat));
    offset += p.numel();
  }
}

}  // namespace surge::surrogates
