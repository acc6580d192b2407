// `surge submit exp.yaml [key=value ...]`: runs a study on Slurm. Writes the experiment as
// resolved (overrides applied) and the server's batch script into <output_dir>/slurm/,
// submits the script with sbatch and exits; the server then runs `surge run` in its job.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "commands/load_study.hpp"
#include "members/external_solver.hpp"
#include "members/member_commands.hpp"
#include "members/slurm_scripts.hpp"
#include "study/member_table.hpp"
#include "study/study.hpp"
#include "surge/core/config.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "surge/experiments/cli.hpp"
#include "surge/solvers/kokkos_aliases.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

namespace {

void print_help() {
  std::printf(
      "usage: surge submit <experiment.yaml> [key=value ...] [options]\n"
      "\nRuns a study on Slurm (launcher.type slurm): checks everything, asks Slurm whether it\n"
      "takes the jobs (sbatch --test-only), writes the experiment as resolved and the\n"
      "server's batch script into <study.output_dir>/slurm/, submits the script and exits.\n"
      "In its job the server runs `surge run` (or `surge resume` when the job is requeued\n"
      "after a study checkpoint): mode jobs submits every member as a job of its own, mode\n"
      "allocation runs the members as job steps of the server's job, which is sized for\n"
      "them. The keys are those of `surge run --help` (launcher type slurm).\n"
      "\noptions:\n"
      "  --dry-run       print the batch scripts (the server's; in mode jobs also the first\n"
      "                  member's), write and submit nothing; where no Slurm controller\n"
      "                  answers, say in one line on stderr what was not checked\n"
      "  --overwrite     reuse an output directory that exists and is not empty\n"
      "  --log-level L   debug, info, warn, error, off (default: info)\n"
      "  --help          this text\n");
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  SURGE_REQUIRE(out.good(), IoError, "cannot write " << path.string());
}

// The paths an experiment file gives relative to its own directory (an external solver's
// program, its {experiment_dir} and mesh, a graph network's mesh), made absolute in the copy
// the server's job runs: that copy lies in <output_dir>/slurm/, another directory. Paths
// relative to the working directory (a built-in solver's) stay: the job starts where
// surge submit ran.
void pin_file_relative_paths(YAML::Node input, const fs::path& dir) {
  const auto pin = [&](YAML::Node parent, const char* key) {
    if (parent.IsMap() && parent[key] && parent[key].IsScalar())
      parent[key] = from_experiment_dir(dir, parent[key].as<std::string>());
  };
  if (input["model"] && input["model"]["parameters"]) pin(input["model"]["parameters"], "mesh");
  const YAML::Node solver = input["solver"];
  if (!solver || !solver.IsMap() || !solver["type"] ||
      solver["type"].as<std::string>("") != kExternalSolver || !solver["parameters"])
    return;
  YAML::Node parameters = input["solver"]["parameters"];
  pin(parameters, "mesh");
  YAML::Node command = parameters["command"];
  if (!command || !command.IsSequence()) return;
  for (std::size_t i = 0; i < command.size(); ++i) {
    if (!command[i].IsScalar()) continue;
    std::string word = with_experiment_dir(command[i].as<std::string>(), dir.string());
    if (i == 0 && word.find('/') != std::string::npos) word = from_experiment_dir(dir, word);
    command[i] = word;
  }
}

}  // namespace

int submit_command(const std::vector<std::string>& args) {
  std::string file;
  std::vector<std::string> overrides;
  bool dry_run = false, overwrite = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      print_help();
      return 0;
    } else if (a == "--dry-run") {
      dry_run = true;
    } else if (a == "--overwrite") {
      overwrite = true;
    } else if (a == "--log-level") {
      SURGE_REQUIRE(i + 1 < args.size(), ConfigError, "--log-level needs a value");
      core::Logger::set_level(core::parse_log_level(args[++i]));
    } else if (a.rfind("--", 0) == 0) {
      SURGE_THROW(ConfigError, "unknown option '" << a << "' (see surge submit --help)");
    } else if (core::is_override(a)) {
      overrides.push_back(a);
    } else if (file.empty()) {
      file = a;
    } else {
      SURGE_THROW(ConfigError, "unexpected argument '" << a << "' (keys are set as key=value)");
    }
  }
  SURGE_REQUIRE(!file.empty(), ConfigError,
                "no experiment file (usage: surge submit <experiment.yaml> [key=value ...])");
  SURGE_REQUIRE(core::comm_size(MPI_COMM_WORLD) == 1, ConfigError,
                "surge submit runs as one process: it submits the server's job, whose ranks "
                "are launcher.parameters.server.ranks");
  solvers::KokkosSession kokkos;
  const Study study = load_study_file(file, overrides, StudyHost::batch_job);
  SURGE_REQUIRE(study.slurm, ConfigError,
                "launcher.type: surge submit runs a study on Slurm and needs launcher type "
                "slurm, got '"
                    << study.cfg.launcher.type << "' (surge run runs it on this machine)");
  // A dry run shows the scripts where Slurm is out of reach (a laptop, CI), saying what it
  // could not check.
  std::string not_checked;
  if (dry_run) {
    not_checked = check_slurm_study_if_reachable(study);
  } else {
    check_slurm_study(study, true);
  }

  const std::string surge_exe = self_executable();
  const fs::path dir = study.out_dir / "slurm";
  const fs::path experiment_file = dir / "experiment.yaml";
  const fs::path script_file = dir / "server.sbatch";
  const std::string script = server_job_script(study, surge_exe, experiment_file.string());
  if (dry_run) {
    std::cout << "# " << script_file.string() << "\n" << script;
    if (study.slurm->mode == "jobs") {
      const MemberRecord first = MemberTable(study).initial().at(0);
      std::cout << "\n# " << (dir / "member_0_attempt1.sbatch").string()
                << " (the server writes one per member attempt)\n"
                << member_job_script(
                       study, surge_exe, first, 1,
                       (study.out_dir / "logs" /
                        ("member_" + std::to_string(first.simulation_id) + "_attempt1.log"))
                           .string());
    }
    if (!not_checked.empty()) std::cerr << "surge submit --dry-run: " << not_checked << "\n";
    return 0;
  }
  prepare_output_dir(study.out_dir, overwrite, 0);
  fs::remove_all(dir);  // the scripts of an earlier study (--overwrite)
  fs::create_directories(dir);
  // The experiment as resolved here, so that the job runs what was checked, wherever and
  // whenever it starts; relative paths in it stay relative to this directory (--chdir).
  YAML::Node input = YAML::Clone(study.input);
  input["study"]["output_dir"] = study.out_dir.string();
  pin_file_relative_paths(input, experiment_directory(study.source));
  write_file(experiment_file, core::to_yaml_text(input));
  write_file(script_file, script);

  const ProgramResult r = run_program(
      {find_slurm_commands(*study.slurm, true).sbatch, "--parsable", script_file.string()});
  const std::string id = r.output.substr(0, r.output.find_first_of(";\n"));
  SURGE_REQUIRE(r.code == 0 && !id.empty(), IoError,
                "sbatch refused the server's job " << script_file.string() << ": "
                                                   << r.output.substr(0, r.output.find('\n')));
  std::printf(
      "surge submit: server job %s submitted (launcher mode %s); output in %s, its log "
      "%s/server_%s.log; follow it with `squeue -j %s`, stop it with `scancel %s` (the "
      "server cancels its members)\n",
      id.c_str(), study.slurm->mode.c_str(), study.out_dir.string().c_str(), dir.string().c_str(),
      id.c_str(), id.c_str(), id.c_str());
  return 0;
}

}  // namespace surge::experiments
