// Persistent workers of the local launcher (launcher.parameters.simulations_per_member > 1,
// Melissa's persistent clients): a worker is one member process (`mpirun -np k surge-solve
// <solver> ... --worker`) that runs simulations one after the other, each read as one line
// from its stdin, so that MPI and Kokkos start once per worker instead of once per
// simulation. Fault tolerance stays per simulation: a worker gets its next simulation only
// once the server confirms the previous one delivered (every frame and its end of stream), so
// at most one simulation is in flight per worker and a worker that dies or falls silent fails
// exactly that one attempt, which is retried in a fresh worker under the same id (what it
// already delivered is dropped as duplicates).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "launch/launcher_detail.hpp"
#include "surge/core/atomic_file.hpp"
#include "surge/core/error.hpp"
#include "surge/experiments/launcher.hpp"

namespace surge::experiments {

using namespace launcher_detail;

namespace {

// Appends `token` to a simulation's line: tokens are separated by tabs and the line ends with
// a newline, so neither may occur inside one.
void append_token(std::string& line, const std::string& token) {
  SURGE_REQUIRE(token.find_first_of("\t\n") == std::string::npos, ConfigError,
                "a simulation's argument holds a tab or a newline: '" << token << "'");
  if (!line.empty()) line += '\t';
  line += token;
}

}  // namespace

void LocalLauncher::start_worker() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    SURGE_THROW(IoError, "cannot create a worker's stdin pipe: " << std::strerror(errno));
  }
  const int number = workers_started_++;
  const std::string log_file = log_dir_ + "/worker_" + std::to_string(number) + ".log";
  const std::vector<std::string> args = hooks_.worker_command();
  // Variables of one simulation travel on its line: the worker's own environment is the user's.
  int error = 0;
  const pid_t pid = spawn_member(args, launch_environment(), fds[0], log_file, error);
  close(fds[0]);
  if (pid < 0) {
    close(fds[1]);
    SURGE_THROW(IoError, "cannot start a worker (" << args.at(0) << "): " << std::strerror(error));
  }
  Worker w;
  w.number = number;
  w.pid = pid;
  w.input = fds[1];
  w.log_file = log_file;
  workers_.push_back(std::move(w));
  SURGE_LOG(log_, debug, "started worker " << number << " (pid " << pid << ")");
}

void LocalLauncher::hand(Worker& w, std::size_t index) {
  MemberRecord& m = members_[index];
  ++m.attempts;
  std::string line;
  for (const auto& a : hooks_.simulation_arguments(m, m.attempts)) append_token(line, a);
  std::vector<std::string> env = {"SURGE_SIMULATION_ID=" + std::to_string(m.simulation_id)};
  if (hooks_.environment) {
    for (auto& e : hooks_.environment(m, m.attempts)) env.push_back(std::move(e));
  }
  for (const auto& e : env) {
    append_token(line, "--env");
    append_token(line, e);
  }
  // The attempt's log is the worker's: logs/ keeps one entry per attempt.
  std::error_code ec;
  const std::filesystem::path link = attempt_log(log_dir_, m);
  std::filesystem::remove(link, ec);
  std::filesystem::create_symlink(std::filesystem::path(w.log_file).filename(), link, ec);
  m.status = MemberStatus::running;
  w.index = index;
  w.since = std::chrono::steady_clock::now();
  ++w.handed;
  // A worker that died meanwhile fails this attempt when it is reaped.
  const std::string text = line + "\n";
  (void)core::write_all(w.input, text.data(), text.size());
  SURGE_LOG(log_, debug,
            "handed simulation " << m.simulation_id << " (" << to_string(m.role) << ", attempt "
                                 << m.attempts << ") to worker " << w.number);
}

void LocalLauncher::close_input(Worker& w) {
  if (w.input >= 0) close(w.input);
  w.input = -1;
}

void LocalLauncher::serve_workers() {
  using namespace std::chrono;
  for (std::size_t k = 0; k < workers_.size();) {
    Worker& w = workers_[k];
    int status = 0;
    const pid_t r = waitpid(w.pid, &status, WNOHANG);
    if (r != 0) {
      // The worker is gone: its simulation in flight (if any) is done only if delivered.
      close_input(w);
      kill(-w.pid, SIGKILL);  // leftover ranks
      const bool clean = r == w.pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (w.index) {
        MemberRecord& m = members_[*w.index];
        const Delivery d = hooks_.delivery(m.simulation_id);
        if (d.missing.empty()) {
          m.status = MemberStatus::done;
        } else {
          std::string why = "worker " + std::to_string(w.number) + " " +
                            exit_description(r, w.pid, status) +
                            (clean ? " before its simulation ended: " + d.missing : "");
          const std::string reason = last_error_line(w.log_file);
          if (!reason.empty()) why += ": " + reason;
          attempt_failed(*w.index, why);
        }
      } else if (!clean) {
        SURGE_LOG(log_, warn,
                  "worker " << w.number << " " << exit_description(r, w.pid, status)
                            << " between two simulations (see " << w.log_file << ")");
      }
      workers_.erase(workers_.begin() + static_cast<std::ptrdiff_t>(k));
      continue;
    }
    if (w.index) {
      MemberRecord& m = members_[*w.index];
      if (hooks_.delivery(m.simulation_id).missing.empty()) {
        m.status = MemberStatus::done;
        SURGE_LOG(log_, debug, "simulation " << m.simulation_id << " done");
        w.index.reset();
      } else {
        // Quiet at most since it was handed: the server's record is only read past the
        // timeout (this runs every few milliseconds while a worker waits).
        const double since = duration<double>(steady_clock::now() - w.since).count();
        const double silence = since > config_.silence_timeout_s ? silence_(m.simulation_id) : 0;
        const double quiet = silence < 0 ? since : std::min(silence, since);
        if (quiet > config_.silence_timeout_s) {
          // Its worker goes with it: a worker runs one simulation at a time.
          close_input(w);
          terminate_member(w.pid);
          const std::string seconds = std::to_string(static_cast<int>(quiet)) + " s";
          attempt_failed(*w.index, (silence < 0 ? "never connected to the server in " + seconds
                                                : "was silent for " + seconds) +
                                       " (worker " + std::to_string(w.number) + ")");
          workers_.erase(workers_.begin() + static_cast<std::ptrdiff_t>(k));
          continue;
        }
      }
    }
    if (!w.index && w.input >= 0 && gave_up_.empty()) {
      const auto next =
          w.handed < config_.simulations_per_member ? next_pending(members_) : std::nullopt;
      if (next) {
        hand(w, *next);
      } else {
        close_input(w);  // end of file: the worker exits once its ranks have finalized
      }
    }
    ++k;
  }
  // Fresh workers for what is left, within the concurrency limit.
  while (gave_up_.empty() && static_cast<int>(workers_.size()) < config_.max_concurrent) {
    const auto next = next_pending(members_);
    if (!next) break;
    start_worker();
    hand(workers_.back(), *next);
  }
}

void LocalLauncher::end_workers() {
  std::vector<pid_t> pids;
  for (auto& w : workers_) {
    close_input(w);
    pids.push_back(w.pid);
    if (!w.index) continue;
    MemberRecord& m = members_[*w.index];
    const bool delivered = hooks_.delivery(m.simulation_id).missing.empty();
    m.status = delivered ? MemberStatus::done : MemberStatus::stopped;
    if (!delivered) m.last_error = "stopped";
  }
  terminate_members(pids, std::chrono::milliseconds(300));
  workers_.clear();
}

}  // namespace surge::experiments
