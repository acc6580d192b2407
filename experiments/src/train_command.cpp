// `surge train FILE.yaml`: offline training from HDF5 files in The Well's layout, with the
// models, buffers, trainer, metrics and output directory of `surge run` (experiments/README.md,
// "Offline training"). A background thread reads the training files ahead of the trainer
// (data.prefetch_frames at a time) and puts their samples into the buffer, as a study's feeder
// puts the streamed ones: the same sample builder makes them, so a model trained offline
// exports and loads exactly as one trained online.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "server_mpi.hpp"
#include "study.hpp"
#include "study_results.hpp"
#include "study_run.hpp"
#include "surge/core/config.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "surge/core/progress.hpp"
#include "surge/experiments/cli.hpp"
#include "surge/experiments/output_checks.hpp"
#include "surge/experiments/results_writer.hpp"
#include "surge/experiments/sample_builder.hpp"
#include "surge/experiments/train_config.hpp"
#include "surge/reservoir/registry.hpp"
#include "surge/surrogates/trainer.hpp"
#include "train_data.hpp"

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

std::string source_of(const WellFile& f, std::int64_t trajectory) {
  return f.trajectories > 1 ? f.path + "#" + std::to_string(trajectory) : f.path;
}

}  // namespace

int train_command(const std::vector<std::string>& args) {
  const StudyOptions o = parse_study_options(args, "train");
  if (o.help) {
    if (core::Logger::rank() == 0) print_help();
    return 0;
  }
  SURGE_REQUIRE(!o.file.empty(), ConfigError,
                "no training file (usage: surge train <train.yaml> [key=value ...])");
  // Under mpirun -np P: data-parallel, each process reads every P-th training trajectory
  // into its own buffer and trains a replica (gradients averaged, as surge run's server ranks).
  const int rank = core::comm_rank(MPI_COMM_WORLD);
  const int size = core::comm_size(MPI_COMM_WORLD);
  core::ConfigSource source;
  source.file = o.file;
  YAML::Node root = core::load_yaml_file(o.file);
  for (const auto& assignment : o.overrides) core::apply_override(root, assignment, source);
  const TrainConfig cfg = core::read_config<TrainConfig>(root, source);
  surrogates::check_model_config(cfg.model, source, "model");
  const bool next_step = surrogates::model_kind(cfg.model.type) == surrogates::kNextStep;
  auto make = [&] {
    return reservoir::buffer_registry<reservoir::Sample>()
        .at(cfg.reservoir.type)
        .create(cfg.reservoir.parameters, source, "reservoir.parameters");
  };
  auto buffer = make();
  if (next_step) {
    SURGE_REQUIRE(cfg.reservoir.type == "trajectory" &&
                      buffer->window_length() == cfg.training.rollout_steps + 1,
                  ConfigError,
                  "model type '" << cfg.model.type << "' learns next_step samples: it needs "
                                 << "reservoir type trajectory with window = "
                                 << "training.rollout_steps + 1 = "
                                 << cfg.training.rollout_steps + 1 << " (got " << cfg.reservoir.type
                                 << ", window " << buffer->window_length() << ")");
  }

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
  const surrogates::IoDescription io = describe_data(cfg, data, next_step);
  const std::string resolved = core::to_yaml_text(core::dump_config(cfg));
  const fs::path out_dir = fs::absolute(cfg.study.output_dir);
  surrogates::TrainingConfig training = cfg.training;
  if (!fs::path(training.checkpoint_dir).is_absolute())
    training.checkpoint_dir = (out_dir / training.checkpoint_dir).string();
  core::Logger log("train");
  if (o.dry_run) {
    if (rank == 0) {
      std::cout << resolved << "# " << data.train.size() << " training file(s), "
                << data.train_trajectories.size() << " trajectories; " << data.validation.size()
                << " validation file(s), " << data.validation_trajectories.size()
                << " trajectories; " << data.layout.frames << " frames of " << io.fields.size()
                << " channel(s) on " << io.grid[0] << " x " << io.grid[1];
      if (size > 1) std::cout << "; " << size << " processes, each reading its share";
      std::cout << "\n";
    }
    return 0;
  }
  // --resume: the newest trainer checkpoint of this output directory, found before anything
  // is written.
  std::string checkpoint;
  if (o.resume) {
    SURGE_REQUIRE(!o.overwrite, ConfigError,
                  "--resume continues the run in study.output_dir; --overwrite would remove it");
    const auto latest = surrogates::Trainer::latest_checkpoint(training.checkpoint_dir);
    SURGE_REQUIRE(latest.has_value(), ConfigError,
                  "--resume: no checkpoint_<batch>.pt in "
                      << training.checkpoint_dir << " (training.checkpoint_every is "
                      << training.checkpoint_every
                      << "; a run writes checkpoints only when it is > 0)");
    checkpoint = *latest;
  }
  check_output_directory(as_study(cfg, data), io, source, out_dir.string(),
                         o.overwrite || o.resume);
  if (!o.resume) prepare_output_dir(out_dir, o.overwrite, rank);
  if (rank == 0) {
    std::error_code ec;
    fs::remove(out_dir / "logs", ec);  // made for members' logs; none here (removed if empty)
  }

  install_interrupt_handler();

  const auto start = std::chrono::steady_clock::now();
  // Samples by trajectory: every process reads the whole validation set, rank 0 counts it.
  std::map<std::uint64_t, std::int64_t> samples, validation_samples;
  surrogates::ValidationSet validation;
  validation.samples = read_validation(data, next_step, validation_samples);
  if (rank == 0) samples = validation_samples;
  SURGE_LOG(log, info,
            "study '" << cfg.study.name << "': " << data.train_trajectories.size()
                      << " training and " << data.validation_trajectories.size()
                      << " validation trajectories (" << validation.samples.size()
                      << " validation samples)"
                      << (size > 1 ? ", read by " + std::to_string(size) + " processes" : "")
                      << ", output in " << out_dir.string());
  surrogates::Trainer trainer(cfg.model, training, io, MPI_COMM_WORLD, source);
  if (!checkpoint.empty()) {
    trainer.load_checkpoint(checkpoint);  // every process: the same weights and optimizer
    SURGE_LOG(log, info,
              "resuming at batch " << trainer.batches() << " from " << checkpoint
                                   << "; reading the training files again from the start");
  }
  std::vector<Trajectory> mine;
  for (std::size_t k = static_cast<std::size_t>(rank); k < data.train_trajectories.size();
       k += static_cast<std::size_t>(size)) {
    mine.push_back(data.train_trajectories[k]);
  }
  const std::int64_t epochs = cfg.data.epochs;
  const auto my_frames = static_cast<std::int64_t>(mine.size()) * data.layout.frames * epochs;
  DataReader reader(data, std::move(mine), cfg.data.epochs, cfg.data.prefetch_frames, next_step,
                    cfg.samples.stride, *buffer);
  reader.start();
  // Ctrl-C closes the buffer: train() returns after its batch, and the reader stops.
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done) {
      if (interrupted()) {
        SURGE_LOG(log, warn, "interrupted: keeping what is trained");
        buffer->close();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  struct Join {
    std::function<void()> run;
    ~Join() { run(); }
  } join{[&] {
    done = true;
    buffer->close();
    reader.join();
    if (watcher.joinable()) watcher.join();
  }};
  const std::int64_t expected =
      static_cast<std::int64_t>(data.train_trajectories.size()) * data.layout.frames;
  // The processes agree after every batch (the trainer's steps are collective) on stopping: a
  // Ctrl-C or a file failing anywhere stops every replica.
  auto agree_on_stop = [&] {
    int stop = interrupted() || reader.failed() ? 1 : 0;
    if (size > 1)
      SURGE_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &stop, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    if (stop) buffer->close();
  };
  core::Progress progress(log, "batches", training.max_batches);
  const auto reason = trainer.train(*buffer, validation, [&](const surrogates::TrainingRecord& r) {
    agree_on_stop();
    char detail[160];
    std::snprintf(detail, sizeof detail, "loss %.3e, %lld of %lld samples read%s, %.0f samples/s",
                  r.loss, static_cast<long long>(reader.read()),
                  static_cast<long long>(size > 1 ? my_frames : expected * epochs),
                  size > 1 ? " on rank 0" : "", r.samples_per_second);
    progress.update(r.batch, detail);
  });
  progress.finish(surrogates::to_string(reason));
  join.run();
  // A file that fails while it is read ends training; what was trained is still written, with
  // the reason in stop_reason, and the exit code says it failed. Rank 0 learns every rank's.
  std::string read_error;
  {
    const std::string mine_error = reader.error();
    if (!mine_error.empty())
      SURGE_LOG(log, error, "reading the training files failed: " << mine_error);
    const auto errors = gather_bytes(std::vector<char>(mine_error.begin(), mine_error.end()), 0);
    for (std::size_t k = 0; k < errors.size() && read_error.empty(); ++k) {
      if (errors[k].empty()) continue;
      read_error = (size > 1 ? "rank " + std::to_string(k) + ": " : std::string()) +
                   std::string(errors[k].begin(), errors[k].end());
    }
  }
  int ends[2] = {reader.error().empty() ? 0 : 1, interrupted() ? 1 : 0};
  if (size > 1)
    SURGE_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, ends, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
  const int code = ends[0] ? 1 : (ends[1] ? 130 : 0);
  // Interrupted (Ctrl-C, or Slurm's SIGTERM at the time limit) with checkpoints on: the batch
  // reached is kept for --resume, not only the last multiple of checkpoint_every.
  if (ends[1] && rank == 0 && training.checkpoint_every > 0 && trainer.batches() > 0) {
    const fs::path path = fs::path(training.checkpoint_dir) /
                          ("checkpoint_" + std::to_string(trainer.batches()) + ".pt");
    try {
      fs::create_directories(path.parent_path());
      if (!fs::exists(path)) trainer.save_checkpoint(path.string());
      SURGE_LOG(log, info, "checkpoint at batch " << trainer.batches() << ": " << path.string());
    } catch (const std::exception& e) {
      SURGE_LOG(log, warn, "the checkpoint at interruption failed: " << e.what());
    }
  }

  // Results, as `surge run` writes them: model/, results.h5, plots/.
  RunSummary summary;
  summary.study = cfg.study.name;
  summary.resolved_config = resolved;
  summary.parameter_names = data.layout.parameter_names;
  for (const auto& [sim, n] : reader.samples()) samples[sim] = n;
  std::int64_t received = 0;
  for (const auto& [sim, n] : samples) received += n;
  const ServerTotals totals = reduce_to_rank0(samples, received, buffer->statistics());
  std::int64_t read_total = reader.read();
  if (size > 1) {
    SURGE_MPI_CHECK(MPI_Reduce(rank == 0 ? MPI_IN_PLACE : &read_total, &read_total, 1, MPI_INT64_T,
                               MPI_SUM, 0, MPI_COMM_WORLD));
  }
  if (rank != 0) return code;
  auto add_members = [&](const std::vector<Trajectory>& list, const std::vector<WellFile>& files,
                         MemberRole role) {
    for (const auto& t : list) {
      MemberRecord m;
      m.simulation_id = t.simulation;
      m.parameters = files[t.file].parameters[static_cast<std::size_t>(t.index)];
      m.role = role;
      m.status = MemberStatus::done;
      m.attempts = 1;
      summary.members.push_back(m);
      summary.member_sources.push_back(source_of(files[t.file], t.index));
    }
  };
  add_members(data.validation_trajectories, data.validation, MemberRole::validation);
  add_members(data.train_trajectories, data.train, MemberRole::train);
  summary.samples = totals.samples;
  summary.server_ranks = totals.ranks;
  summary.reservoir_policy = cfg.reservoir.type;
  summary.reservoir = totals.statistics;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary.stop_reason = !read_error.empty() ? "data error: " + read_error
                        : ends[1]           ? "interrupted"
                                            : surrogates::to_string(reason);
  trainer.export_model((out_dir / "model").string());
  std::optional<surrogates::RolloutResult> rollout;
  if (next_step && !validation.empty()) rollout = trainer.rollout(validation);
  const surrogates::ValidationRecord final_metrics =
      write_results((out_dir / "results.h5").string(), summary, trainer, validation, io,
                    rollout ? &*rollout : nullptr);

  std::printf(
      "surge train %s: %zu training trajectories from %zu file(s), %lld samples read (%lld in "
      "the files%s), %zu validation trajectories, %lld batches, %.1f s\n",
      cfg.study.name.c_str(), data.train_trajectories.size(), data.train.size(),
      static_cast<long long>(read_total), static_cast<long long>(expected),
      epochs > 1 ? (", " + std::to_string(epochs) + " epochs").c_str() : "",
      data.validation_trajectories.size(), static_cast<long long>(trainer.batches()),
      summary.seconds);
  print_final_metrics(final_metrics, rollout ? &*rollout : nullptr,
                      next_step ? "one-step" : "validation", out_dir);
  std::fflush(stdout);
  if (!read_error.empty()) {
    std::fprintf(stderr, "surge: data error: %s (results written, stop_reason says so)\n",
                 read_error.c_str());
  }
  if (code == 0 && o.plots) make_plots(out_dir.string(), log);
  return code;
}

}  // namespace surge::experiments
