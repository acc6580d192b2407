#include "members/slurm_scripts.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "members/member_commands.hpp"
#include "study/study_keys.hpp"
#include "surge/core/error.hpp"
#include "surge/streaming/member_environment.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

namespace {

// Stands for the server's endpoint in a member's command line; the script reads it at run
// time from the endpoint file.
const char* const kEndpointWord = "\x01surge-endpoint\x01";

void add_site_options(std::vector<std::string>& o, const std::string& partition,
                      const std::string& account, const std::string& time,
                      const std::string& constraint, const std::vector<std::string>& extra) {
  if (!partition.empty()) o.push_back("--partition=" + partition);
  if (!account.empty()) o.push_back("--account=" + account);
  if (!time.empty()) o.push_back("--time=" + time);
  if (!constraint.empty()) o.push_back("--constraint=" + constraint);
  o.insert(o.end(), extra.begin(), extra.end());
}

std::string script(const std::string& title, const std::vector<std::string>& options,
                   const std::vector<std::string>& setup, const std::string& body) {
  std::ostringstream s;
  s << "#!/bin/bash\n# " << title << "\n";
  for (const auto& o : options) s << "#SBATCH " << o << "\n";
  for (const auto& line : setup) s << line << "\n";
  s << body;
  return s.str();
}

std::string quoted_command(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    out += (out.empty() ? "" : " ") + (w == kEndpointWord ? "\"$SURGE_ENDPOINT\"" : shell_quote(w));
  }
  return out;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// What sbatch --test-only says when it refuses a job: its error lines, joined.
std::string refusal(const std::string& output) {
  std::istringstream in(output);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    const std::string l = lowercase(line);
    if (l.find("error") == std::string::npos && l.find("failure") == std::string::npos) continue;
    out += (out.empty() ? "" : "; ") + line;
  }
  return out.empty() ? output.substr(0, output.find('\n')) : out;
}

// The line of sbatch's output that says no Slurm controller answered (no configuration to be
// had, a controller that cannot be resolved or reached, no munge), or "" when it was asked.
std::string unreachable(const ProgramResult& r) {
  if (r.code == -1) return r.output.empty() ? "sbatch did not finish" : refusal(r.output);
  static const char* const kSigns[] = {"unable to contact slurm controller",
                                       "could not establish a configuration source",
                                       "unable to resolve",
                                       "unable to establish control machine",
                                       "unable to establish controller",
                                       "socket timed out",
                                       "munge"};
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) {
    const std::string l = lowercase(line);
    for (const char* sign : kSigns) {
      if (l.find(sign) != std::string::npos) return line;
    }
  }
  return "";
}

// Submits `options` with sbatch --test-only (nothing is queued). Returns "" when Slurm takes
// the job; when no controller answers, why (`unreachable_ok`) or a ConfigError saying so;
// throws ConfigError naming the key under `prefix` whose value Slurm refuses.
std::string check_job(const std::string& sbatch, const std::vector<std::string>& options,
                      const std::string& prefix, const std::string& size_key,
                      const std::string& what, bool unreachable_ok) {
  std::vector<std::string> argv = {sbatch, "--test-only"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back("--wrap=true");
  const ProgramResult r = run_program(argv, std::chrono::seconds(60));
  if (r.code == 0) return "";
  const std::string why = unreachable(r);
  if (!why.empty() && unreachable_ok) return why;
  SURGE_REQUIRE(why.empty(), ConfigError,
                "launcher.type slurm: no Slurm controller answers sbatch --test-only ("
                    << why
                    << "): run where the cluster's Slurm is reachable (SLURM_CONF, the site's "
                       "Slurm module), or look at the batch scripts with surge submit --dry-run");
  const std::string message = refusal(r.output);
  const std::string l = lowercase(message);
  std::string key = prefix + "sbatch_args";
  if (l.find("partition") != std::string::npos) {
    key = prefix + "partition";
  } else if (l.find("account") != std::string::npos || l.find("association") != std::string::npos) {
    key = prefix + "account";
  } else if (l.find("time") != std::string::npos) {
    key = prefix + "time";
  } else if (l.find("feature") != std::string::npos || l.find("constraint") != std::string::npos) {
    key = prefix + "constraint";
  } else if (l.find("node configuration") != std::string::npos ||
             l.find("processor") != std::string::npos || l.find("cpu") != std::string::npos ||
             l.find("node count") != std::string::npos) {
    key = size_key;
  }
  SURGE_THROW(ConfigError, key << ": Slurm refuses " << what << " (sbatch --test-only): "
                               << (message.empty() ? "no reason given" : message));
}

}  // namespace

std::string shell_quote(const std::string& word) {
  const bool safe = !word.empty() && std::all_of(word.begin(), word.end(), [](unsigned char c) {
    return std::isalnum(c) ||
           std::string("@%+=:,./_-").find(static_cast<char>(c)) != std::string::npos;
  });
  if (safe) return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<std::string> member_job_options(const Study& study, std::uint64_t simulation_id,
                                            const std::string& log_file) {
  const SlurmConfig& slurm = *study.slurm;
  std::vector<std::string> o = {"--job-name=" + slurm_job_name(study, simulation_id),
                                "--output=" + log_file,
                                "--ntasks=" + std::to_string(study.cfg.solver.ranks),
                                "--cpus-per-task=" + std::to_string(slurm.cpus_per_task)};
  if (slurm.nodes > 0) o.push_back("--nodes=" + std::to_string(slurm.nodes));
  // A job Slurm requeues by itself would run twice; the launcher resubmits instead, under the
  // fault-tolerance policy.
  o.push_back("--no-requeue");
  o.push_back("--chdir=" + fs::current_path().string());
  add_site_options(o, slurm.partition, slurm.account, slurm.time, slurm.constraint,
                   slurm.sbatch_args);
  return o;
}

std::string member_job_script(const Study& study, const std::string& surge_exe,
                              const MemberRecord& m, int attempt, const std::string& log_file,
                              const std::vector<std::string>& environment) {
  const std::string title = "Simulation " + std::to_string(m.simulation_id) + " (" +
                            to_string(m.role) + " member), attempt " + std::to_string(attempt) +
                            ", of study '" + study.cfg.study.name +
                            "': written and submitted by surge run";
  const std::string endpoint_file = (study.out_dir / kEndpointFile).string();
  std::ostringstream body;
  for (const auto& variable : environment) {
    const std::size_t eq = variable.find('=');
    body << "export " << variable.substr(0, eq) << "=" << shell_quote(variable.substr(eq + 1))
         << "\n";
  }
  body << "# The server wrote its endpoint there once it was listening.\n"
       << "SURGE_ENDPOINT=$(cat " << shell_quote(endpoint_file) << ") || exit 1\n"
       << "export SURGE_ENDPOINT SURGE_EXPERIMENT=" << shell_quote(study.cfg.study.name)
       << " SURGE_SIMULATION_ID=" << m.simulation_id << "\n";
  const StudyKeyFiles keys = study_key_files(study);
  if (study.external && !keys.server_public.empty()) {
    // streaming.curve: the study's key files (a built-in member has them on its command line).
    body << "export " << streaming::kPublicKeyFileVariable << "=" << shell_quote(keys.server_public)
         << " " << streaming::kClientPublicKeyFileVariable << "=" << shell_quote(keys.client_public)
         << " " << streaming::kClientSecretKeyFileVariable << "=" << shell_quote(keys.client_secret)
         << "\n";
  }
  body << "exec " << quoted_command(member_command(study, surge_exe, kEndpointWord, m, attempt))
       << "\n";
  return script(title, member_job_options(study, m.simulation_id, log_file), study.slurm->setup,
                body.str());
}

std::vector<std::string> server_job_options(const Study& study) {
  const SlurmConfig& slurm = *study.slurm;
  const SlurmServerConfig& server = slurm.server;
  // Mode allocation: the server's job is the allocation, with room for its ranks and
  // max_concurrent members' steps.
  const bool allocation = slurm.mode == "allocation";
  const int tasks =
      server.ranks + (allocation ? study.launcher.max_concurrent * study.cfg.solver.ranks : 0);
  std::string name = slurm_job_name(study, 0);  // surge-<study>-0
  name = name.substr(0, name.rfind('-')) + "-server";
  std::vector<std::string> o = {
      "--job-name=" + name, "--output=" + (study.out_dir / "slurm" / "server_%j.log").string(),
      "--ntasks=" + std::to_string(tasks),
      "--cpus-per-task=" + std::to_string(allocation ? slurm.cpus_per_task : server.cpus_per_task),
      "--chdir=" + fs::current_path().string()};
  add_site_options(o, server.partition, server.account, server.time, server.constraint,
                   server.sbatch_args);
  return o;
}

std::string server_job_script(const Study& study, const std::string& surge_exe,
                              const std::string& experiment_file) {
  const SlurmServerConfig& server = study.slurm->server;
  std::vector<std::string> ranks;
  if (server.ranks > 1) {
    ranks = ranks_command(
        study, server.ranks,
        study.slurm->mode == "allocation" ? study.slurm->cpus_per_task : server.cpus_per_task, 0);
  }
  auto with_ranks = [&](std::vector<std::string> words) {
    words.insert(words.begin(), ranks.begin(), ranks.end());
    return quoted_command(words);
  };
  const std::string out = study.out_dir.string();
  std::ostringstream body;
  body << "# A requeued or resubmitted server continues from its last study checkpoint.\n"
       << "if compgen -G " << shell_quote(out + "/checkpoints/study_") << "'*[0-9]/study.h5'"
       << " >/dev/null; then\n"
       << "  exec " << with_ranks({surge_exe, "resume", out}) << "\n"
       << "fi\n"
       << "exec " << with_ranks({surge_exe, "run", experiment_file, "--overwrite"}) << "\n";
  return script("The server of study '" + study.cfg.study.name + "' (launcher mode " +
                    study.slurm->mode + "): written and submitted by surge submit",
                server_job_options(study), study.slurm->setup, body.str());
}

namespace {

// check_slurm_study and check_slurm_study_if_reachable: "" when Slurm was asked, else why not.
// surge submit looks sbatch up here (load_study left it to where the server runs).
std::string check_study(const Study& study, bool submit, bool unreachable_ok) {
  if (!study.slurm) return "";
  const SlurmConfig& slurm = *study.slurm;
  std::string sbatch = study.slurm_commands.sbatch;
  if (submit) {
    if (unreachable_ok && find_on_path("sbatch").empty()) {
      return "sbatch is not installed here (slurm-client)";
    }
    sbatch = find_slurm_commands(slurm, true).sbatch;
    const std::string why = check_job(
        sbatch, server_job_options(study), "launcher.parameters.server.",
        "launcher.parameters.server.ranks",
        slurm.mode == "allocation" ? "the allocation's job" : "the server's job", unreachable_ok);
    if (!why.empty()) return why;  // the member job would not be asked either
  }
  if (slurm.mode == "jobs") {
    return check_job(sbatch, member_job_options(study, 0, "/dev/null"), "launcher.parameters.",
                     "solver.ranks", "a member job", unreachable_ok);
  }
  SURGE_REQUIRE(submit || std::getenv("SLURM_JOB_ID"), ConfigError,
                "launcher.parameters.mode: allocation starts members as job steps of the "
                "allocation surge run runs in, but SLURM_JOB_ID is not set; run it inside "
                "sbatch or salloc (surge submit writes such a job), or use mode jobs");
  return "";
}

}  // namespace

void check_slurm_study(const Study& study, bool submit) { (void)check_study(study, submit, false); }

std::string check_slurm_study_if_reachable(const Study& study) {
  const std::string why = check_study(study, true, true);
  if (why.empty()) return "";
  const bool jobs = study.slurm->mode == "jobs";
  return std::string("not checked: whether Slurm takes ") +
         (jobs ? "the server's job and the member jobs" : "the allocation's job") +
         " (sbatch --test-only: " +
         (why.rfind("sbatch is not installed", 0) == 0 ? why
                                                       : "no Slurm controller answers: " + why) +
         ")";
}

}  // namespace surge::experiments
