#pragma once
// Configuration of a surrogate: the model (`type:` + `parameters:`, built through the model
// registry) and the training (optimizer, learning-rate schedule, budgets, validation,
// checkpoints, seeds, threads). Torch-free, so that the experiment config can include it.
//
//   model:
//     type: mlp
//     parameters: {hidden: [256, 256], activation: relu}
//   training:
//     optimizer: {type: adam, lr: 1.0e-3}
//     schedule: {type: cosine}
//     max_batches: 5000

#include <cstdint>
#include <string>
#include <vector>

#include "surge/core/config.hpp"

namespace surge::surrogates {

// `model:`: `type:` names an architecture of model_types(), `parameters:` configures it.
using ModelConfig = core::Pluggable;

struct IoDescription;  // description.hpp

// `parameters:` of `type: mlp`: inputs -> hidden... -> outputs, fully connected. The
// default is Melissa's heat-equation MLP shape (two hidden layers of 256).
struct MlpParameters {
  std::vector<int> hidden{256, 256};
  std::string activation = "relu";

  template <class V>
  void visit(V& v) {
    v("hidden", hidden, "widths of the hidden layers, input side first (may be empty: linear)",
      core::Check<std::vector<int>>{"a list of widths >= 1", [](const std::vector<int>& w) {
                                      for (int x : w)
                                        if (x < 1) return false;
                                      return true;
                                    }});
    v("activation", activation, "activation after every hidden layer",
      core::one_of({"relu", "tanh", "gelu", "silu"}));
  }
};

// An architecture the model registry knows: name, one line, and its documented keys.
struct ModelType {
  std::string name;
  std::string summary;
  std::vector<core::KeyDoc> keys;
  std::string kind;  // the samples it learns from: field_from_parameters or next_step
};

// Every architecture surrogates can build ("mlp", "fno"), for --help and error messages.
[[nodiscard]] std::vector<ModelType> model_types();
// The kind of samples architecture `type` learns from. Throws core::ConfigError for an
// unknown type.
[[nodiscard]] std::string model_kind(const std::string& type);

// Checks `model` before anything is built: a known type and valid parameters. `path` is
// where the part sits in the config ("model"). Throws core::ConfigError naming the key.
void check_model_config(const ModelConfig& model, const core::ConfigSource& source = {},
                        const std::string& path = "model");
// The number of weights of the model `model` builds for `io` (it builds one, and leaves the
// torch random generator as it found it). Throws core::ConfigError.
[[nodiscard]] std::int64_t count_weights(const ModelConfig& model, const IoDescription& io,
                                         const core::ConfigSource& source = {},
                                         const std::string& path = "model");

// Reads the MLP's parameters (defaults filled in). Throws core::ConfigError.
[[nodiscard]] MlpParameters read_mlp_parameters(const YAML::Node& parameters,
                                                const core::ConfigSource& source = {},
                                                const std::string& path = "model.parameters");

struct OptimizerConfig {
  std::string type = "adam";
  double lr = 1e-3;
  double weight_decay = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double momentum = 0.9;

  template <class V>
  void visit(V& v) {
    v("type", type, "adam, adamw (decoupled weight decay) or sgd (with momentum)",
      core::one_of({"adam", "adamw", "sgd"}));
    v("lr", lr, "base learning rate (the schedule scales it)", core::greater_than(0.0));
    v("weight_decay", weight_decay, "L2 penalty (adam, sgd) or decoupled decay (adamw)",
      core::at_least(0.0));
    v("beta1", beta1, "adam/adamw first-moment decay", core::in_range(0.0, 0.999999));
    v("beta2", beta2, "adam/adamw second-moment decay", core::in_range(0.0, 0.999999));
    v("eps", eps, "adam/adamw denominator term", core::greater_than(0.0));
    v("momentum", momentum, "sgd momentum (0: plain sgd)", core::in_range(0.0, 0.999999));
  }
};

// Learning rate at batch b (0-based count of optimizer steps taken before it):
//   constant:  lr
//   step:      lr * gamma^floor(b / step_size)
//   multistep: lr * gamma^(number of milestones <= b)
//   cosine:    min_lr + (lr - min_lr) (1 + cos(pi min(b, T) / T)) / 2, T = period or max_batches
// then scaled by (b + 1) / warmup_batches while b < warmup_batches.
struct ScheduleConfig {
  std::string type = "constant";
  std::int64_t step_size = 1000;
  double gamma = 0.5;
  std::vector<int> milestones;
  std::int64_t period = 0;
  double min_lr = 0.0;
  std::int64_t warmup_batches = 0;

  template <class V>
  void visit(V& v) {
    v("type", type, "constant, step, multistep or cosine",
      core::one_of({"constant", "step", "multistep", "cosine"}));
    v("step_size", step_size, "step: batches between two decays", core::at_least<std::int64_t>(1));
    v("gamma", gamma, "step/multistep: factor applied at each decay", core::greater_than(0.0));
    v("milestones", milestones, "multistep: batches at which the rate decays, increasing");
    v("period", period, "cosine: batches to decay over (0: training.max_batches)",
      core::at_least<std::int64_t>(0));
    v("min_lr", min_lr, "cosine: rate at the end of the period", core::at_least(0.0));
    v("warmup_batches", warmup_batches, "linear warm-up from lr/warmup_batches (0: none)",
      core::at_least<std::int64_t>(0));
  }
};

// Threads of one trainer (one MPI rank). LibTorch's intra-op pool (elementwise kernels) and
// OpenBLAS (matrix products) both spawn threads; their product is kept <= the cores this
// rank owns, because oversubscription halved throughput in our measurement.
struct ThreadsConfig {
  int intra_op = 0;
  int blas = 0;

  template <class V>
  void visit(V& v) {
    v("intra_op", intra_op,
      "LibTorch intra-op threads (0: auto = the cores of this rank / blas threads)",
      core::at_least(0));
    v("blas", blas, "OpenBLAS threads (0: auto = the cores of this rank, with intra_op 1)",
      core::at_least(0));
  }
};

struct TrainingConfig {
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  ThreadsConfig threads;
  double grad_clip = 0.0;
  std::int64_t max_batches = 10000;
  double max_seconds = 0.0;
  std::int64_t validate_every = 100;
  std::int64_t checkpoint_every = 0;
  std::string checkpoint_dir = "checkpoints";
  std::int64_t keep_checkpoints = 2;
  std::int64_t seed = 1234;
  std::int64_t output_statistics_batches = 0;
  double allreduce_bucket_mb = 16.0;
  std::int64_t rollout_steps = 1;
  double input_noise = 0.0;
  std::string target = "increment";

  template <class V>
  void visit(V& v) {
    v.section("optimizer", optimizer, "optimizer");
    v.section("schedule", schedule, "learning-rate schedule");
    v.section("threads", threads, "threads per trainer rank");
    v("grad_clip", grad_clip, "largest global L2 norm of the gradient (0: no clipping)",
      core::at_least(0.0));
    v("max_batches", max_batches,
      "budget: optimizer steps in total, counted across restarts (0: no limit)",
      core::at_least<std::int64_t>(0));
    v("max_seconds", max_seconds, "budget: wall seconds of one train() call (0: no limit)",
      core::at_least(0.0));
    v("validate_every", validate_every, "batches between two validations (0: never)",
      core::at_least<std::int64_t>(0));
    v("checkpoint_every", checkpoint_every, "batches between two checkpoints (0: never)",
      core::at_least<std::int64_t>(0));
    v("checkpoint_dir", checkpoint_dir, "directory of checkpoint_<batch>.pt files");
    v("keep_checkpoints", keep_checkpoints, "newest checkpoints kept (older ones are removed)",
      core::at_least<std::int64_t>(1));
    v("seed", seed, "seed of the weight initialisation and every random choice of training",
      core::at_least<std::int64_t>(0));
    v("output_statistics_batches", output_statistics_batches,
      "batches whose targets update the running output mean and standard deviation used to "
      "normalise them (0: every batch)",
      core::at_least<std::int64_t>(0));
    v("allreduce_bucket_mb", allreduce_bucket_mb,
      "data-parallel: MiB of gradient per MPI_Allreduce call", core::greater_than(0.0));
    v("rollout_steps", rollout_steps,
      "next_step models: steps the model is unrolled over in training, the loss being the mean "
      "over them (needs a trajectory buffer of window rollout_steps + 1)",
      core::in_range<std::int64_t>(1, 64));
    v("input_noise", input_noise,
      "next_step models: standard deviation of Gaussian noise added to the normalised input "
      "state in training (MeshGraphNets); the target stays the clean next state",
      core::at_least(0.0));
    v("target", target,
      "next_step models: increment (the model predicts the normalised change of the state) or "
      "state (the normalised next state)",
      core::one_of({"increment", "state"}));
  }
};

// Checks across keys (multistep milestones increasing, cosine needs a period or
// max_batches). Throws core::ConfigError naming the key.
void validate(const TrainingConfig& config);

}  // namespace surge::surrogates
