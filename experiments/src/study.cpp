#include "study.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "external_solver.hpp"
#include "slurm_scripts.hpp"
#include "study_keys.hpp"
#include "surge/core/error.hpp"
#include "surge/core/mpi.hpp"
#include "surge/experiments/sampler.hpp"
#include "surge/reservoir/registry.hpp"
#include "surge/solvers/member.hpp"
#include "surge/solvers/solver.hpp"
#include "surge/streaming/member_environment.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

namespace {

// YAML scalar or flow text of a solver key, as `surge solve` takes it in key=value.
std::string as_argument(const YAML::Node& value) {
  if (value.IsScalar()) return value.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << value;
  return out.c_str();
}

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
  for (const auto& [name, value] : probe->parameters()) {
    facts.parameter_names.push_back(name);
    if (!cfg.parameters.ranges.count(name)) facts.defaults[name] = value;
  }
  for (const auto& f : probe->fields())
    facts.layout.push_back({f.name, f.order == 0 ? 1 : f.components});
  facts.grid = {probe->decomposition().nx(), probe->decomposition().ny()};
  facts.times = solvers::frame_times(*probe);
  facts.periodic = {false, false};
  for (const auto& bc : probe->boundary_conditions()) {
    if (bc.type == "periodic" && (bc.axis == "x" || bc.axis == "y"))
      facts.periodic[bc.axis == "x" ? 0 : 1] = true;
  }
  for (const auto& [name, range] : cfg.parameters.ranges) {
    SURGE_REQUIRE(std::find(facts.parameter_names.begin(), facts.parameter_names.end(), name) !=
                      facts.parameter_names.end(),
                  ConfigError,
                  "'parameters.ranges." << name << "' is not a parameter of " << cfg.solver.type);
  }
  return facts;
}

}  // namespace

std::string self_executable() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  SURGE_REQUIRE(!ec, IoError,
                "cannot find the surge executable (/proc/self/exe): " << ec.message());
  return p.string();
}

Study load_study_file(const std::string& file, const std::vector<std::string>& overrides) {
  core::ConfigSource source;
  source.file = file;
  YAML::Node root = core::load_yaml_file(file);
  for (const auto& assignment : overrides) core::apply_override(root, assignment, source);
  return load_study(root, source);
}

std::unique_ptr<reservoir::Buffer<reservoir::Sample>> make_buffer(const Study& study) {
  return reservoir::buffer_registry<reservoir::Sample>()
      .at(study.cfg.reservoir.type)
      .create(study.cfg.reservoir.parameters, study.source, "reservoir.parameters");
}

Study load_study(const YAML::Node& input, const core::ConfigSource& source) {
  Study s;
  s.input = YAML::Clone(input);
  s.source = source;
  s.cfg = core::read_config<ExperimentConfig>(s.input, source);
  ExperimentConfig& cfg = s.cfg;
  SURGE_REQUIRE(cfg.launcher.type == "local" || cfg.launcher.type == "slurm", ConfigError,
                "unknown launcher '" << cfg.launcher.type << "' (known: local, slurm)");
  if (cfg.launcher.type == "slurm") {
    const auto both = core::read_config<SlurmLauncherConfig>(cfg.launcher.parameters, source,
                                                             "launcher.parameters");
    s.launcher = both;
    s.slurm = both.slurm;
    SURGE_REQUIRE(s.slurm->mode == "jobs" || s.slurm->mpi_launcher == "srun", ConfigError,
                  "launcher.parameters.mpi_launcher: mode allocation starts members as srun "
                  "job steps; mpirun is for mode jobs");
  } else {
    s.launcher =
        core::read_config<LauncherConfig>(cfg.launcher.parameters, source, "launcher.parameters");
  }
  surrogates::check_model_config(cfg.model, source, "model");
  const auto buffer = make_buffer(s);
  const std::string kind = surrogates::model_kind(cfg.model.type);
  s.next_step = kind == surrogates::kNextStep;
  const surrogates::TrainingConfig& training_cfg = cfg.training;
  if (s.next_step) {
    const std::int64_t window = buffer->window_length();
    SURGE_REQUIRE(
        cfg.reservoir.type == "trajectory" && window == training_cfg.rollout_steps + 1, ConfigError,
        "model type '" << cfg.model.type << "' learns next_step samples: it needs "
                       << "reservoir type trajectory with window = "
                       << "training.rollout_steps + 1 = " << training_cfg.rollout_steps + 1
                       << " (got " << cfg.reservoir.type << ", window " << window << ")");
  }

  if (cfg.solver.type == kExternalSolver) {
    s.external = read_external_solver(cfg, source);
    s.facts = external_solver_facts(*s.external, source);
    SURGE_REQUIRE(s.launcher.fail_once_simulation < 0, ConfigError,
                  "launcher.parameters.fail_once_simulation makes surge solve members crash; it "
                  "does not apply to solver type external");
  } else {
    s.facts = probe_solver(cfg, source);
  }
  const SolverFacts& facts = s.facts;
  // Parameters the study does not vary keep the solver's default, as fixed values: every
  // member is told them, and results.h5 records them.
  for (const auto& [name, value] : facts.defaults) cfg.parameters.ranges[name] = {value, value};
  (void)make_sampler(cfg.parameters.sampler, cfg.parameters.ranges, 0, 1);
  for (const auto& [name, r] : cfg.parameters.ranges) s.range_names.push_back(name);
  if (s.next_step) {
    SURGE_REQUIRE(static_cast<std::int64_t>(facts.times.size()) >
                      cfg.samples.stride * training_cfg.rollout_steps,
                  ConfigError,
                  "samples.stride (" << cfg.samples.stride << ") x training.rollout_steps ("
                                     << training_cfg.rollout_steps << ") must be below the "
                                     << facts.times.size() << " frames of a member");
  }
  // Persistent workers take their simulations on stdin from a LocalLauncher (local processes
  // or job steps of an allocation): not through batch jobs, and not the user's own programs,
  // which run one simulation each.
  const bool batch_jobs = s.slurm && s.slurm->mode == "jobs";
  SURGE_REQUIRE(s.launcher.simulations_per_member == 1 || (!batch_jobs && !s.external), ConfigError,
                "launcher.parameters.simulations_per_member: persistent workers (> 1) run "
                "built-in solvers as local processes or job steps (Slurm mode allocation); "
                    << (batch_jobs ? "a batch job (Slurm mode jobs)" : "solver type external")
                    << " runs one simulation per member process (set it to 1)");
  s.mpirun = find_on_path(s.launcher.mpirun);
  SURGE_REQUIRE(!s.mpirun.empty() || (s.slurm && s.slurm->mpi_launcher == "srun"), ConfigError,
                "launcher.parameters.mpirun: '" << s.launcher.mpirun
                                                << "' is not on PATH (install openmpi-bin)");
  if (s.slurm) s.slurm_commands = find_slurm_commands(*s.slurm, false);
  s.out_dir = fs::absolute(cfg.study.output_dir);
  if (cfg.streaming.curve.on()) check_key_files(cfg.streaming.curve);

  // The resolved configuration: every part with its defaults filled in.
  YAML::Node resolved = core::dump_config(cfg);
  if (s.slurm) {
    SlurmLauncherConfig both;
    static_cast<LauncherConfig&>(both) = s.launcher;
    both.slurm = *s.slurm;
    resolved["launcher"]["parameters"] = core::dump_config(both);
  } else {
    resolved["launcher"]["parameters"] = core::dump_config(s.launcher);
  }
  if (s.external) resolved["solver"]["parameters"] = core::dump_config(*s.external);
  s.resolved_text = core::to_yaml_text(resolved);

  surrogates::IoDescription& io = s.io;
  io.kind = kind;
  io.solver = cfg.solver.type;
  for (const auto& name : facts.parameter_names) {
    const auto& r = cfg.parameters.ranges.at(name);
    io.inputs.push_back({name, r.min, r.max});
  }
  if (!s.next_step) io.inputs.push_back({"t", 0.0, facts.times.back()});
  io.layout = facts.layout;
  io.fields = surrogates::channel_names(facts.layout);
  io.grid = facts.grid;
  io.times = facts.times;
  io.periodic = facts.periodic;
  if (s.next_step) {
    io.stride = cfg.samples.stride;
    io.dt = facts.times[static_cast<std::size_t>(io.stride)] - facts.times[0];
    io.increment = training_cfg.target == "increment";
  }
  s.training = training_cfg;
  if (!fs::path(s.training.checkpoint_dir).is_absolute()) {
    s.training.checkpoint_dir = (s.out_dir / s.training.checkpoint_dir).string();
  }
  return s;
}

// The output directory of a fresh study: absent, empty, or reused with --overwrite (rank 0
// then removes what an earlier study left).
void prepare_output_dir(const fs::path& out_dir, bool overwrite, int rank) {
  std::error_code ec;
  const bool exists = fs::exists(out_dir, ec);
  SURGE_REQUIRE(!exists || fs::is_directory(out_dir, ec), ConfigError,
                "study.output_dir '" << out_dir.string() << "' is a file");
  SURGE_REQUIRE(!exists || overwrite || fs::is_empty(out_dir, ec), ConfigError,
                "study.output_dir '" << out_dir.string()
                                     << "' exists and is not empty (use --overwrite"
                                     << (fs::exists(out_dir / "checkpoints", ec)
                                             ? ", or `surge resume " + out_dir.string() +
                                                   "` to continue the study it holds"
                                             : std::string())
                                     << ")");
  // Every rank checks before rank 0 creates anything: a rank still checking would find the
  // directory rank 0 just made and fail alone, leaving the others in a collective.
  SURGE_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
  if (rank != 0) return;
  if (overwrite && exists) {
    for (const char* stale :
         {"results.h5", "model", "plots", "logs", "checkpoints", kEndpointFile}) {
      fs::remove_all(out_dir / stale);
    }
  }
  fs::create_directories(out_dir / "logs");
}

std::vector<std::string> ranks_command(const Study& study, int ranks, int cpus_per_task,
                                       int nodes) {
  const LauncherConfig& launcher = study.launcher;
  if (study.slurm && study.slurm->mpi_launcher == "srun") {
    // Explicit sizes: inside an allocation, srun would otherwise read the allocation's own
    // (SLURM_NTASKS, SLURM_NNODES, ...) from the environment.
    const SlurmConfig& slurm = *study.slurm;
    std::vector<std::string> c = {
        study.slurm_commands.srun.empty() ? "srun" : study.slurm_commands.srun,
        "--ntasks=" + std::to_string(ranks), "--cpus-per-task=" + std::to_string(cpus_per_task),
        "--nodes=" + (nodes > 0 ? std::to_string(nodes) : "1-" + std::to_string(ranks))};
    if (slurm.mode == "allocation") c.push_back("--exact");
    if (!slurm.srun_mpi.empty()) c.push_back("--mpi=" + slurm.srun_mpi);
    c.insert(c.end(), slurm.srun_args.begin(), slurm.srun_args.end());
    return c;
  }
  std::vector<std::string> c = {study.mpirun.empty() ? launcher.mpirun : study.mpirun};
  // Open MPI refuses to start as root unless told; CI containers and clusters' admins do.
  if (geteuid() == 0) c.push_back("--allow-run-as-root");
  for (const auto& a : launcher.mpirun_args) c.push_back(a);
  c.insert(c.end(), {"-np", std::to_string(ranks)});
  return c;
}

std::vector<std::string> solve_program(const std::string& surge_exe) {
  const fs::path lean = fs::path(surge_exe).parent_path() / "surge-solve";
  if (access(lean.c_str(), X_OK) == 0) return {lean.string()};
  return {surge_exe, "solve"};
}

namespace {

// `surge-solve <solver> <shared keys>`: what every member of a built-in solver runs.
std::vector<std::string> solve_head(const Study& study, const std::string& surge_exe) {
  std::vector<std::string> c = solve_program(surge_exe);
  c.push_back(study.cfg.solver.type);
  for (const auto& kv : study.cfg.solver.parameters) {
    c.push_back(kv.first.as<std::string>() + "=" + as_argument(kv.second));
  }
  return c;
}

// The stream options of a member or a worker, but its simulation id.
std::vector<std::string> stream_options(const Study& study, const std::string& front_endpoint) {
  std::vector<std::string> c = {
      "--stream",         front_endpoint,
      "--experiment",     study.cfg.study.name,
      "--server-timeout", core::detail::to_text(study.cfg.streaming.server_timeout_s),
      "--log-level",      "warn"};
  // streaming.curve: the study's key files (study_keys.hpp).
  for (auto& a : member_key_options(study)) c.push_back(std::move(a));
  return c;
}

// The sampled parameters of a member, as key=value.
std::vector<std::string> sampled_values(const Study& study, const MemberRecord& m) {
  std::vector<std::string> c;
  for (std::size_t k = 0; k < study.range_names.size(); ++k) {
    c.push_back(study.range_names[k] + "=" + core::detail::to_text(m.parameters[k]));
  }
  return c;
}

// launcher.parameters.fail_once_simulation: the crash of that simulation's first attempt.
std::vector<std::string> injected_failure(const Study& study, const MemberRecord& m, int attempt) {
  const LauncherConfig& launcher = study.launcher;
  if (launcher.fail_once_simulation >= 0 &&
      m.simulation_id == static_cast<std::uint64_t>(launcher.fail_once_simulation) &&
      attempt == 1) {
    return {"--fail-at-output", std::to_string(launcher.fail_once_at_output)};
  }
  return {};
}

}  // namespace

std::vector<std::string> member_command(const Study& study, const std::string& surge_exe,
                                        const std::string& front_endpoint, const MemberRecord& m,
                                        int attempt) {
  const ExperimentConfig& cfg = study.cfg;
  std::vector<std::string> c =
      ranks_command(study, cfg.solver.ranks, study.slurm ? study.slurm->cpus_per_task : 1,
                    study.slurm ? study.slurm->nodes : 0);
  if (study.slurm && study.slurm->mpi_launcher == "srun") {
    c.push_back("--job-name=" + slurm_job_name(study, m.simulation_id));
  }
  if (study.external) {
    // The connection is in the environment (member_environment), the rest is the user's.
    for (auto& a : external_command(*study.external, study.range_names, m)) c.push_back(a);
    return c;
  }
  for (auto& a : solve_head(study, surge_exe)) c.push_back(std::move(a));
  for (auto& a : sampled_values(study, m)) c.push_back(std::move(a));
  for (auto& a : stream_options(study, front_endpoint)) c.push_back(std::move(a));
  c.insert(c.end(), {"--simulation-id", std::to_string(m.simulation_id)});
  for (auto& a : injected_failure(study, m, attempt)) c.push_back(std::move(a));
  return c;
}

std::vector<std::string> worker_command(const Study& study, const std::string& surge_exe,
                                        const std::string& front_endpoint) {
  std::vector<std::string> c =
      ranks_command(study, study.cfg.solver.ranks, study.slurm ? study.slurm->cpus_per_task : 1,
                    study.slurm ? study.slurm->nodes : 0);
  if (study.slurm && study.slurm->mpi_launcher == "srun") {
    // srun hands its stdin to every task unless told: the simulations are for rank 0. The
    // step is named surge-<study name>-worker (its simulations change).
    const std::string name = slurm_job_name(study, 0);
    c.insert(c.end(), {"--input=0", "--job-name=" + name.substr(0, name.rfind('-')) + "-worker"});
  }
  for (auto& a : solve_head(study, surge_exe)) c.push_back(std::move(a));
  for (auto& a : stream_options(study, front_endpoint)) c.push_back(std::move(a));
  c.push_back("--worker");
  return c;
}

std::vector<std::string> simulation_arguments(const Study& study, const MemberRecord& m,
                                              int attempt) {
  std::vector<std::string> c = sampled_values(study, m);
  for (auto& a : injected_failure(study, m, attempt)) c.push_back(std::move(a));
  return c;
}

std::unique_ptr<Launcher> make_launcher(const Study& study, std::vector<MemberRecord> members,
                                        const std::string& front_endpoint,
                                        Launcher::SilenceOf silence, Launcher::Redraw redraw,
                                        LocalLauncher::Hooks hooks) {
  const std::string surge_exe = self_executable();
  const std::string log_dir = (study.out_dir / "logs").string();
  if (study.slurm && study.slurm->mode == "jobs") {
    if (front_endpoint.rfind("tcp://127.", 0) == 0) {
      core::Logger("run").warn(
          "the stream is bound to loopback (" + front_endpoint +
          "): only member jobs on this node can reach it; set streaming.front_endpoint and "
          "streaming.data_endpoint to tcp://*:* or tcp://<interface>:*");
    }
    // The member's variables (its ticket among them) are exported by its job script, which is
    // therefore written readable by this user only.
    auto script = [&study, surge_exe, environment = hooks.environment](
                      const MemberRecord& m, int attempt, const std::string& log_file) {
      return member_job_script(study, surge_exe, m, attempt, log_file,
                               environment ? environment(m, attempt) : std::vector<std::string>{});
    };
    return std::make_unique<SlurmJobLauncher>(study.launcher, *study.slurm, study.slurm_commands,
                                              std::move(members), script, std::move(silence),
                                              std::move(redraw), log_dir,
                                              (study.out_dir / "slurm").string(), hooks.delivery);
  }
  // Local members, or job steps of the allocation this server runs in (srun --exact).
  auto command = [&study, surge_exe, front_endpoint](const MemberRecord& m, int attempt) {
    return member_command(study, surge_exe, front_endpoint, m, attempt);
  };
  if (study.launcher.simulations_per_member > 1) {
    hooks.worker_command = [&study, surge_exe, front_endpoint] {
      return worker_command(study, surge_exe, front_endpoint);
    };
    hooks.simulation_arguments = [&study](const MemberRecord& m, int attempt) {
      return simulation_arguments(study, m, attempt);
    };
  }
  return std::make_unique<LocalLauncher>(study.launcher, std::move(members), command,
                                         std::move(silence), std::move(redraw), log_dir,
                                         std::move(hooks));
}

std::string slurm_job_name(const Study& study, std::uint64_t simulation_id) {
  std::string name = "surge-" + study.cfg.study.name;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.')
      ch = '_';
  }
  return name + "-" + std::to_string(simulation_id);
}

std::vector<std::string> member_environment(const Study& study, const std::string& front_endpoint,
                                            const MemberRecord& member,
                                            const std::string& member_ticket) {
  if (!study.external) {
    // Built-in members read only their ticket from the environment (the rest is on their
    // command line).
    if (member_ticket.empty()) return {};
    return {std::string(streaming::kMemberTicketVariable) + "=" + member_ticket};
  }
  streaming::MemberEnvironment env;
  env.member_ticket = member_ticket;
  env.endpoint = front_endpoint;
  env.experiment = study.cfg.study.name;
  env.simulation = member.simulation_id;
  env.server_timeout_s = study.cfg.streaming.server_timeout_s;
  // streaming.curve: the study's key files (study_keys.hpp).
  const StudyKeyFiles keys = study_key_files(study);
  env.server_public_key_file = keys.server_public;
  env.client_public_key_file = keys.client_public;
  env.client_secret_key_file = keys.client_secret;
  return streaming::to_environment(env);
}

}  // namespace surge::experiments

namespace surge::experiments {

streaming::MemberExpectations member_expectations(const Study& study) {
  streaming::MemberExpectations e;
  const SolverFacts& facts = study.facts;
  // As StreamSink (and the client examples) announce them: the grid, then the components of a
  // vector field as a last axis.
  for (const auto& f : facts.layout) {
    streaming::FieldSpec spec{f.name, {}};
    for (const std::int64_t n : facts.grid) spec.shape.push_back(static_cast<std::uint64_t>(n));
    if (f.components > 1) spec.shape.push_back(static_cast<std::uint64_t>(f.components));
    e.fields.push_back(std::move(spec));
  }
  // surge solve streams float32; an external program may send either.
  e.dtype = study.external ? streaming::DType::none : streaming::DType::float32;
  e.parameter_count = static_cast<std::uint32_t>(facts.parameter_names.size());
  e.member_size = static_cast<std::uint32_t>(study.cfg.solver.ranks);
  e.steps = static_cast<std::int64_t>(facts.times.size());
  return e;
}

}  // namespace surge::experiments
