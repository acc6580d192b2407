#pragma once
// Starts ensemble members as child processes (`mpirun -np k surge solve ...`, or the user's
// program), no more than a limit at once, and keeps them honest: a member that exits
// non-zero, dies by a signal, falls silent past a timeout, or exits 0 without everything it
// had to send reaching the server is killed (its whole process group) and relaunched with
// the same simulation id, so steps it already delivered are dropped as duplicates by the
// receiver. After the last retry it is redrawn (new parameters, new id) or marked failed.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "surge/core/log.hpp"
#include "surge/experiments/experiment_config.hpp"

namespace surge::experiments {

enum class MemberRole { validation, train };
enum class MemberStatus { pending, running, done, failed, redrawn };
[[nodiscard]] const char* to_string(MemberRole role);
[[nodiscard]] const char* to_string(MemberStatus status);

struct MemberRecord {
  std::uint64_t simulation_id = 0;
  std::vector<double> parameters;  // in the order of the ensemble's ranges (by name)
  MemberRole role = MemberRole::train;
  MemberStatus status = MemberStatus::pending;
  int attempts = 0;
  std::string last_error;
};

// Saves this process's environment; call first thing in main, before MPI_Init, so members
// start with the user's environment and not the one an MPI runtime adds to its processes.
void capture_launch_environment();
// The saved environment, minus variables an MPI launcher sets for its own processes
// (PMIX_*, OMPI_COMM_WORLD_*, OMPI_MCA_orte_*, ...), which would confuse a child mpirun;
// each "NAME=value" of `extra` replaces the entry of that name.
[[nodiscard]] std::vector<std::string> launch_environment(
    const std::vector<std::string>& extra = {});
// The full path of `program` on PATH, or "" if there is none.
[[nodiscard]] std::string find_on_path(const std::string& program);

class LocalLauncher {
 public:
  // The command line of one attempt of a member.
  using CommandFor = std::function<std::vector<std::string>(const MemberRecord&, int attempt)>;
  // Seconds since the member was last heard of, or a negative value if never.
  using SilenceOf = std::function<double(std::uint64_t simulation_id)>;
  // A fresh record (new id, new parameters) replacing one that failed every attempt.
  using Redraw = std::function<MemberRecord(const MemberRecord& failed)>;
  // Variables ("NAME=value") an attempt gets on top of launch_environment().
  using EnvironmentFor = std::function<std::vector<std::string>(const MemberRecord&, int attempt)>;
  // For a member whose process exited 0: "" once everything it had to send has reached the
  // server, else what is missing so far ("sent no end of stream", "ended its stream after 3
  // of 11 steps"); with `final` true, the answer cannot change any more (it never connected).
  struct Delivery {
    std::string missing;
    bool final = false;
  };
  using DeliveryOf = std::function<Delivery(std::uint64_t simulation_id)>;
  // Optional parts: without `environment` members get launch_environment() only; without
  // `delivery` a member that exits 0 is done.
  struct Hooks {
    EnvironmentFor environment;
    DeliveryOf delivery;
  };

  LocalLauncher(const LauncherConfig& config, std::vector<MemberRecord> members, CommandFor command,
                SilenceOf silence, Redraw redraw, std::string log_dir, Hooks hooks = {});
  ~LocalLauncher();
  LocalLauncher(const LocalLauncher&) = delete;
  LocalLauncher& operator=(const LocalLauncher&) = delete;

  // Starts the launcher thread. Members start in list order.
  void start();
  // Kills every running member and stops the thread (idempotent).
  void stop();
  // True once every member is done or failed, or the launcher gave up or was stopped.
  [[nodiscard]] bool finished() const noexcept { return finished_; }
  // Why the launcher gave up (too many members failed every attempt), or "" if it did not.
  [[nodiscard]] std::string gave_up() const;
  // Blocks until finished().
  void wait();
  // A snapshot of every member record (redrawn ones included).
  [[nodiscard]] std::vector<MemberRecord> members() const;
  // Counts by status.
  struct Counts {
    int pending = 0, running = 0, done = 0, failed = 0, redrawn = 0;
  };
  [[nodiscard]] Counts counts() const;
  // Whether every member of `role` has finished (done or failed).
  [[nodiscard]] bool role_finished(MemberRole role) const;

 private:
  struct Running {
    std::size_t index;
    pid_t pid;
    std::chrono::steady_clock::time_point started;
  };
  // A member whose process exited 0, until what it sent has arrived (DeliveryOf).
  struct Ending {
    std::size_t index;
    std::chrono::steady_clock::time_point exited;
  };
  void run();
  void loop();
  void reap();
  void confirm_endings();
  void launch(std::size_t index);
  // Handles an attempt that ended badly: retry, redraw or fail.
  void attempt_failed(std::size_t index, const std::string& why);

  LauncherConfig config_;
  CommandFor command_;
  SilenceOf silence_;
  Redraw redraw_;
  std::string log_dir_;
  Hooks hooks_;
  core::Logger log_{"launcher"};

  mutable std::mutex mutex_;
  std::vector<MemberRecord> members_;
  std::vector<Running> running_;
  std::vector<Ending> ending_;
  int failed_members_ = 0;
  std::string gave_up_;
  std::atomic<bool> stop_{false}, finished_{false};
  std::thread thread_;
};

}  // namespace surge::experiments
