#include "surge/experiments/slurm_launcher.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "surge/core/atomic_file.hpp"
#include "surge/core/error.hpp"

namespace surge::experiments {

namespace {

using Clock = std::chrono::steady_clock;

// sbatch refusals in a row after which the launcher gives up (the k-th waits k poll
// intervals: 45 in all).
constexpr int kMaxRefusals = 10;

// Queue states in which the job's processes run (squeue %T).
bool is_running(const std::string& state) { return state == "RUNNING" || state == "COMPLETING"; }

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

// A job id as sbatch --parsable prints it (digits; an array or het job's with '_').
bool is_job_id(const std::string& id) {
  return !id.empty() && id.size() < 32 && id.find_first_not_of("0123456789_") == std::string::npos;
}

std::string joined(const std::vector<std::string>& items, char separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(1, separator)) + item;
  return out;
}

}  // namespace

SlurmCommands find_slurm_commands(const SlurmConfig& slurm, bool submit) {
  SlurmCommands c;
  auto need = [](const char* program) {
    std::string path = find_on_path(program);
    SURGE_REQUIRE(!path.empty(), ConfigError,
                  "launcher.type slurm: '" << program
                                           << "' is not on PATH (install slurm-client, or load "
                                           << "the site's Slurm module)");
    return path;
  };
  if (slurm.mode == "jobs") {
    c.sbatch = need("sbatch");
    c.squeue = need("squeue");
    c.scontrol = need("scontrol");
    c.scancel = need("scancel");
  } else {
    c.srun = need("srun");
  }
  if (submit && c.sbatch.empty()) c.sbatch = need("sbatch");
  if (slurm.mpi_launcher == "srun" && c.srun.empty()) c.srun = find_on_path("srun");
  return c;
}

ProgramResult run_program(const std::vector<std::string>& args, std::chrono::seconds timeout) {
  ProgramResult result;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    result.output = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::vector<std::string> env = launch_environment();
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    result.output = std::string("cannot start ") + args[0] + ": " + std::strerror(rc);
    return result;
  }
  const auto deadline = Clock::now() + timeout;
  bool timed_out = false;
  char buffer[4096];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fd{out[0], POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(std::min<long long>(left.count(), 1000))) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fd.revents == 0) continue;
    const ssize_t n = read(out[0], buffer, sizeof buffer);
    if (n > 0) {
      result.output.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(out[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    result.output +=
        "\n" + args[0] + " did not answer in " + std::to_string(timeout.count()) + " s";
  } else if (WIFEXITED(status)) {
    result.code = WEXITSTATUS(status);
  }
  return result;
}

std::optional<JobEnd> parse_job_end(const std::string& text) {
  std::map<std::string, std::string> fields;
  std::istringstream in(first_line(text));
  for (std::string token; in >> token;) {
    const auto eq = token.find('=');
    if (eq != std::string::npos) fields.emplace(token.substr(0, eq), token.substr(eq + 1));
  }
  if (!fields.count("JobState")) return std::nullopt;
  return JobEnd{fields["JobState"], fields["ExitCode"], fields["Reason"]};
}

bool JobEnd::final() const {
  static const char* const kFinal[] = {"COMPLETED",     "FAILED",       "TIMEOUT",   "CANCELLED",
                                       "PREEMPTED",     "NODE_FAIL",    "BOOT_FAIL", "DEADLINE",
                                       "OUT_OF_MEMORY", "SPECIAL_EXIT", "REVOKED"};
  return std::any_of(std::begin(kFinal), std::end(kFinal),
                     [this](const char* f) { return state == f; });
}

SlurmJobLauncher::SlurmJobLauncher(const LauncherConfig& config, const SlurmConfig& slurm,
                                   SlurmCommands commands, std::vector<MemberRecord> members,
                                   ScriptFor script, SilenceOf silence, Redraw redraw,
                                   std::string log_dir, std::string script_dir,
                                   LocalLauncher::DeliveryOf delivery)
    : config_(config),
      delivery_(std::move(delivery)),
      slurm_(slurm),
      commands_(std::move(commands)),
      script_(std::move(script)),
      silence_(std::move(silence)),
      policy_(config, std::move(redraw), log_dir),
      log_dir_(std::move(log_dir)),
      script_dir_(std::move(script_dir)),
      members_(std::move(members)) {
  std::filesystem::create_directories(log_dir_);
  std::filesystem::create_directories(script_dir_);
}

SlurmJobLauncher::~SlurmJobLauncher() { stop(); }

void SlurmJobLauncher::start() {
  cancel_earlier_jobs();
  thread_ = std::thread([this] { run(); });
}

std::string SlurmJobLauncher::journal_file() const { return script_dir_ + "/member_jobs"; }

void SlurmJobLauncher::cancel_earlier_jobs() {
  const std::string file = journal_file();
  std::ifstream in(file);
  if (!in) return;
  std::vector<std::string> journaled;
  for (std::string line; std::getline(in, line);) {
    const std::string id = line.substr(0, line.find(' '));
    if (is_job_id(id)) journaled.push_back(id);
  }
  in.close();
  std::vector<std::string> alive;
  if (!journaled.empty()) {
    // squeue lists the jobs it still knows (queued, running, completing) and skips the others.
    const ProgramResult r =
        run_program({commands_.squeue, "-h", "-o", "%i", "-j", joined(journaled, ',')});
    std::istringstream out(r.output);
    for (std::string id; std::getline(out, id);) {
      if (std::find(journaled.begin(), journaled.end(), id) != journaled.end()) alive.push_back(id);
    }
  }
  if (!alive.empty()) {
    log_.info("cancelling the " + std::to_string(alive.size()) +
              " member job(s) an earlier server of this study left queued or running: " +
              joined(alive, ' '));
    cancel(alive);
  }
  std::ofstream(file, std::ios::trunc);  // those jobs are gone: a next resume starts afresh
}

void SlurmJobLauncher::journal(const std::string& id, const MemberRecord& m) {
  const std::string file = journal_file();
  const std::string line =
      id + " " + std::to_string(m.simulation_id) + " " + std::to_string(m.attempts) + "\n";
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int error = fd < 0 ? errno : core::write_all(fd, line.data(), line.size());
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  if (fd >= 0 && ::close(fd) != 0 && error == 0) error = errno;
  if (error != 0) {
    SURGE_LOG(log_, warn,
              "cannot journal job " << id << " in " << file << ": " << std::strerror(error)
                                    << " (a resumed server would not cancel it)");
  }
}

void SlurmJobLauncher::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string SlurmJobLauncher::gave_up() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return gave_up_;
}

std::vector<MemberRecord> SlurmJobLauncher::members() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return members_;
}

SlurmJobLauncher::Counts SlurmJobLauncher::counts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return count_members(members_);
}

bool SlurmJobLauncher::role_finished(MemberRole role) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return experiments::role_finished(members_, role);
}

std::vector<std::string> SlurmJobLauncher::outstanding_jobs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> ids;
  for (const auto& j : jobs_) ids.push_back(j.id);
  return ids;
}

void SlurmJobLauncher::attempt_failed(std::size_t index, const std::string& why) {
  // Called with mutex_ held.
  policy_.attempt_failed(members_, index, why);
  if (gave_up_.empty()) gave_up_ = policy_.gave_up();
}

void SlurmJobLauncher::cancel(const std::vector<std::string>& ids) {
  if (ids.empty()) return;
  std::vector<std::string> argv = {commands_.scancel};
  argv.insert(argv.end(), ids.begin(), ids.end());
  const ProgramResult r = run_program(argv, std::chrono::seconds(30));
  // scancel says so for jobs that have just ended; nothing is left to cancel then.
  if (r.code != 0 && r.output.find("already completing or completed") == std::string::npos) {
    SURGE_LOG(log_, warn,
              "scancel " << joined(ids, ' ') << " failed: " << first_line(r.output)
                         << " (cancel them by hand)");
  }
}

bool SlurmJobLauncher::submit_next() {
  if (static_cast<int>(jobs_.size()) >= config_.max_concurrent || !gave_up_.empty() ||
      Clock::now() < retry_after_) {
    return false;
  }
  std::optional<std::size_t> next;
  {
    std::lock_guard<std::mutex> lock(mutex_);  // a drawn member is appended
    next = next_pending(members_);
  }
  if (!next) return false;
  const std::size_t index = *next;
  MemberRecord m = members_[index];
  ++m.attempts;
  const std::string name =
      "member_" + std::to_string(m.simulation_id) + "_attempt" + std::to_string(m.attempts);
  const std::string script_file = script_dir_ + "/" + name + ".sbatch";
  {
    // 0600: the script exports the member's ticket (SURGE_MEMBER_TICKET). Created so before
    // any byte is written, and a leftover file of another mode is narrowed first.
    const int fd = ::open(script_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    SURGE_REQUIRE(fd >= 0 && ::fchmod(fd, 0600) == 0, IoError,
                  "cannot write " << script_file << ": " << std::strerror(errno));
    const std::string text = script_(m, m.attempts, policy_.log_file(m));
    const bool written = core::write_all(fd, text.data(), text.size()) == 0;
    const bool closed = ::close(fd) == 0;
    SURGE_REQUIRE(written && closed, IoError, "cannot write " << script_file);
  }
  const ProgramResult r = run_program({commands_.sbatch, "--parsable", script_file});
  const std::string id = first_line(r.output).substr(0, first_line(r.output).find(';'));
  std::lock_guard<std::mutex> lock(mutex_);
  if (r.code != 0 || !is_job_id(id)) {
    // Not the member's fault (a busy controller, a submission limit): it stays pending and
    // its attempt does not count; the next try waits longer each time, and a Slurm that
    // keeps refusing ends the study.
    const std::string why = first_line(r.output.empty() ? "no output" : r.output);
    SURGE_LOG(log_, warn, "sbatch " << script_file << " failed: " << why);
    ++refusals_;
    retry_after_ =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(refusals_ * slurm_.poll_interval_s));
    if (refusals_ >= kMaxRefusals) {
      gave_up_ = "sbatch refused " + std::to_string(refusals_) + " member jobs in a row: " + why;
      log_.error("giving up: " + gave_up_);
    }
    return false;
  }
  refusals_ = 0;
  journal(id, m);
  members_[index].attempts = m.attempts;
  members_[index].status = MemberStatus::running;
  jobs_.push_back({index, id, std::nullopt, std::nullopt});
  SURGE_LOG(log_, debug,
            "submitted simulation " << m.simulation_id << " (" << to_string(m.role) << ", attempt "
                                    << m.attempts << ") as job " << id);
  return true;
}

void SlurmJobLauncher::poll() {
  if (jobs_.empty()) return;
  std::vector<std::string> ids;
  for (const auto& j : jobs_) ids.push_back(j.id);
  const ProgramResult r =
      run_program({commands_.squeue, "-h", "-o", "%i|%T", "-j", joined(ids, ',')});
  // squeue fails on a single job id it no longer knows: that job has left the queue.
  if (r.code != 0 && r.output.find("Invalid job id") == std::string::npos) {
    SURGE_LOG(log_, warn, "squeue failed (will retry): " << first_line(r.output));
    return;
  }
  std::map<std::string, std::string> state;
  std::istringstream lines(r.code == 0 ? r.output : std::string());
  for (std::string line; std::getline(lines, line);) {
    const auto bar = line.find('|');
    if (bar != std::string::npos) state[line.substr(0, bar)] = first_line(line.substr(bar + 1));
  }
  // How the jobs that left the queue ended, asked without the lock.
  std::map<std::string, std::optional<JobEnd>> ended;
  for (const auto& id : ids) {
    if (state.count(id)) continue;
    ended[id] = parse_job_end(run_program({commands_.scontrol, "show", "job", "-o", id}).output);
    // Between the two commands, or in a state squeue does not list (REQUEUED, ...): not over.
    if (ended[id] && !ended[id]->final()) state[id] = ended[id]->state;
  }
  const auto now = Clock::now();
  std::vector<std::string> silent;
  std::lock_guard<std::mutex> lock(mutex_);
  for (std::size_t k = 0; k < jobs_.size();) {
    Job& job = jobs_[k];
    MemberRecord& m = members_[job.index];
    if (auto it = state.find(job.id); it != state.end()) {
      if (is_running(it->second) && !job.running_since) job.running_since = now;
      if (job.running_since) {
        const double since = std::chrono::duration<double>(now - *job.running_since).count();
        if (const auto quiet = policy_.too_quiet(since, silence_(m.simulation_id))) {
          silent.push_back(job.id);
          attempt_failed(job.index, "was silent for " + std::to_string(static_cast<int>(*quiet)) +
                                        " s (Slurm job " + job.id + ")");
          jobs_.erase(jobs_.begin() + static_cast<std::ptrdiff_t>(k));
          continue;
        }
      }
      ++k;
      continue;
    }
    const std::optional<JobEnd>& end = ended[job.id];
    if (end && end->succeeded()) {
      // Slurm's COMPLETED is the batch script's exit code: a step that failed to launch can
      // still end with 0. The member is done once its stream has arrived (as locally).
      const LocalLauncher::Delivery d =
          delivery_ ? delivery_(m.simulation_id) : LocalLauncher::Delivery{};
      if (!job.completed_at) job.completed_at = now;
      const double waited = std::chrono::duration<double>(now - *job.completed_at).count();
      switch (judge_ending(d.missing, d.final, waited, config_.silence_timeout_s)) {
        case EndingVerdict::done:
          m.status = MemberStatus::done;
          SURGE_LOG(log_, debug,
                    "simulation " << m.simulation_id << " done (job " << job.id << ")");
          break;
        case EndingVerdict::failed:
          attempt_failed(job.index, "completed but " + d.missing + " (Slurm job " + job.id + ")");
          break;
        case EndingVerdict::wait:
          ++k;
          continue;
      }
    } else if (end) {
      std::string why = "ended " + end->state + ", exit code " + end->exit_code;
      if (!end->reason.empty() && end->reason != "None") why += ", reason " + end->reason;
      attempt_failed(job.index, why + " (Slurm job " + job.id + ")");
    } else {
      attempt_failed(
          job.index,
          "left the queue and Slurm no longer knows how it ended (Slurm job " + job.id + ")");
    }
    jobs_.erase(jobs_.begin() + static_cast<std::ptrdiff_t>(k));
  }
  if (!silent.empty()) {
    // Under the lock: rare, and the study must not see the member pending while its job runs.
    cancel(silent);
  }
}

void SlurmJobLauncher::run() {
  // Never lets an exception out (std::terminate would leave every job queued): the study sees
  // a launcher that gave up, with the reason.
  try {
    loop();
  } catch (const std::exception& e) {
    std::vector<std::string> ids;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      gave_up_ = std::string("the launcher thread failed: ") + e.what();
      for (const auto& j : jobs_) ids.push_back(j.id);
      jobs_.clear();
    }
    cancel(ids);
    finished_ = true;
  }
}

void SlurmJobLauncher::loop() {
  const auto interval = std::chrono::duration<double>(slurm_.poll_interval_s);
  while (!stop_) {
    if (Clock::now() - last_poll_ >= interval) {
      last_poll_ = Clock::now();
      poll();
    }
    while (!stop_ && submit_next()) {
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!gave_up_.empty()) break;
      bool all_finished = !open_ended() && jobs_.empty();
      for (const auto& m : members_)
        all_finished = all_finished && m.status != MemberStatus::pending;
      if (all_finished) {
        finished_ = true;
        return;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Stopped from outside, or gave up: cancel every job still queued or running.
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& j : jobs_) {
      ids.push_back(j.id);
      members_[j.index].status = MemberStatus::stopped;
      members_[j.index].last_error = "stopped";
    }
    jobs_.clear();
  }
  if (!ids.empty()) SURGE_LOG(log_, info, "cancelling jobs " << joined(ids, ' '));
  cancel(ids);
  finished_ = true;
}

}  // namespace surge::experiments
