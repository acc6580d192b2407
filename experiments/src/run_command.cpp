// `surge run exp.yaml [key=value ...]`: one online-training study. The server (this process)
// binds the stream, the launcher starts the ensemble members, received fields become samples
// in the reservoir, the trainer learns from it, and the results land in the output directory.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "surge/core/config.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "surge/core/progress.hpp"
#include "surge/experiments/cli.hpp"
#include "surge/experiments/experiment_config.hpp"
#include "surge/experiments/launcher.hpp"
#include "surge/experiments/results_writer.hpp"
#include "surge/experiments/sample_builder.hpp"
#include "surge/experiments/sampler.hpp"
#include "surge/reservoir/registry.hpp"
#include "surge/solvers/kokkos_aliases.hpp"
#include "surge/solvers/solver.hpp"
#include "surge/streaming/front.hpp"
#include "surge/streaming/receiver.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

namespace {

std::atomic<int> g_interrupted{0};
extern "C" void on_interrupt(int) { g_interrupted = 1; }

struct RunOptions {
  std::string file;
  std::vector<std::string> overrides;
  bool help = false, dry_run = false, overwrite = false, plots = true;
};

void print_help() {
  std::printf(
      "usage: surge run <experiment.yaml> [key=value ...] [options]\n"
      "\nRuns one online-training study: starts the ensemble members, streams their fields\n"
      "into the training buffer, trains the surrogate, and writes results.h5, model/ and\n"
      "plots/ into study.output_dir. Keys are documented in experiments/README.md.\n"
      "\noptions:\n"
      "  --dry-run       check everything, print the resolved configuration, start nothing\n"
      "  --overwrite     reuse an output directory that exists and is not empty\n"
      "  --no-plots      do not call experiments/plot_results.py at the end\n"
      "  --log-level L   debug, info, warn, error, off (default: info)\n"
      "  --help          this text\n"
      "\nexperiment keys:\n%s",
      core::format_key_docs(core::describe_config<ExperimentConfig>()).c_str());
  std::printf("\nparameters.sampler types: halton, lhs, uniform (no parameters)\n");
  std::printf("\nlauncher type local, parameters:\n%s",
              core::format_key_docs(core::describe_config<LauncherConfig>()).c_str());
  const auto& buffers = reservoir::buffer_registry<reservoir::Sample>();
  for (const auto& name : buffers.names()) {
    const auto& entry = buffers.at(name);
    std::printf("\nreservoir type %s (%s), parameters:\n%s", name.c_str(), entry.summary.c_str(),
                core::format_key_docs(entry.keys()).c_str());
  }
  for (const auto& model : surrogates::model_types()) {
    std::printf("\nmodel type %s (%s), parameters:\n%s", model.name.c_str(), model.summary.c_str(),
                core::format_key_docs(model.keys).c_str());
  }
}

RunOptions parse(const std::vector<std::string>& args) {
  RunOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--dry-run") {
      o.dry_run = true;
    } else if (a == "--overwrite") {
      o.overwrite = true;
    } else if (a == "--no-plots") {
      o.plots = false;
    } else if (a == "--log-level") {
      SURGE_REQUIRE(i + 1 < args.size(), ConfigError, "--log-level needs a value");
      core::Logger::set_level(core::parse_log_level(args[++i]));
    } else if (a.rfind("--", 0) == 0) {
      SURGE_THROW(ConfigError, "unknown option '" << a << "' (see surge run --help)");
    } else if (core::is_override(a)) {
      o.overrides.push_back(a);
    } else if (o.file.empty()) {
      o.file = a;
    } else {
      SURGE_THROW(ConfigError, "unexpected argument '" << a << "' (keys are set as key=value)");
    }
  }
  return o;
}

// YAML scalar or flow text of a solver key, as `surge solve` takes it in key=value.
std::string as_argument(const YAML::Node& value) {
  if (value.IsScalar()) return value.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << value;
  return out.c_str();
}

std::string self_executable() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  SURGE_REQUIRE(!ec, IoError,
                "cannot find the surge executable (/proc/self/exe): " << ec.message());
  return p.string();
}

// What the probe member says about the solver: its parameters, fields, grid, times.
struct SolverFacts {
  std::vector<std::string> parameter_names;
  std::vector<std::string> fields;
  std::vector<std::int64_t> grid;
  std::vector<double> times;
};

SolverFacts probe_solver(const ExperimentConfig& cfg, const core::ConfigSource& source) {
  // Build one member on this process with the shared keys plus the middle of every range:
  // this checks the solver keys before anything starts, and tells what the members produce.
  YAML::Node params = YAML::Clone(cfg.solver.parameters);
  for (const auto& [name, range] : cfg.parameters.ranges) {
    SURGE_REQUIRE(!params[name].IsDefined(), ConfigError,
                  "'" << name << "' is both sampled (parameters.ranges) and fixed "
                      << "(solver.parameters); keep one");
    params[name] = 0.5 * (range.min + range.max);
  }
  core::ConfigSource solver_source = source;
  const auto& entry = solvers::solver_registry().at(cfg.solver.type);
  std::unique_ptr<solvers::Solver> probe;
  try {
    probe = entry.create(params, solver_source, MPI_COMM_SELF);
  } catch (const core::ConfigError& e) {
    SURGE_THROW(ConfigError, "solver.parameters: " << e.message());
  }
  SolverFacts facts;
  for (const auto& [name, value] : probe->parameters()) facts.parameter_names.push_back(name);
  facts.fields = probe->field_names();
  facts.grid = {probe->decomposition().nx(), probe->decomposition().ny()};
  facts.times = probe->output_times();
  for (const auto& name : facts.parameter_names) {
    SURGE_REQUIRE(
        cfg.parameters.ranges.count(name), ConfigError,
        "parameters.ranges has no range for '" << name << "', a parameter of " << cfg.solver.type);
  }
  for (const auto& [name, range] : cfg.parameters.ranges) {
    SURGE_REQUIRE(std::find(facts.parameter_names.begin(), facts.parameter_names.end(), name) !=
                      facts.parameter_names.end(),
                  ConfigError,
                  "'parameters.ranges." << name << "' is not a parameter of " << cfg.solver.type);
  }
  return facts;
}

// Everything the feeder thread counts, read by the progress line and the results writer.
struct Reception {
  std::mutex mutex;
  std::map<std::uint64_t, std::int64_t> samples;  // by simulation
  std::set<std::uint64_t> ended;
  std::vector<reservoir::Sample> validation;
  std::set<std::uint64_t> validation_ids;
  std::atomic<std::int64_t> received{0};
  std::atomic<bool> over{false};
};

}  // namespace

int run_command(const std::vector<std::string>& args) {
  RunOptions o = parse(args);
  const int rank = core::Logger::rank();
  if (o.help) {
    if (rank == 0) print_help();
    return 0;
  }
  SURGE_REQUIRE(!o.file.empty(), ConfigError,
                "no experiment file (usage: surge run <experiment.yaml> [key=value ...])");
  SURGE_REQUIRE(core::comm_size(MPI_COMM_WORLD) == 1, ConfigError,
                "surge run is started on " << core::comm_size(MPI_COMM_WORLD)
                                           << " ranks; data-parallel server ranks are not wired "
                                              "into surge run yet: start it on one rank");

  // --- configuration: everything is checked before anything starts -----------------------
  core::ConfigSource source;
  source.file = o.file;
  YAML::Node root = core::load_yaml_file(o.file);
  for (const auto& assignment : o.overrides) core::apply_override(root, assignment, source);
  const ExperimentConfig cfg = core::read_config<ExperimentConfig>(root, source);
  SURGE_REQUIRE(cfg.launcher.type == "local", ConfigError,
                "unknown launcher '" << cfg.launcher.type << "' (known: local)");
  const LauncherConfig launcher_cfg =
      core::read_config<LauncherConfig>(cfg.launcher.parameters, source, "launcher.parameters");
  streaming::ReceiverConfig receiver_cfg = cfg.streaming;
  const surrogates::TrainingConfig& training_cfg = cfg.training;
  surrogates::check_model_config(cfg.model, source, "model");
  // Build the buffer now: its factory validates the parameters.
  auto buffer = reservoir::buffer_registry<reservoir::Sample>()
                    .at(cfg.reservoir.type)
                    .create(cfg.reservoir.parameters, source, "reservoir.parameters");
  (void)make_sampler(cfg.parameters.sampler, cfg.parameters.ranges, 0, 1);

  solvers::KokkosSession kokkos;
  const SolverFacts facts = probe_solver(cfg, source);
  const std::string mpirun = find_on_path(launcher_cfg.mpirun);
  SURGE_REQUIRE(!mpirun.empty(), ConfigError,
                "launcher.parameters.mpirun: '" << launcher_cfg.mpirun
                                                << "' is not on PATH (install openmpi-bin)");
  const fs::path out_dir = fs::absolute(cfg.study.output_dir);
  {
    std::error_code ec;
    const bool exists = fs::exists(out_dir, ec);
    SURGE_REQUIRE(!exists || fs::is_directory(out_dir, ec), ConfigError,
                  "study.output_dir '" << out_dir.string() << "' is a file");
    SURGE_REQUIRE(
        !exists || o.overwrite || fs::is_empty(out_dir, ec), ConfigError,
        "study.output_dir '" << out_dir.string() << "' exists and is not empty (use --overwrite)");
  }

  // The resolved configuration: every part with its defaults filled in.
  YAML::Node resolved = core::dump_config(cfg);
  resolved["launcher"]["parameters"] = core::dump_config(launcher_cfg);
  const std::string resolved_text = core::to_yaml_text(resolved);
  if (o.dry_run) {
    if (rank == 0) std::cout << resolved_text;
    return 0;
  }

  // --- server: stream, buffer, trainer ------------------------------------------------------
  core::Logger log("run");
  if (o.overwrite && fs::exists(out_dir)) {
    for (const char* stale : {"results.h5", "model", "plots", "logs", "checkpoints"}) {
      fs::remove_all(out_dir / stale);
    }
  }
  fs::create_directories(out_dir);
  receiver_cfg.experiment = cfg.study.name;
  receiver_cfg.fields = facts.fields;
  const std::uint64_t key = streaming::make_admission_key();
  streaming::Receiver receiver(receiver_cfg, key);
  streaming::Front front(receiver_cfg, key, {receiver.endpoint()});
  SURGE_LOG(log, info,
            "study '" << cfg.study.name << "': server listening on " << front.endpoint()
                      << ", output in " << out_dir.string());

  surrogates::IoDescription io;
  io.kind = "field_from_parameters";
  io.solver = cfg.solver.type;
  for (const auto& name : facts.parameter_names) {
    const auto& r = cfg.parameters.ranges.at(name);
    io.inputs.push_back({name, r.min, r.max});
  }
  io.inputs.push_back({"t", 0.0, facts.times.back()});
  io.fields = facts.fields;
  io.grid = facts.grid;
  io.times = facts.times;
  surrogates::TrainingConfig training = training_cfg;
  if (!fs::path(training.checkpoint_dir).is_absolute()) {
    training.checkpoint_dir = (out_dir / training.checkpoint_dir).string();
  }
  surrogates::Trainer trainer(cfg.model, training, io, MPI_COMM_SELF, source);

  // --- members ---------------------------------------------------------------------------
  const std::size_t n_val = static_cast<std::size_t>(cfg.parameters.validation_members);
  const std::size_t n_train = static_cast<std::size_t>(cfg.parameters.train_members);
  auto sampler = make_sampler(cfg.parameters.sampler, cfg.parameters.ranges,
                              static_cast<std::uint64_t>(cfg.study.seed), n_val + n_train);
  // Sampled values come in the ranges' (name) order; members and surrogate use the solver's.
  std::vector<std::string> range_names;
  for (const auto& [name, r] : cfg.parameters.ranges) range_names.push_back(name);
  std::vector<MemberRecord> members;
  std::mutex id_mutex;
  std::uint64_t next_id = 0;
  auto draw = [&](MemberRole role) {
    std::lock_guard<std::mutex> lock(id_mutex);
    MemberRecord m;
    m.simulation_id = next_id++;
    m.role = role;
    m.parameters = sampler->next();
    return m;
  };
  for (std::size_t i = 0; i < n_val; ++i) members.push_back(draw(MemberRole::validation));
  for (std::size_t i = 0; i < n_train; ++i) members.push_back(draw(MemberRole::train));

  const std::string surge_exe = self_executable();
  auto command = [&](const MemberRecord& m, int attempt) {
    std::vector<std::string> c = {mpirun};
    // Open MPI refuses to start as root unless told; CI containers and clusters' admins do.
    if (geteuid() == 0) c.push_back("--allow-run-as-root");
    for (const auto& a : launcher_cfg.mpirun_args) c.push_back(a);
    c.insert(c.end(),
             {"-np", std::to_string(cfg.solver.ranks), surge_exe, "solve", cfg.solver.type});
    for (const auto& kv : cfg.solver.parameters) {
      c.push_back(kv.first.as<std::string>() + "=" + as_argument(kv.second));
    }
    for (std::size_t k = 0; k < range_names.size(); ++k) {
      c.push_back(range_names[k] + "=" + core::detail::to_text(m.parameters[k]));
    }
    c.insert(c.end(), {"--stream", front.endpoint(), "--experiment", cfg.study.name,
                       "--simulation-id", std::to_string(m.simulation_id), "--log-level", "warn"});
    if (launcher_cfg.fail_once_simulation >= 0 &&
        m.simulation_id == static_cast<std::uint64_t>(launcher_cfg.fail_once_simulation) &&
        attempt == 1) {
      c.insert(c.end(), {"--fail-at-output", std::to_string(launcher_cfg.fail_once_at_output)});
    }
    return c;
  };
  auto silence = [&](std::uint64_t id) {
    double quiet = -1.0;
    const auto now = streaming::Clock::now();
    for (const auto& s : receiver.members()) {
      if (s.simulation != id) continue;
      const double q = std::chrono::duration<double>(now - s.last_seen).count();
      quiet = quiet < 0 ? q : std::min(quiet, q);
    }
    return quiet;
  };
  auto redraw = [&](const MemberRecord& failed) { return draw(failed.role); };

  Reception reception;
  for (const auto& m : members) {
    if (m.role == MemberRole::validation) reception.validation_ids.insert(m.simulation_id);
  }
  LocalLauncher launcher(launcher_cfg, members, command, silence, redraw,
                         (out_dir / "logs").string());

  // --- feeder: receiver -> sample builder -> buffer (or the validation set) ----------------
  std::vector<std::pair<std::string, std::size_t>> field_sizes;
  for (const auto& f : facts.fields) {
    field_sizes.emplace_back(f, static_cast<std::size_t>(facts.grid[0] * facts.grid[1]));
  }
  std::thread feeder([&] {
    FieldFromParameters train_builder(field_sizes), validation_builder(field_sizes);
    auto reception_over = [&] {
      if (!launcher.finished() || receiver.queued() > 0) return false;
      // Every member that exited cleanly sent END after its fields: wait for those.
      std::lock_guard<std::mutex> lock(reception.mutex);
      for (const auto& m : launcher.members()) {
        if (m.status == MemberStatus::done && !reception.ended.count(m.simulation_id)) return false;
      }
      return true;
    };
    while (!reception_over()) {
      if (g_interrupted) break;
      auto d = receiver.pop(std::chrono::milliseconds(50));
      if (!d) continue;
      if (d->kind == streaming::DeliveryKind::simulation_end) {
        std::lock_guard<std::mutex> lock(reception.mutex);
        reception.ended.insert(d->simulation);
        continue;
      }
      const bool is_validation = reception.validation_ids.count(d->simulation) > 0;
      auto sample = (is_validation ? validation_builder : train_builder).add(d->field);
      if (!sample) continue;
      {
        std::lock_guard<std::mutex> lock(reception.mutex);
        ++reception.samples[d->simulation];
        if (is_validation) reception.validation.push_back(*sample);
      }
      ++reception.received;
      if (!is_validation) {
        // Blocks while the buffer is full of unseen samples: back-pressure to the members.
        // Once training has stopped the buffer is closed: samples are still received and
        // counted (members must finish cleanly), the buffer counts them as rejected.
        (void)buffer->put(std::move(*sample));
      }
    }
    reception.over = true;
    buffer->end_of_reception();
  });
  // On every way out (errors included): members stopped, buffer closed, threads joined.
  std::atomic<bool> done{false};
  std::thread watcher;
  struct Cleanup {
    std::function<void()> run;
    ~Cleanup() { run(); }
  } cleanup{[&] {
    done = true;
    launcher.stop();
    buffer->close();
    if (feeder.joinable()) feeder.join();
    if (watcher.joinable()) watcher.join();
  }};

  // --- run ---------------------------------------------------------------------------------
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  const auto start = std::chrono::steady_clock::now();
  launcher.start();

  // Validation members run first; training starts once their fields are all in memory.
  while (!launcher.role_finished(MemberRole::validation) && !g_interrupted &&
         launcher.gave_up().empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  while (n_val > 0 && !g_interrupted && launcher.gave_up().empty()) {
    std::lock_guard<std::mutex> lock(reception.mutex);
    bool all = true;
    for (const auto& m : launcher.members()) {
      if (m.role == MemberRole::validation && m.status == MemberStatus::done)
        all = all && reception.ended.count(m.simulation_id);
    }
    if (all) break;
  }
  SURGE_REQUIRE(launcher.gave_up().empty(), IoError, "surge run: " << launcher.gave_up());
  surrogates::ValidationSet validation;
  {
    std::lock_guard<std::mutex> lock(reception.mutex);
    validation.samples = reception.validation;
  }
  SURGE_LOG(log, info,
            "validation set: " << validation.samples.size() << " samples from " << n_val
                               << " members; training starts");

  // A watcher turns Ctrl-C into a clean stop: members killed, buffer closed, train() returns.
  watcher = std::thread([&] {
    while (!done) {
      if (g_interrupted) {
        SURGE_LOG(log, warn, "interrupted: stopping members, keeping what is trained");
        launcher.stop();
        buffer->close();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });

  core::Progress progress(log, "batches", training.max_batches);
  const auto reason = trainer.train(*buffer, validation, [&](const surrogates::TrainingRecord& r) {
    const auto c = launcher.counts();
    char detail[256];
    std::snprintf(detail, sizeof detail,
                  "loss %.3e, members %d done %d running %d failed, %lld samples in, %.0f "
                  "samples/s",
                  r.loss, c.done, c.running, c.failed,
                  static_cast<long long>(reception.received.load()), r.samples_per_second);
    progress.update(r.batch, detail);
  });
  progress.finish(surrogates::to_string(reason));
  if (!reception.over) {
    SURGE_LOG(log, info,
              "training stopped (" << surrogates::to_string(reason)
                                   << ") before reception ended; waiting for members");
    buffer->close();
    launcher.wait();
  }
  cleanup.run();
  SURGE_REQUIRE(launcher.gave_up().empty(), IoError, "surge run: " << launcher.gave_up());

  // --- results ---------------------------------------------------------------------------
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  trainer.export_model((out_dir / "model").string());
  RunSummary summary;
  summary.study = cfg.study.name;
  summary.resolved_config = resolved_text;
  summary.parameter_names = range_names;
  summary.members = launcher.members();
  {
    std::lock_guard<std::mutex> lock(reception.mutex);
    summary.samples = reception.samples;
  }
  summary.seconds = seconds;
  summary.stop_reason = surrogates::to_string(reason);
  const auto final_metrics =
      write_results((out_dir / "results.h5").string(), summary, trainer, *buffer, validation, io);
  std::int64_t expected = 0;
  for (const auto& m : summary.members) {
    if (m.status == MemberStatus::done) expected += static_cast<std::int64_t>(facts.times.size());
  }
  const auto counts = launcher.counts();
  std::printf(
      "surge run %s: %d members done, %d failed, %lld samples received (%lld expected from "
      "completed members), %lld batches, %.1f s\n",
      cfg.study.name.c_str(), counts.done, counts.failed,
      static_cast<long long>(reception.received.load()), static_cast<long long>(expected),
      static_cast<long long>(trainer.batches()), seconds);
  for (const auto& f : final_metrics.fields) {
    std::printf("  validation %s: relative L2 %.3f %%, NRMSE %.4f, VRMSE %.4f\n", f.field.c_str(),
                100.0 * f.relative_l2, f.nrmse, f.vrmse);
  }
  std::printf("  results: %s\n  model:   %s\n", (out_dir / "results.h5").c_str(),
              (out_dir / "model").c_str());
  if (o.plots) make_plots(out_dir.string(), log);
  return g_interrupted ? 130 : 0;
}

}  // namespace surge::experiments
