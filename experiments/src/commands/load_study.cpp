// Resolving a study before anything starts: the experiment file read and checked, the
// solver probed (or an external solver's declaration read), the launcher's and CURVE's checks.
#include "commands/load_study.hpp"

#include <algorithm>
#include <cctype>

#include "members/external_solver.hpp"
#include "members/member_commands.hpp"
#include "study/study_keys.hpp"
#include "surge/core/error.hpp"
#include "surge/core/mpi.hpp"
#include "surge/experiments/sampler.hpp"
#include "surge/experiments/slurm_launcher.hpp"
#include "surge/solvers/member.hpp"
#include "surge/solvers/solver.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

namespace {

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

Study load_study_file(const std::string& file, const std::vector<std::string>& overrides,
                      StudyHost host) {
  core::ConfigSource source;
  source.file = file;
  YAML::Node root = core::load_yaml_file(file);
  for (const auto& assignment : overrides) core::apply_override(root, assignment, source);
  return load_study(root, source, host);
}

namespace {

// launcher: type local or slurm, and its parameters.
void read_launcher(Study& s) {
  const ExperimentConfig& cfg = s.cfg;
  SURGE_REQUIRE(cfg.launcher.type == "local" || cfg.launcher.type == "slurm", ConfigError,
                "unknown launcher '" << cfg.launcher.type << "' (known: local, slurm)");
  if (cfg.launcher.type == "slurm") {
    const auto both = core::read_config<SlurmLauncherConfig>(cfg.launcher.parameters, s.source,
                                                             "launcher.parameters");
    s.launcher = both;
    s.slurm = both.slurm;
    SURGE_REQUIRE(s.slurm->mode == "jobs" || s.slurm->mpi_launcher == "srun", ConfigError,
                  "launcher.parameters.mpi_launcher: mode allocation starts members as srun "
                  "job steps; mpirun is for mode jobs");
  } else {
    s.launcher =
        core::read_config<LauncherConfig>(cfg.launcher.parameters, s.source, "launcher.parameters");
  }
}

// A continuous ensemble must be able to go on drawing, and must stop: its sampler produces
// points without end, training has a budget, and nothing waits for members that never end.
void check_continuous(const ExperimentConfig& cfg) {
  SURGE_REQUIRE(cfg.parameters.sampler.type != "lhs", ConfigError,
                "parameters.continuous: the lhs sampler is a finite design of "
                    << cfg.parameters.train_members
                    << " points (train_members) and cannot draw more; "
                       "use parameters.sampler halton, uniform or breed");
  SURGE_REQUIRE(cfg.training.max_batches > 0 || cfg.training.max_seconds > 0, ConfigError,
                "parameters.continuous: the members never run out, so training needs a budget "
                "(training.max_batches or training.max_seconds > 0)");
  SURGE_REQUIRE(!cfg.study.wait_for_members, ConfigError,
                "parameters.continuous: study.wait_for_members would wait for members that never "
                "run out; set it to false");
}

// What the members stream: a built-in solver probed, or an external one's declaration.
// Parameters the study does not vary keep the solver's default, as fixed values: every member
// is told them, and results.h5 records them.
void read_solver(Study& s) {
  ExperimentConfig& cfg = s.cfg;
  if (cfg.solver.type == kExternalSolver) {
    s.external = read_external_solver(cfg, s.source);
    s.facts = external_solver_facts(*s.external, s.source);
    SURGE_REQUIRE(s.launcher.fail_once_simulation < 0, ConfigError,
                  "launcher.parameters.fail_once_simulation makes surge solve members crash; it "
                  "does not apply to solver type external");
  } else {
    s.facts = probe_solver(cfg, s.source);
  }
  for (const auto& [name, value] : s.facts.defaults) cfg.parameters.ranges[name] = {value, value};
  (void)make_sampler(cfg.parameters.sampler, cfg.parameters.ranges, 0, 1);
  if (cfg.parameters.continuous) check_continuous(cfg);
  // One order of the parameters for the members, results.h5, the model and `surge predict`:
  // the solver's (solver.parameters.parameters for an external one), not the map's.
  s.range_names = s.facts.parameter_names;
  SURGE_REQUIRE(s.range_names.size() == cfg.parameters.ranges.size(), ConfigError,
                "parameters.ranges: " << cfg.parameters.ranges.size()
                                      << " parameters, the solver has " << s.range_names.size());
  if (s.next_step) {
    SURGE_REQUIRE(static_cast<std::int64_t>(s.facts.times.size()) >
                      cfg.samples.stride * cfg.training.rollout_steps,
                  ConfigError,
                  "samples.stride (" << cfg.samples.stride << ") x training.rollout_steps ("
                                     << cfg.training.rollout_steps << ") must be below the "
                                     << s.facts.times.size() << " frames of a member");
  }
}

// A study on a mesh: an external solver's mesh is the graph network's unless the model names
// one, and a graph network's mesh (mesh_heat's studies) is the study's, for results.h5 and the
// plots. Paths are taken from the experiment file's directory.
void join_mesh(Study& s) {
  if (s.cfg.model.type != "graphnet") return;
  YAML::Node& parameters = s.cfg.model.parameters;
  const YAML::Node& given = parameters;
  const std::string model_mesh = given["mesh"] ? given["mesh"].as<std::string>() : "";
  if (model_mesh.empty()) {
    if (!s.facts.mesh.empty()) parameters["mesh"] = s.facts.mesh;
  } else if (s.facts.mesh.empty()) {
    s.facts.mesh = from_experiment_dir(experiment_directory(s.source), model_mesh);
  }
}

// How members start: persistent workers only where a LocalLauncher serves them, mpirun (or
// srun), and the Slurm commands found where the server runs here.
void check_member_start(Study& s, StudyHost host) {
  // Persistent workers take their simulations on stdin from a LocalLauncher (local processes
  // or job steps of an allocation): not through batch jobs, and not the user's own programs,
  // which run one simulation each.
  const bool batch_jobs = s.slurm && s.slurm->mode == "jobs";
  SURGE_REQUIRE(s.launcher.simulations_per_member == 1 || (!batch_jobs && !s.external), ConfigError,
                "launcher.parameters.simulations_per_member: persistent workers (> 1) run "
                "built-in solvers as local processes or job steps (Slurm mode allocation); "
                    << (batch_jobs ? "a batch job (Slurm mode jobs)" : "solver type external")
                    << " runs one simulation per member process (set it to 1)");
  // Slurm places job steps and jobs itself (--cpus-per-task, --exact).
  SURGE_REQUIRE(
      !s.slurm || s.launcher.member_cores == 0, ConfigError,
      "launcher.parameters.member_cores: cores are shared out by a local launcher; "
      "under Slurm, members get theirs from launcher.parameters.cpus_per_task (set it to 0)");
  s.mpirun = find_on_path(s.launcher.mpirun);
  SURGE_REQUIRE(!s.mpirun.empty() || (s.slurm && s.slurm->mpi_launcher == "srun"), ConfigError,
                "launcher.parameters.mpirun: '" << s.launcher.mpirun
                                                << "' is not on PATH (install openmpi-bin)");
  if (s.slurm && host == StudyHost::here) s.slurm_commands = find_slurm_commands(*s.slurm, false);
}

// The resolved configuration: every part with its defaults filled in.
std::string resolved_text(const Study& s) {
  YAML::Node resolved = core::dump_config(s.cfg);
  if (s.slurm) {
    SlurmLauncherConfig both;
    static_cast<LauncherConfig&>(both) = s.launcher;
    both.slurm = *s.slurm;
    resolved["launcher"]["parameters"] = core::dump_config(both);
  } else {
    resolved["launcher"]["parameters"] = core::dump_config(s.launcher);
  }
  if (s.external) resolved["solver"]["parameters"] = core::dump_config(*s.external);
  return core::to_yaml_text(resolved);
}

// The description every trainer replica and the export share.
surrogates::IoDescription describe_study(const Study& s) {
  const ExperimentConfig& cfg = s.cfg;
  const SolverFacts& facts = s.facts;
  surrogates::IoDescription io;
  io.kind = surrogates::model_kind(cfg.model.type);
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
    io.increment = cfg.training.target == "increment";
  }
  return io;
}

}  // namespace

Study load_study(const YAML::Node& input, const core::ConfigSource& source, StudyHost host) {
  Study s;
  s.input = YAML::Clone(input);
  s.source = source;
  s.cfg = core::read_config<ExperimentConfig>(s.input, source);
  read_launcher(s);
  surrogates::check_model_config(s.cfg.model, source, "model");
  (void)make_buffer(s);  // its parameters checked before the solver is probed
  s.next_step = surrogates::model_kind(s.cfg.model.type) == surrogates::kNextStep;
  read_solver(s);
  join_mesh(s);
  check_member_start(s, host);
  s.out_dir = fs::absolute(s.cfg.study.output_dir);
  if (s.cfg.streaming.curve.on()) check_key_files(s.cfg.streaming.curve);
  s.resolved_text = resolved_text(s);
  s.io = describe_study(s);
  s.training = s.cfg.training;
  if (!fs::path(s.training.checkpoint_dir).is_absolute()) {
    s.training.checkpoint_dir = (s.out_dir / s.training.checkpoint_dir).string();
  }
  return s;
}

}  // namespace surge::experiments
