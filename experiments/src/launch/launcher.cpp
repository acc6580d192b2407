#include "surge/experiments/launcher.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "launch/cpu_sets.hpp"
#include "launch/launcher_detail.hpp"
#include "surge/core/error.hpp"

namespace surge::experiments {

namespace launcher_detail {
// SIGTERM reaches the group (mpirun forwards it to the ranks it started, which Open MPI puts
// in process groups of their own); the ranks also die with their parent (surge solve --stream
// sets PR_SET_PDEATHSIG), so none outlives the launcher's kill.
void terminate_members(const std::vector<pid_t>& pids, std::chrono::milliseconds grace) {
  for (pid_t pid : pids) kill(-pid, SIGTERM);
  std::vector<pid_t> left = pids;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (!left.empty() && std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    for (std::size_t k = 0; k < left.size();) {
      if (waitpid(left[k], &status, WNOHANG) == left[k]) {
        kill(-left[k], SIGKILL);  // stragglers left in the group
        left.erase(left.begin() + static_cast<std::ptrdiff_t>(k));
      } else {
        ++k;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (pid_t pid : left) {
    int status = 0;
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
}

void terminate_member(pid_t pid) { terminate_members({pid}, std::chrono::seconds(2)); }

pid_t spawn_member(const std::vector<std::string>& args, const std::vector<std::string>& env,
                   int stdin_fd, const std::string& log_file, int& error) {
  // argv[0] is the program's name, as a shell passes a name it found on PATH, and not the
  // full path surge resolved (spawned below): Open MPI's mpirun takes an absolute argv[0] as
  // --prefix and puts that prefix's bin/ and lib/ before the user's PATH and LD_LIBRARY_PATH
  // on every rank, so a bare `python3` in a member's command would be the system's, not the
  // user's (conda, venv) that surge run's PATH and the configuration check found.
  const std::string name = std::filesystem::path(args.at(0)).filename().string();
  std::vector<char*> argv, envp;
  argv.push_back(const_cast<char*>(name.c_str()));
  for (std::size_t k = 1; k < args.size(); ++k) argv.push_back(const_cast<char*>(args[k].c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdin_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group: killing the group reaches mpirun and every rank it started.
  short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK;
  posix_spawnattr_setflags(&attr, flags);
  posix_spawnattr_setpgroup(&attr, 0);
  // The launcher thread blocks SIGPIPE (a write to a dead worker's stdin); children must not
  // inherit that.
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  pid_t pid = -1;
  error = posix_spawn(&pid, args[0].c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return error == 0 ? pid : -1;
}

// The last line of a member's log that reports an error ("...error: ...", as surge solve, C
// programs and Python exceptions print one, or Fortran's "ERROR STOP ..."), trimmed; "" if
// none. mpirun's own notices about a failed rank have no such line.
std::string last_error_line(const std::string& log_file) {
  std::ifstream in(log_file, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff tail = std::min<std::streamoff>(size, 65536);
  in.seekg(size - tail);
  std::string text(static_cast<std::size_t>(tail), '\0');
  in.read(text.data(), tail);
  std::string found;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    std::string lower = line;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower.find("error:") != std::string::npos || lower.find("error stop") != std::string::npos)
      found = line;
    start = end + 1;
  }
  const auto first = found.find_first_not_of(" \t\r");
  const auto last = found.find_last_not_of(" \t\r");
  found = first == std::string::npos ? std::string() : found.substr(first, last - first + 1);
  return found.size() > 300 ? found.substr(0, 297) + "..." : found;
}

// The log file of a member's current attempt.
std::string attempt_log(const std::string& dir, const MemberRecord& m) {
  return dir + "/member_" + std::to_string(m.simulation_id) + "_attempt" +
         std::to_string(m.attempts) + ".log";
}

std::string exit_description(pid_t reaped, pid_t pid, int status) {
  if (reaped == pid && WIFEXITED(status))
    return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (reaped == pid && WIFSIGNALED(status))
    return std::string("was killed by signal ") + std::to_string(WTERMSIG(status));
  return "exited with an error";
}

}  // namespace launcher_detail

using namespace launcher_detail;

LocalLauncher::LocalLauncher(const LauncherConfig& config, std::vector<MemberRecord> members,
                             CommandFor command, SilenceOf silence, Redraw redraw,
                             std::string log_dir, Hooks hooks)
    : config_(config),
      command_(std::move(command)),
      silence_(std::move(silence)),
      policy_(config, std::move(redraw), log_dir),
      log_dir_(std::move(log_dir)),
      hooks_(std::move(hooks)),
      members_(std::move(members)) {
  std::filesystem::create_directories(log_dir_);
  SURGE_REQUIRE(config_.simulations_per_member <= 1 ||
                    (hooks_.delivery && hooks_.worker_command && hooks_.simulation_arguments),
                ConfigError,
                "launcher.parameters.simulations_per_member > 1 needs persistent workers, which "
                "this kind of member does not support");
}

LocalLauncher::~LocalLauncher() { stop(); }

void LocalLauncher::start() {
  thread_ = std::thread([this] { run(); });
}

void LocalLauncher::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Launcher::wait() const {
  while (!finished()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

std::optional<std::size_t> Launcher::next_pending(std::vector<MemberRecord>& members) const {
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (members[i].status == MemberStatus::pending) return i;
  }
  if (!open_ended()) return std::nullopt;
  // (No member is pending here.)
  const bool idle = std::none_of(members.begin(), members.end(), [](const MemberRecord& m) {
    return m.status == MemberStatus::running;
  });
  std::optional<MemberRecord> drawn = more_(idle);
  if (!drawn) return std::nullopt;
  members.push_back(std::move(*drawn));
  return members.size() - 1;
}

std::vector<MemberRecord> LocalLauncher::members() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return members_;
}

LocalLauncher::Counts LocalLauncher::counts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return count_members(members_);
}

bool LocalLauncher::role_finished(MemberRole role) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return experiments::role_finished(members_, role);
}

void LocalLauncher::launch(std::size_t index) {
  MemberRecord& m = members_[index];
  ++m.attempts;
  const std::vector<std::string> args = command_(m, m.attempts);
  const std::vector<std::string> env = launch_environment(
      hooks_.environment ? hooks_.environment(m, m.attempts) : std::vector<std::string>());
  int error = 0;
  const pid_t pid = spawn_member(args, env, -1, attempt_log(log_dir_, m), error);
  if (pid < 0) {
    attempt_failed(index, "cannot start " + args.at(0) + ": " + std::strerror(error));
    return;
  }
  m.status = MemberStatus::running;
  running_.push_back({index, pid, std::chrono::steady_clock::now()});
  SURGE_LOG(log_, debug,
            "started simulation " << m.simulation_id << " (" << to_string(m.role) << ", attempt "
                                  << m.attempts << ", pid " << pid << ")");
}

int LocalLauncher::workers_started() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return workers_started_;
}

std::string LocalLauncher::gave_up() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return gave_up_;
}

void LocalLauncher::attempt_failed(std::size_t index, const std::string& why) {
  policy_.attempt_failed(members_, index, why);
  if (gave_up_.empty()) gave_up_ = policy_.gave_up();
}

void LocalLauncher::run() {
  // A write to the stdin of a worker that just died must fail with EPIPE, not kill the server.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  // The members' cores (launcher.parameters.member_cores): every process spawned from this
  // thread inherits them, mpirun and its ranks (--bind-to none) too.
  if (!hooks_.cpus.empty() && !set_thread_cpus(hooks_.cpus)) {
    log_.warn("could not confine the members to cores " + cpu_list_text(hooks_.cpus) +
              ": they share every core with the server");
  }
  // Never lets an exception out (std::terminate would leave every member running): the study
  // sees a launcher that gave up, with the reason.
  try {
    loop();
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(mutex_);
    gave_up_ = std::string("the launcher thread failed: ") + e.what();
    std::vector<pid_t> pids;
    for (const auto& r : running_) pids.push_back(r.pid);
    terminate_members(pids, std::chrono::milliseconds(300));
    end_workers();
    running_.clear();
    ending_.clear();
    finished_ = true;
  }
}

void LocalLauncher::reap() {
  using namespace std::chrono;
  for (std::size_t k = 0; k < running_.size();) {
    int status = 0;
    const pid_t r = waitpid(running_[k].pid, &status, WNOHANG);
    if (r == 0) {
      // Still running: is it silent?
      const double since_start =
          duration<double>(steady_clock::now() - running_[k].started).count();
      const double silence = silence_(members_[running_[k].index].simulation_id);
      const double quiet = silence < 0 ? since_start : std::min(silence, since_start);
      if (quiet > config_.silence_timeout_s) {
        terminate_member(running_[k].pid);
        const std::string seconds = std::to_string(static_cast<int>(quiet)) + " s";
        attempt_failed(running_[k].index, silence < 0
                                              ? "never connected to the server in " + seconds
                                              : "was silent for " + seconds);
        running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(k));
        continue;
      }
      ++k;
      continue;
    }
    MemberRecord& m = members_[running_[k].index];
    if (r == running_[k].pid && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      if (hooks_.delivery) {
        ending_.push_back({running_[k].index, steady_clock::now()});
      } else {
        m.status = MemberStatus::done;
        SURGE_LOG(log_, debug, "simulation " << m.simulation_id << " done");
      }
    } else {
      std::string why = exit_description(r, running_[k].pid, status);
      const std::string reason = last_error_line(attempt_log(log_dir_, m));
      if (!reason.empty()) why += ": " + reason;
      // Leftover ranks of a member whose launcher died.
      kill(-running_[k].pid, SIGKILL);
      attempt_failed(running_[k].index, why);
    }
    running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(k));
  }
}

EndingVerdict judge_ending(const std::string& missing, bool final, double waited_s,
                           double patience_s) noexcept {
  if (missing.empty()) return EndingVerdict::done;
  return final || waited_s > patience_s ? EndingVerdict::failed : EndingVerdict::wait;
}

void LocalLauncher::confirm_endings() {
  using namespace std::chrono;
  for (std::size_t k = 0; k < ending_.size();) {
    MemberRecord& m = members_[ending_[k].index];
    const Delivery d = hooks_.delivery(m.simulation_id);
    const double waited = duration<double>(steady_clock::now() - ending_[k].exited).count();
    switch (judge_ending(d.missing, d.final, waited, config_.silence_timeout_s)) {
      case EndingVerdict::done:
        m.status = MemberStatus::done;
        SURGE_LOG(log_, debug, "simulation " << m.simulation_id << " done");
        break;
      case EndingVerdict::failed:
        attempt_failed(ending_[k].index, "exited 0 but " + d.missing);
        break;
      case EndingVerdict::wait:
        ++k;
        continue;
    }
    ending_.erase(ending_.begin() + static_cast<std::ptrdiff_t>(k));
  }
}

void LocalLauncher::loop() {
  using namespace std::chrono;
  while (!stop_) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (config_.simulations_per_member > 1) {
        serve_workers();
      } else {
        reap();
        confirm_endings();
        // Start pending members in order (drawing fresh ones if open-ended) while there is
        // room; a launch that fails uses its room until the next pass.
        for (int room = config_.max_concurrent - static_cast<int>(running_.size());
             room > 0 && gave_up_.empty(); --room) {
          const auto next = next_pending(members_);
          if (!next) break;
          launch(*next);
        }
      }
      if (!gave_up_.empty()) break;
      bool all_finished = !open_ended() && running_.empty() && ending_.empty() && workers_.empty();
      for (const auto& m : members_) {
        all_finished = all_finished && m.status != MemberStatus::pending;
      }
      if (all_finished) {
        finished_ = true;
        return;
      }
    }
    // A worker waits for the confirmation of its simulation's delivery before it gets the next
    // one: poll often then, it is idle meanwhile.
    bool waiting = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& w : workers_) waiting = waiting || w.index.has_value();
    }
    std::this_thread::sleep_for(milliseconds(waiting ? 2 : 20));
  }
  // Stopped from outside (training over, Ctrl-C), or gave up: end every member still running.
  // A stopped study is in a hurry (under mpirun, Ctrl-C leaves 2 s before SIGKILL).
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<pid_t> pids;
  for (const auto& r : running_) {
    pids.push_back(r.pid);
    members_[r.index].status = MemberStatus::stopped;
    members_[r.index].last_error = "stopped";
  }
  for (const auto& e : ending_) {
    // Exited 0: done if everything it sent has arrived by now.
    MemberRecord& m = members_[e.index];
    const bool delivered = hooks_.delivery(m.simulation_id).missing.empty();
    m.status = delivered ? MemberStatus::done : MemberStatus::stopped;
    if (!delivered) m.last_error = "stopped";
  }
  terminate_members(pids, std::chrono::milliseconds(300));
  end_workers();
  running_.clear();
  ending_.clear();
  finished_ = true;
}

}  // namespace surge::experiments
