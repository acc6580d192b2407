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

#include "model.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"

namespace surge::surrogates {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

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
  MPI_Comm_free(&node);
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

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

constexpr std::int64_t kCheckpointFormat = 1;
constexpr int kTrainingColumns = 6;  // batch, samples, loss, lr, samples/s, wall

}  // namespace

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
  TrainerTiming timing;
  ThreadChoice threads;
  double elapsed_before = 0.0;  // wall seconds of earlier runs (from a checkpoint)
  Clock::time_point start = Clock::now();
  torch::Tensor x_buf, y_buf;  // reused batch storage

  [[nodiscard]] double wall() const { return elapsed_before + seconds(start, Clock::now()); }

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

  // Copies the batch into x_buf/y_buf (no other copy) and returns views of n rows.
  std::pair<torch::Tensor, torch::Tensor> assemble(const reservoir::Batch<reservoir::Sample>& b) {
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
    reservoir::stack(b, x.data_ptr<float>(), static_cast<std::size_t>(n * nx), y.data_ptr<float>(),
                     static_cast<std::size_t>(n * ny));
    return {x, y};
  }

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

  // next_step: x [items * k, P] and y [items * k, C * nodes] hold windows of k consecutive
  // states. The model starts from the first state of each window (with training noise) and
  // is unrolled over the k - 1 others; the loss is the mean over the steps of the MSE in the
  // target's normalised units (operator_error).
  [[nodiscard]] torch::Tensor unrolled_loss(const torch::Tensor& x, const torch::Tensor& y,
                                            std::int64_t items) {
    const std::int64_t k = y.size(0) / items;
    const auto c = static_cast<std::int64_t>(io.fields.size());
    const torch::Tensor states = y.view({items, k, c, io.grid[0], io.grid[1]});
    const torch::Tensor parameters = x.view({items, k, -1}).select(1, 0);
    torch::Tensor h = states.select(1, 0);
    if (config.input_noise > 0) {
      const torch::Tensor sd = norm.state.out_std().view({1, c, io.grid[0], io.grid[1]});
      h = h + torch::randn_like(h) * sd * config.input_noise;
    }
    torch::Tensor loss;
    for (std::int64_t j = 1; j < k; ++j) {
      h = detail::operator_step(*model, io, norm, h, parameters);
      const torch::Tensor e = detail::operator_error(io, norm, h, states.select(1, j));
      const torch::Tensor l = e.square().mean();
      loss = j == 1 ? l : loss + l;
    }
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

Trainer::Trainer(const ModelConfig& model, const TrainingConfig& training, const IoDescription& io,
                 MPI_Comm comm, const core::ConfigSource& source)
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

  m.threads = choose_threads(training.threads, cores_per_rank(comm));
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
    torch::Tensor x, y;
    if (n > 0) {
      SURGE_REQUIRE(!m.io.is_operator() || batch->window == c.rollout_steps + 1, ConfigError,
                    "training.rollout_steps = "
                        << c.rollout_steps << " needs windows of " << c.rollout_steps + 1
                        << " steps; the buffer serves windows of " << batch->window);
      std::tie(x, y) = m.assemble(*batch);
    }
    batch.reset();  // hand the samples back before the step

    // Statistics (summed over ranks) of the targets, or of the states and increments.
    const bool update_stats =
        c.output_statistics_batches == 0 || m.step < c.output_statistics_batches;
    if (update_stats) {
      std::vector<double> sums = m.statistics_sums(y, n);
      if (m.size > 1)
        SURGE_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, sums.data(), static_cast<int>(sums.size()),
                                      MPI_DOUBLE, MPI_SUM, m.comm));
      m.merge_statistics(sums);
    }
    if (n > 0 && !m.io.is_operator()) {
      torch::NoGradGuard no_grad;
      x.sub_(m.norm.state.in_center()).mul_(m.norm.state.in_scale());
      m.norm.state.normalise_outputs_in_place(y);
    }
    const auto t2 = Clock::now();
    m.timing.assembly_seconds += seconds(t1, t2);

    m.flat_grad.zero_();
    double loss_value = 0.0;
    if (n > 0) {
      torch::Tensor loss =
          m.io.is_operator() ? m.unrolled_loss(x, y, n) : torch::mse_loss(m.model->forward(x), y);
      loss.backward();
      loss_value = loss.item<double>();
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
    m.history.training.push_back(record);
    if (callback) callback(record);

    if (c.validate_every > 0 && m.step % c.validate_every == 0 && !validation.empty()) {
      m.history.validation.push_back(validate(validation));
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
    m.history.validation.push_back(validate(validation));
  }
  SURGE_LOG(m.log, info,
            "stopped after batch " << m.step << ": " << to_string(reason) << " (" << local_samples
                                   << " samples in " << seconds(begin, Clock::now())
                                   << " s on this rank)");
  return reason;
}

namespace {
// Puts a module in eval mode for a scope (validation), then back in training mode.
struct EvalMode {
  torch::nn::Module& module;
  explicit EvalMode(torch::nn::Module& m) : module(m) { module.eval(); }
  ~EvalMode() { module.train(); }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;
};

// The validation samples of each simulation, in step order.
std::map<std::int64_t, std::vector<const reservoir::Sample*>> trajectories(
    const ValidationSet& validation) {
  std::map<std::int64_t, std::vector<const reservoir::Sample*>> out;
  for (const auto& s : validation.samples) out[s.simulation_id].push_back(&s);
  for (auto& [id, steps] : out) {
    std::sort(
        steps.begin(), steps.end(),
        [](const reservoir::Sample* a, const reservoir::Sample* b) { return a->step < b->step; });
  }
  return out;
}
}  // namespace

ValidationRecord Trainer::validate(const ValidationSet& validation) const {
  const Impl& m = *impl_;
  ValidationRecord record;
  record.batch = m.step;
  record.wall_seconds = m.wall();
  if (validation.empty()) return record;
  torch::NoGradGuard no_grad;
  EvalMode eval(*m.model);
  const std::int64_t ny = m.io.output_size();
  std::vector<float> prediction, target;
  double loss_sum = 0.0;
  constexpr std::size_t kChunk = 256;
  if (!m.io.is_operator()) {
    const std::size_t total = validation.samples.size();
    prediction.resize(total * static_cast<std::size_t>(ny));
    target.resize(prediction.size());
    for (std::size_t begin = 0; begin < total; begin += kChunk) {
      const std::size_t end = std::min(total, begin + kChunk);
      torch::Tensor x, y;
      m.stack_validation(validation.samples, begin, end, x, y);
      const torch::Tensor out_n = m.model->forward(m.norm.state.inputs(x));
      loss_sum +=
          torch::mse_loss(out_n, m.norm.state.outputs(y), torch::Reduction::Sum).item<double>();
      const torch::Tensor out = m.norm.state.denormalise(out_n).contiguous();
      std::copy(out.data_ptr<float>(), out.data_ptr<float>() + out.numel(),
                prediction.data() + begin * static_cast<std::size_t>(ny));
      std::copy(y.data_ptr<float>(), y.data_ptr<float>() + y.numel(),
                target.data() + begin * static_cast<std::size_t>(ny));
    }
  } else {
    // One-step pairs (state at k, state at k + stride) of each validation simulation.
    std::vector<const reservoir::Sample*> inputs, targets;
    for (const auto& [id, steps] : trajectories(validation)) {
      std::map<std::int64_t, const reservoir::Sample*> by_step;
      for (const auto* s : steps) by_step[s->step] = s;
      for (const auto* s : steps) {
        const auto it = by_step.find(s->step + m.io.stride);
        if (it == by_step.end()) continue;
        inputs.push_back(s);
        targets.push_back(it->second);
      }
    }
    SURGE_REQUIRE(!inputs.empty(), ProtocolError,
                  "the validation set holds no pair of states " << m.io.stride << " step(s) apart");
    const std::size_t total = inputs.size();
    prediction.resize(total * static_cast<std::size_t>(ny));
    target.resize(prediction.size());
    for (std::size_t begin = 0; begin < total; begin += kChunk) {
      const std::size_t end = std::min(total, begin + kChunk);
      torch::Tensor p, s, p1, s1;
      m.stack_validation(inputs, begin, end, p, s);
      m.stack_validation(targets, begin, end, p1, s1);
      const auto shape = m.state_shape(static_cast<std::int64_t>(end - begin));
      const torch::Tensor next =
          detail::operator_step(*m.model, m.io, m.norm, s.view(shape), p).contiguous();
      loss_sum +=
          detail::operator_error(m.io, m.norm, next, s1.view(shape)).square().sum().item<double>();
      std::copy(next.data_ptr<float>(), next.data_ptr<float>() + next.numel(),
                prediction.data() + begin * static_cast<std::size_t>(ny));
      std::copy(s1.data_ptr<float>(), s1.data_ptr<float>() + s1.numel(),
                target.data() + begin * static_cast<std::size_t>(ny));
    }
  }
  const auto rows = static_cast<std::int64_t>(prediction.size()) / ny;
  record.loss = loss_sum / static_cast<double>(prediction.size());
  record.fields = mean_field_metrics(prediction, target, rows, m.io.fields, m.io.field_size());
  if (core::Logger::rank() == 0) {
    std::ostringstream os;
    os << "validation at batch " << m.step << ": loss " << record.loss;
    for (const auto& f : record.fields)
      os << "; " << f.field << " rel. L2 " << f.relative_l2 << ", NRMSE " << f.nrmse << ", VRMSE "
         << f.vrmse;
    m.log.info(os.str());
  }
  return record;
}

RolloutResult Trainer::rollout(const ValidationSet& validation, int keep_members) const {
  const Impl& m = *impl_;
  SURGE_REQUIRE(m.io.is_operator(), ConfigError,
                "rollouts need a next_step model; this one is " << m.io.kind);
  RolloutResult result;
  // Each member's states stride steps apart from its first step, as far as they are unbroken.
  std::vector<std::vector<const reservoir::Sample*>> paths;
  for (const auto& [id, steps] : trajectories(validation)) {
    std::vector<const reservoir::Sample*> path{steps.front()};
    for (const auto* s : steps) {
      if (s->step == path.back()->step + m.io.stride) path.push_back(s);
    }
    if (path.size() > 1) paths.push_back(std::move(path));
  }
  if (paths.empty()) return result;
  std::size_t length = paths.front().size();
  for (const auto& p : paths) length = std::min(length, p.size());
  const auto members = static_cast<std::int64_t>(paths.size());
  const auto horizons = static_cast<std::int64_t>(length) - 1;
  torch::Tensor p0, s0, truth = torch::empty({members, horizons + 1, m.io.output_size()});
  {
    std::vector<const reservoir::Sample*> first;
    for (const auto& p : paths) first.push_back(p.front());
    m.stack_validation(first, 0, first.size(), p0, s0);
    for (std::int64_t i = 0; i < members; ++i) {
      for (std::int64_t h = 0; h <= horizons; ++h) {
        const auto& y = paths[static_cast<std::size_t>(i)][static_cast<std::size_t>(h)]->y;
        std::copy(y.begin(), y.end(), truth[i][h].data_ptr<float>());
      }
    }
  }
  torch::NoGradGuard no_grad;
  EvalMode eval(*m.model);
  const auto shape = m.state_shape(members);
  std::vector<torch::Tensor> frames{s0.view(shape)};
  for (std::int64_t h = 1; h <= horizons; ++h)
    frames.push_back(detail::operator_step(*m.model, m.io, m.norm, frames.back(), p0));
  const torch::Tensor predicted = torch::stack(frames, 1).reshape(truth.sizes()).contiguous();
  const std::int64_t ny = m.io.output_size();
  for (std::int64_t h = 1; h <= horizons; ++h) {
    std::vector<float> pred(static_cast<std::size_t>(members * ny)), tru(pred.size());
    for (std::int64_t i = 0; i < members; ++i) {
      std::copy_n(predicted[i][h].data_ptr<float>(), ny, pred.data() + i * ny);
      std::copy_n(truth[i][h].data_ptr<float>(), ny, tru.data() + i * ny);
    }
    result.horizon.push_back(h);
    result.time.push_back(static_cast<double>(h) * m.io.dt);
    result.metrics.push_back(
        mean_field_metrics(pred, tru, members, m.io.fields, m.io.field_size()));
  }
  const std::int64_t keep = std::min<std::int64_t>(keep_members, members);
  for (std::int64_t i = 0; i < keep; ++i) {
    result.simulation_id.push_back(paths[static_cast<std::size_t>(i)].front()->simulation_id);
    result.first_step.push_back(paths[static_cast<std::size_t>(i)].front()->step);
  }
  const torch::Tensor kept_truth = truth.narrow(0, 0, keep).contiguous();
  const torch::Tensor kept_pred = predicted.narrow(0, 0, keep).contiguous();
  result.truth.assign(kept_truth.data_ptr<float>(),
                      kept_truth.data_ptr<float>() + kept_truth.numel());
  result.prediction.assign(kept_pred.data_ptr<float>(),
                           kept_pred.data_ptr<float>() + kept_pred.numel());
  result.frames = horizons + 1;
  if (core::Logger::rank() == 0 && horizons > 0) {
    std::ostringstream os;
    os << "rollout of " << members << " validation member(s) over " << horizons
       << " steps: relative L2 at the last step";
    for (const auto& f : result.metrics.back()) os << " " << f.field << " " << f.relative_l2;
    m.log.info(os.str());
  }
  return result;
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

// ---- Checkpoints ----

namespace {
torch::Tensor doubles_tensor(const std::vector<double>& v) {
  return torch::tensor(v, torch::kDouble);
}
std::vector<double> tensor_doubles(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kDouble).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}
std::string identity_text(const ModelConfig& model, const IoDescription& io) {
  YAML::Node node(YAML::NodeType::Map);
  node["type"] = model.type;
  node["parameters"] = YAML::Clone(model.parameters);
  node["io"] = io.to_yaml();
  return core::to_yaml_text(node);
}
}  // namespace

void Trainer::save_checkpoint(const std::string& path) const {
  const Impl& m = *impl_;
  const std::string partial = path + ".partial";
  try {
    torch::serialize::OutputArchive archive;
    archive.write("format", torch::tensor({kCheckpointFormat}, torch::kLong));
    archive.write("identity", c10::IValue(identity_text(m.model_config, m.io)));
    torch::serialize::OutputArchive model_archive, optimizer_archive;
    m.model->save(model_archive);
    m.optimizer->save(optimizer_archive);
    archive.write("model", model_archive);
    archive.write("optimizer", optimizer_archive);
    archive.write("step", torch::tensor({m.step}, torch::kLong));
    archive.write("elapsed", doubles_tensor({m.wall()}));
    archive.write("normaliser", doubles_tensor(m.norm.state.state()));
    archive.write("delta_normaliser", doubles_tensor(m.norm.delta.state()));
    {
      auto generator = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(generator.mutex());
      archive.write("torch_rng", generator.get_state());
    }
    std::vector<double> train;
    for (const auto& r : m.history.training) {
      train.insert(train.end(), {static_cast<double>(r.batch), static_cast<double>(r.samples),
                                 r.loss, r.learning_rate, r.samples_per_second, r.wall_seconds});
    }
    archive.write("history_training", doubles_tensor(train));
    std::vector<double> valid;
    for (const auto& r : m.history.validation) {
      valid.insert(valid.end(), {static_cast<double>(r.batch), r.wall_seconds, r.loss});
      for (const auto& f : r.fields) valid.insert(valid.end(), {f.relative_l2, f.nrmse, f.vrmse});
    }
    archive.write("history_validation", doubles_tensor(valid));
    archive.save_to(partial);
  } catch (const c10::Error& e) {
    SURGE_THROW(IoError, "cannot write checkpoint '"
                             << path << "': " << first_line(e.what_without_backtrace()));
  }
  std::error_code ec;
  fs::rename(partial, path, ec);
  SURGE_REQUIRE(!ec, IoError,
                "cannot rename '" << partial << "' to '" << path << "': " << ec.message());
}

void Trainer::load_checkpoint(const std::string& path) {
  Impl& m = *impl_;
  SURGE_REQUIRE(fs::is_regular_file(path), IoError, "checkpoint '" << path << "' does not exist");
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    torch::Tensor format;
    archive.read("format", format);
    SURGE_REQUIRE(format.item<std::int64_t>() == kCheckpointFormat, IoError,
                  "checkpoint '" << path << "' has format " << format.item<std::int64_t>()
                                 << ", expected " << kCheckpointFormat);
    c10::IValue identity;
    archive.read("identity", identity);
    SURGE_REQUIRE(identity.toStringRef() == identity_text(m.model_config, m.io), ConfigError,
                  "checkpoint '" << path << "' belongs to another model or description:\n"
                                 << identity.toStringRef());
    const auto shapes = detail::parameter_shapes(*m.model);
    torch::serialize::InputArchive model_archive, optimizer_archive;
    archive.read("model", model_archive);
    archive.read("optimizer", optimizer_archive);
    {
      torch::NoGradGuard no_grad;
      m.model->load(model_archive);
    }
    SURGE_REQUIRE(detail::parameter_shapes(*m.model) == shapes, IoError,
                  "checkpoint '" << path << "' holds weights of other shapes");
    m.optimizer->load(optimizer_archive);
    torch::Tensor step, elapsed, normaliser, rng, train, valid;
    archive.read("step", step);
    archive.read("elapsed", elapsed);
    archive.read("normaliser", normaliser);
    archive.read("torch_rng", rng);
    archive.read("history_training", train);
    archive.read("history_validation", valid);
    m.step = step.item<std::int64_t>();
    m.elapsed_before = elapsed.item<double>();
    m.start = Clock::now();
    m.norm.state.set_state(tensor_doubles(normaliser));
    if (m.io.is_operator()) {
      torch::Tensor delta;
      archive.read("delta_normaliser", delta);
      m.norm.delta.set_state(tensor_doubles(delta));
    }
    {
      auto generator = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_state(rng);
    }
    m.history = {};
    const auto t = tensor_doubles(train);
    for (std::size_t i = 0; i + kTrainingColumns <= t.size(); i += kTrainingColumns) {
      m.history.training.push_back({static_cast<std::int64_t>(t[i]),
                                    static_cast<std::int64_t>(t[i + 1]), t[i + 2], t[i + 3],
                                    t[i + 4], t[i + 5]});
    }
    const auto v = tensor_doubles(valid);
    const std::size_t columns = 3 + 3 * m.io.fields.size();
    for (std::size_t i = 0; i + columns <= v.size(); i += columns) {
      ValidationRecord r;
      r.batch = static_cast<std::int64_t>(v[i]);
      r.wall_seconds = v[i + 1];
      r.loss = v[i + 2];
      for (std::size_t f = 0; f < m.io.fields.size(); ++f)
        r.fields.push_back({m.io.fields[f], v[i + 3 + 3 * f], v[i + 4 + 3 * f], v[i + 5 + 3 * f]});
      m.history.validation.push_back(r);
    }
  } catch (const c10::Error& e) {
    SURGE_THROW(IoError, "cannot read checkpoint '"
                             << path << "': " << first_line(e.what_without_backtrace()));
  }
  // The optimizer's load replaces nothing but its state; gradients stay bound to flat_grad.
  SURGE_LOG(m.log, info, "resumed from '" << path << "' at batch " << m.step);
}

std::optional<std::string> Trainer::latest_checkpoint(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  const std::regex pattern("checkpoint_([0-9]+)\\.pt");
  std::optional<std::string> best;
  long long best_step = -1;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::smatch match;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, match, pattern) && std::stoll(match[1]) > best_step) {
      best_step = std::stoll(match[1]);
      best = entry.path().string();
    }
  }
  return best;
}

void Trainer::Impl::prune_checkpoints() const {
  const std::regex pattern("checkpoint_([0-9]+)\\.pt");
  std::vector<std::pair<long long, fs::path>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(config.checkpoint_dir, ec)) {
    std::smatch match;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, match, pattern))
      found.emplace_back(std::stoll(match[1]), entry.path());
  }
  std::sort(found.begin(), found.end());
  const auto keep = static_cast<std::size_t>(config.keep_checkpoints);
  for (std::size_t i = 0; i + keep < found.size(); ++i) fs::remove(found[i].second, ec);
}

void Trainer::export_model(const std::string& dir) const {
  const Impl& m = *impl_;
  detail::write_surrogate_dir(dir, *m.model, m.model_config, m.io, m.norm.state,
                              m.io.is_operator() ? &m.norm.delta : nullptr,
                              core::dump_config(m.config), m.step);
}

}  // namespace surge::surrogates
