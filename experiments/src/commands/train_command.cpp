// `surge train FILE.yaml`: offline training from HDF5 files in The Well's layout, with the
// models, buffers, trainer, metrics and output directory of `surge run` (experiments/README.md,
// "Offline training"): the files checked, then the study pipeline over the files as its source
// (offline/file_source.hpp), which builds samples as a study's feeder builds the streamed
// ones, so a model trained offline exports and loads exactly as one trained online.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands/study_options.hpp"
#include "offline/file_source.hpp"
#include "pipeline/interrupt.hpp"
#include "pipeline/pipeline.hpp"
#include "study/study.hpp"
#include "surge/core/config.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "surge/experiments/cli.hpp"
#include "surge/experiments/output_checks.hpp"
#include "surge/experiments/train_config.hpp"
#include "surge/reservoir/registry.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

namespace {

void print_help() {
  std::printf(
      "usage: surge train <train.yaml> [key=value ...] [options]\n"
      "\nTrains a surrogate offline from HDF5 files in The Well's layout (surge solve's member\n"
      "files, or Well datasets of several trajectories per file) and writes results.h5, model/\n"
      "and plots/ into study.output_dir, as `surge run` does. The file's `data:` section takes\n"
      "the place of parameters, solver, launcher and streaming; reservoir, model, samples and\n"
      "training are the sections of `surge run` (surge run --help documents their keys).\n"
      "Samples are built as surge run builds streamed ones (experiments/README.md, \"Offline\n"
      "training\"). A file that does not fit (not HDF5, a missing dataset, another shape or\n"
      "dtype) is one line naming the file and the dataset, exit code 1, before training.\n"
      "Under mpirun -np P, P processes train data-parallel, each reading every P-th training\n"
      "trajectory into its own buffer (experiments/README.md, \"Data-parallel\").\n"
      "\noptions:\n"
      "  --dry-run       check every file, print the resolved configuration, train nothing\n"
      "  --overwrite     reuse an output directory that exists and is not empty\n"
      "  --resume        continue from the newest trainer checkpoint in the output directory\n"
      "                  (training.checkpoint_every > 0); the files are read again from the\n"
      "                  start\n"
      "  --no-plots      do not call experiments/plot_results.py at the end\n"
      "  --serve[=HOST:PORT]  serve the live page (default 127.0.0.1 and any free port;\n"
      "                  the URL with its token is logged and written to live_url)\n"
      "  --serve-linger S  keep the live page up S seconds after the run ends\n"
      "  --log-level L   debug, info, warn, error, off (default: info)\n"
      "  --help          this text\n"
      "\ntrain keys:\n%s",
      core::format_key_docs(core::describe_config<TrainOwnConfig>()).c_str());
}

// The model's description, as `surge run` builds it from the solver (study.cpp), here from
// the files: inputs normalised over data.ranges or the training files' least and greatest
// values.
surrogates::IoDescription describe_data(const TrainConfig& cfg, const TrainData& d,
                                        bool next_step) {
  surrogates::IoDescription io;
  io.kind = next_step ? surrogates::kNextStep : surrogates::kFieldFromParameters;
  io.solver = d.layout.dataset_name;
  std::vector<std::string> inputs = d.layout.parameter_names;
  if (!next_step) inputs.push_back("t");
  std::string known;
  for (const auto& n : inputs) known += (known.empty() ? "" : ", ") + n;
  for (const auto& [name, range] : cfg.data.ranges) {
    SURGE_REQUIRE(std::find(inputs.begin(), inputs.end(), name) != inputs.end(), ConfigError,
                  "data.ranges." << name << ": not an input of the model (its inputs: "
                                 << (known.empty() ? "none" : known) << ")");
  }
  for (std::size_t p = 0; p < inputs.size(); ++p) {
    const auto given = cfg.data.ranges.find(inputs[p]);
    if (given != cfg.data.ranges.end()) {
      io.inputs.push_back({inputs[p], given->second.min, given->second.max});
      continue;
    }
    double lo = 0.0, hi = 0.0;
    bool first = true;
    auto see = [&](double v) {
      lo = first ? v : std::min(lo, v);
      hi = first ? v : std::max(hi, v);
      first = false;
    };
    for (const auto& f : d.train) {
      if (p < d.layout.parameter_names.size()) {
        for (const auto& values : f.parameters) see(values[p]);
      } else {
        for (double t : f.times) see(t);
      }
    }
    io.inputs.push_back({inputs[p], lo, hi});
  }
  io.layout = d.layout.fields;
  io.fields = surrogates::channel_names(d.layout.fields);
  io.grid = d.layout.grid;
  io.times = d.train.front().times;
  io.periodic = d.layout.periodic;
  if (next_step) {
    io.stride = cfg.samples.stride;
    io.dt = io.times[static_cast<std::size_t>(io.stride)] - io.times[0];
    io.increment = cfg.training.target == "increment";
  }
  io.check();
  return io;
}

// What check_output_directory() estimates from: the training run seen as a study.
ExperimentConfig as_study(const TrainConfig& cfg, const TrainData& d) {
  ExperimentConfig e;
  e.study.name = cfg.study.name;
  e.study.output_dir = cfg.study.output_dir;
  e.study.checkpoint_every_s = 0.0;  // no study checkpoints offline
  e.parameters.train_members =
      static_cast<int>(std::max<std::size_t>(1, d.train_trajectories.size()));
  e.parameters.validation_members = static_cast<int>(d.validation_trajectories.size());
  e.reservoir = cfg.reservoir;
  e.model = cfg.model;
  e.samples = cfg.samples;
  e.training = cfg.training;
  return e;
}

// The training file read, overrides applied, and the model checked.
TrainConfig read_train_config(const StudyOptions& o, core::ConfigSource& source) {
  SURGE_REQUIRE(!o.file.empty(), ConfigError,
                "no training file (usage: surge train <train.yaml> [key=value ...])");
  source.file = o.file;
  YAML::Node root = core::load_yaml_file(o.file);
  for (const auto& assignment : o.overrides) core::apply_override(root, assignment, source);
  TrainConfig cfg = core::read_config<TrainConfig>(root, source);
  surrogates::check_model_config(cfg.model, source, "model");
  return cfg;
}

// What the files must hold for this run: enough frames for the rollouts, a trajectory for
// every process.
void check_data_fits(const TrainConfig& cfg, const TrainData& data, bool next_step, int size) {
  if (next_step) {
    SURGE_REQUIRE(data.layout.frames > cfg.samples.stride * cfg.training.rollout_steps, ConfigError,
                  "samples.stride (" << cfg.samples.stride << ") x training.rollout_steps ("
                                     << cfg.training.rollout_steps << ") must be below the "
                                     << data.layout.frames << " frames of a trajectory");
  }
  SURGE_REQUIRE(data.train_trajectories.size() >= static_cast<std::size_t>(size), ConfigError,
                "data.train holds " << data.train_trajectories.size()
                                    << " trajectories, fewer than the " << size
                                    << " processes of mpirun: each process trains on "
                                       "trajectories of its own");
}

void print_dry_run(const TrainConfig& cfg, const TrainData& data,
                   const surrogates::IoDescription& io, int size) {
  std::cout << core::to_yaml_text(core::dump_config(cfg)) << "# " << data.train.size()
            << " training file(s), " << data.train_trajectories.size() << " trajectories; "
            << data.validation.size() << " validation file(s), "
            << data.validation_trajectories.size() << " trajectories; " << data.layout.frames
            << " frames of " << io.fields.size() << " channel(s) on " << io.grid[0] << " x "
            << io.grid[1];
  if (size > 1) std::cout << "; " << size << " processes, each reading its share";
  std::cout << "\n";
}

// --resume: the newest trainer checkpoint of this output directory, found before anything is
// written.
std::string resume_checkpoint(const StudyOptions& o, const surrogates::TrainingConfig& training) {
  SURGE_REQUIRE(!o.overwrite, ConfigError,
                "--resume continues the run in study.output_dir; --overwrite would remove it");
  const auto latest = surrogates::Trainer::latest_checkpoint(training.checkpoint_dir);
  SURGE_REQUIRE(latest.has_value(), ConfigError,
                "--resume: no checkpoint_<batch>.pt in "
                    << training.checkpoint_dir << " (training.checkpoint_every is "
                    << training.checkpoint_every
                    << "; a run writes checkpoints only when it is > 0)");
  return *latest;
}

// The offline study on every process: the files as the source, a trainer replica (continued
// from `checkpoint` if any), the pipeline.
int run_offline(const TrainConfig& cfg, const TrainData& data, const core::ConfigSource& source,
                const surrogates::IoDescription& io, const surrogates::TrainingConfig& training,
                const std::string& checkpoint, const StudyOptions& o) {
  const bool next_step = io.kind == surrogates::kNextStep;
  auto buffer = make_buffer(cfg.reservoir, cfg.model, cfg.training, source);
  FileSource files(cfg, data, next_step, *buffer);
  surrogates::Trainer trainer(cfg.model, training, io, MPI_COMM_WORLD, source);
  if (!checkpoint.empty()) {
    trainer.load_checkpoint(checkpoint);  // every process: the same weights and optimizer
    core::Logger log("train");
    SURGE_LOG(log, info,
              "resuming at batch " << trainer.batches() << " from " << checkpoint
                                   << "; reading the training files again from the start");
  }
  StudyState state{files, *buffer, trainer, io, fs::absolute(cfg.study.output_dir)};
  PipelineOptions options;
  options.component = "train";
  options.max_batches = training.max_batches;
  if (training.checkpoint_every > 0) options.interrupt_checkpoint_dir = training.checkpoint_dir;
  options.plots = o.plots;
  options.study_name = cfg.study.name;
  apply_serve_options(o.serve, cfg.study.serve, cfg.study.serve_linger_s, options);
  return run_pipeline(state, options);
}

}  // namespace

int train_command(const std::vector<std::string>& args) {
  const StudyOptions o = parse_study_options(args, "train");
  const int rank = core::comm_rank(MPI_COMM_WORLD);
  const int size = core::comm_size(MPI_COMM_WORLD);
  if (o.help) {
    if (rank == 0) print_help();
    return 0;
  }
  core::ConfigSource source;
  const TrainConfig cfg = read_train_config(o, source);
  const bool next_step = surrogates::model_kind(cfg.model.type) == surrogates::kNextStep;
  (void)make_buffer(cfg.reservoir, cfg.model, cfg.training, source);  // checked before the files
  // Every file is opened and checked before anything starts: a file that does not fit is one
  // line naming it and the dataset, exit code 1.
  TrainData data;
  try {
    data = scan_data(cfg.data);
  } catch (const core::ConfigError&) {
    throw;
  } catch (const core::Error& e) {
    std::fprintf(stderr, "surge: data error: %s\n", e.message().c_str());
    return 1;
  }
  check_data_fits(cfg, data, next_step, size);
  const surrogates::IoDescription io = describe_data(cfg, data, next_step);
  if (o.dry_run) {
    if (rank == 0) print_dry_run(cfg, data, io, size);
    return 0;
  }
  const fs::path out_dir = fs::absolute(cfg.study.output_dir);
  surrogates::TrainingConfig training = cfg.training;
  if (!fs::path(training.checkpoint_dir).is_absolute())
    training.checkpoint_dir = (out_dir / training.checkpoint_dir).string();
  const std::string checkpoint = o.resume ? resume_checkpoint(o, training) : std::string();
  check_output_directory(as_study(cfg, data), io, source, out_dir.string(),
                         o.overwrite || o.resume);
  if (!o.resume) prepare_output_dir(out_dir, o.overwrite, rank);
  if (rank == 0) {
    std::error_code ec;
    fs::remove(out_dir / "logs", ec);  // made for members' logs; none here (removed if empty)
  }
  install_interrupt_handler();
  return run_offline(cfg, data, source, io, training, checkpoint, o);
}

}  // namespace surge::experiments
