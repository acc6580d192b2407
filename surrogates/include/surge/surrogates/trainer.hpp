#pragma once
// The trainer every surrogate model uses: pulls batches from a reservoir buffer, normalises
// them, steps the optimizer, validates and checkpoints, and averages gradients over MPI
// ranks (data-parallel: each rank trains on its own buffer, the ranks' weights stay
// bit-identical). Torch-free header (pimpl): `surge run` includes it without LibTorch.

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "surge/core/config.hpp"
#include "surge/reservoir/buffer.hpp"
#include "surge/reservoir/sample.hpp"
#include "surge/surrogates/config.hpp"
#include "surge/surrogates/description.hpp"
#include "surge/surrogates/member_losses.hpp"
#include "surge/surrogates/metrics.hpp"

namespace surge::surrogates {

// Held-out samples (whole simulations), kept in memory; x and y as in training.
struct ValidationSet {
  std::vector<reservoir::Sample> samples;
  [[nodiscard]] bool empty() const noexcept { return samples.empty(); }
};

// One optimizer step, as the progress callback and history() see it.
struct TrainingRecord {
  std::int64_t batch = 0;         // optimizer steps taken so far (1 after the first)
  std::int64_t samples = 0;       // samples in this step, summed over ranks
  double loss = 0.0;              // MSE of the normalised outputs, mean over the ranks' samples
  double learning_rate = 0.0;     // rate used for this step
  double samples_per_second = 0;  // this rank's samples / wall seconds, since train() began
  double wall_seconds = 0.0;      // since the trainer began (continued across restarts)
};

struct ValidationRecord {
  std::int64_t batch = 0;
  double wall_seconds = 0.0;
  double loss = 0.0;  // normalised MSE over the validation set
  std::vector<FieldMetrics> fields;
};

// The training and validation curves, bounded so that a study of any length (a continuous one
// runs for days) keeps at most kTrainingRows + kValidationRows rows in memory, checkpoints and
// results.h5. Training rows are per batch until kTrainingRows; then adjacent rows merge in
// pairs and each row stands for `stride()` consecutive batches (2, 4, ...): `batch` is the last
// of them, `samples` their sum, `loss` the sample-weighted mean, the rate, throughput and wall
// time the last batch's. Validation rows past kValidationRows are thinned: every other older
// row is dropped, the latest is always kept.
struct History {
  static constexpr std::size_t kTrainingRows = 8192;
  static constexpr std::size_t kValidationRows = 4096;
  std::vector<TrainingRecord> training;
  std::vector<ValidationRecord> validation;

  void add(const TrainingRecord& record);
  void add(ValidationRecord record);
  // Batches each full training row stands for (1 until the first merge). Derived from the rows,
  // so a history read back from a checkpoint goes on at the same resolution.
  [[nodiscard]] std::int64_t stride() const noexcept;

 private:
  mutable std::int64_t stride_ = 0;  // cached stride(); 0 = derive from the rows
};

// Autoregressive rollouts of the validation members (next_step models): each member is rolled
// out from its first state over as many steps as every member has, and the metrics at each
// horizon are the means over the members, per channel.
struct RolloutResult {
  std::vector<std::int64_t> horizon;               // steps from the initial state: 1, 2, ...
  std::vector<double> time;                        // horizon * dt
  std::vector<std::vector<FieldMetrics>> metrics;  // [horizon][channel]
  // Kept members: their ids, first steps, and truth / prediction [members][frames][outputs]
  // with frame 0 the initial state.
  std::vector<std::int64_t> simulation_id, first_step;
  std::int64_t frames = 0;
  std::vector<float> truth, prediction;
};

// Why train() returned.
enum class StopReason { kBatchBudget, kTimeBudget, kExhausted };
[[nodiscard]] const char* to_string(StopReason reason) noexcept;

// Threads chosen for a trainer rank; product <= cores.
struct ThreadChoice {
  int cores = 1;  // cores this rank may use (its share of the node)
  int intra_op = 1;
  int blas = 1;
  bool oversubscribed = false;  // explicit values whose product exceeds the cores
};

// Resolves the `threads:` keys for `cores` cores per rank (see ThreadsConfig). Automatic
// values give the cores to OpenBLAS and one thread to LibTorch's intra-op pool, for every
// architecture: the pool is OpenMP, whose threads spin while they wait, and when members or
// anything else share the cores an FNO step ran up to 24x slower with 2 intra-op threads
// (bench_fno prints the splits; on an idle machine 2 intra-op threads gained 1.25x).
// Explicit values are kept (and flagged `oversubscribed` if their product exceeds the
// cores). Pure function, throws nothing.
[[nodiscard]] ThreadChoice choose_threads(const ThreadsConfig& config, int cores);
// Cores this rank may use: the CPUs in its affinity mask divided among the ranks of `comm`
// on the same node. Collective over `comm`.
[[nodiscard]] int cores_per_rank(MPI_Comm comm);

// Time spent in the parts of train(), for benchmarks (this rank, this process).
struct TrainerTiming {
  double wait_seconds = 0.0;      // blocked in Buffer::next_batch
  double assembly_seconds = 0.0;  // copying a batch into tensors and normalising it
  double step_seconds = 0.0;      // forward, backward, allreduce, optimizer
  std::int64_t batches = 0;
  std::int64_t split_batches = 0;  // assembled by two threads (large batches, >= 2 cores)
};

class Trainer {
 public:
  // Called after every step; must not throw.
  using Callback = std::function<void(const TrainingRecord&)>;

  // MPI must be initialised. Builds the model (seeded from training.seed), the optimizer and the
  // normalisers, and sets the thread counts (logged). Collective over `comm` (every rank must pass
  // the same configuration). `cores`: the cores this rank's trainer may use, which automatic
  // thread counts (training.threads 0) fill and explicit ones are checked against; 0 =
  // cores_per_rank(comm). Throws core::ConfigError for an invalid config or description.
  Trainer(const ModelConfig& model, const TrainingConfig& training, const IoDescription& io,
          MPI_Comm comm = MPI_COMM_SELF, const core::ConfigSource& source = {}, int cores = 0);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains until the batch budget (max_batches, counted across restarts) or the time budget
  // of this call is spent, or every rank's buffer is exhausted. Validates every
  // validate_every batches (if `validation` is not empty) and checkpoints every
  // checkpoint_every batches (rank 0 writes). Collective over the communicator: every rank
  // calls it, each with its own buffer. Returns why it stopped. Throws core::ProtocolError
  // for a sample of the wrong size, core::IoError if a checkpoint cannot be written,
  // core::NumericalError for a non-finite loss.
  StopReason train(reservoir::Buffer<reservoir::Sample>& buffer, const ValidationSet& validation,
                   const Callback& callback = {});

  // Metrics of the current model on `validation` (de-normalised predictions), per field.
  // Local to this rank. Throws core::ProtocolError for a sample of the wrong size.
  [[nodiscard]] ValidationRecord validate(const ValidationSet& validation) const;

  // Rollouts of the validation members (next_step models), keeping truth and prediction of
  // the first `keep_members`. Local. Throws core::ConfigError for another kind of model.
  [[nodiscard]] RolloutResult rollout(const ValidationSet& validation, int keep_members = 3) const;

  // Predictions for `n` raw (un-normalised) inputs, row-major [n][input_size] -> [n][output_size].
  [[nodiscard]] std::vector<float> predict(const std::vector<float>& x, std::int64_t n) const;

  [[nodiscard]] const History& history() const noexcept;
  // This rank's per-simulation training losses, kept from the per-sample losses of each batch
  // (no extra forward pass). Local: a study reduces them over its ranks.
  [[nodiscard]] const MemberLosses& member_losses() const noexcept;
  // Replaces them (a resumed study restores the reduced table on one rank).
  void set_member_losses(MemberLosses losses);
  [[nodiscard]] std::int64_t batches() const noexcept;
  [[nodiscard]] const TrainerTiming& timing() const noexcept;
  [[nodiscard]] const ThreadChoice& threads() const noexcept;
  // Every weight, flattened in registration order (for tests comparing ranks and runs).
  [[nodiscard]] std::vector<float> flat_parameters() const;
  // Sets every weight from a vector laid out as flat_parameters(). Throws core::ConfigError
  // if its size differs.
  void set_flat_parameters(const std::vector<float>& values);
  // Running output statistics per field (mean, standard deviation) used to normalise y.
  [[nodiscard]] std::vector<double> output_mean() const;
  [[nodiscard]] std::vector<double> output_std() const;

  // Writes model, optimizer state, step, normalisers, history and RNG state to `path`
  // (core::AtomicFile: `path` is the complete checkpoint or untouched). Local: call it on one
  // rank. Throws core::IoError "cannot write '<path>': <OS error>".
  void save_checkpoint(const std::string& path) const;
  // Restores a checkpoint written by a trainer of the same model and description; training
  // then continues exactly as if it had not stopped. Throws core::IoError if unreadable,
  // core::ConfigError if it belongs to another architecture or description.
  void load_checkpoint(const std::string& path);
  // The newest checkpoint_<batch>.pt in `dir`, if any.
  [[nodiscard]] static std::optional<std::string> latest_checkpoint(const std::string& dir);

  // Writes a loadable surrogate to `dir` (created, or replaced whole: core::AtomicDirectory):
  // model.pt (weights) and surrogate.yaml (architecture, description, normalisation, resolved
  // training config). Local. Throws core::IoError; `dir` is then as it was.
  void export_model(const std::string& dir) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace surge::surrogates
