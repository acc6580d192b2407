// The command lines and environments of members and workers.
#include "members/member_commands.hpp"

#include <unistd.h>

#include <algorithm>

#include "members/external_solver.hpp"
#include "study/study_keys.hpp"
#include "surge/core/error.hpp"
#include "surge/streaming/member_environment.hpp"

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

}  // namespace

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
  // Every member is its own mpirun, and Open MPI binds each one's ranks to the node's first
  // cores, unaware of the others: two one-rank members shared core 0 while core 1 idled
  // (bench_ensemble 0.32 of its bound). Unless the study binds them itself, leave the
  // placement to the kernel.
  const bool binds = std::any_of(
      launcher.mpirun_args.begin(), launcher.mpirun_args.end(), [](const std::string& a) {
        for (const char* option :
             {"--bind-to", "-bind-to", "--cpu-set", "--cpu-list", "--rankfile", "-rf"}) {
          if (a.rfind(option, 0) == 0) return true;
        }
        return false;
      });
  if (!binds) c.insert(c.end(), {"--bind-to", "none"});
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
    // Built-in members read only their ticket and the study's parameter order from the
    // environment (the rest is on their command line).
    std::vector<std::string> out = {streaming::parameter_names_entry(study.range_names)};
    if (!member_ticket.empty())
      out.push_back(std::string(streaming::kMemberTicketVariable) + "=" + member_ticket);
    return out;
  }
  // Every member is told the study's parameter order (SURGE_PARAMETER_NAMES).
  streaming::MemberEnvironment env;
  env.parameter_names = study.range_names;
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
