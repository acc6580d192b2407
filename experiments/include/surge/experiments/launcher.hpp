#pragma once
// Starts ensemble members as child processes (`mpirun -np k surge-solve ...`, or the user's
// program), no more than a limit at once, and keeps them honest: a member that exits
// non-zero, dies by a signal, falls silent past a timeout, or exits 0 without everything it
// had to send reaching the server is killed (its whole process group) and relaunched with
// the same simulation id, so steps it already delivered are dropped as duplicates by the
// receiver. After the last retry it is redrawn (new parameters, new id) or marked failed.
// With launcher.parameters.simulations_per_member > 1 a member process is a persistent worker
// running several simulations in turn, the same rules applying to each (Hooks below).

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "surge/core/log.hpp"
#include "surge/experiments/experiment_config.hpp"
#include "surge/experiments/fault_policy.hpp"

namespace surge::experiments {

// What the study sees of a launcher, whatever starts the members (LocalLauncher here,
// SlurmJobLauncher in slurm_launcher.hpp). A launcher runs a thread of its own; every method
// is safe to call from other threads.
class Launcher {
 public:
  // Seconds since the member was last heard of, or a negative value if never.
  using SilenceOf = std::function<double(std::uint64_t simulation_id)>;
  using Redraw = FaultPolicy::Redraw;
  using Counts = MemberCounts;

  virtual ~Launcher() = default;
  // Starts the launcher thread. Members start in list order.
  virtual void start() = 0;
  // Ends every member still running or queued and stops the thread (idempotent).
  virtual void stop() = 0;
  // True once every member is done or failed, or the launcher gave up or was stopped.
  [[nodiscard]] virtual bool finished() const noexcept = 0;
  // Why the launcher gave up (too many members failed every attempt), or "" if it did not.
  [[nodiscard]] virtual std::string gave_up() const = 0;
  // Blocks until finished().
  void wait() const;
  // A snapshot of every member record (redrawn ones included).
  [[nodiscard]] virtual std::vector<MemberRecord> members() const = 0;
  // Counts by status.
  [[nodiscard]] virtual Counts counts() const = 0;
  // Whether every member of `role` has finished (done or failed).
  [[nodiscard]] virtual bool role_finished(MemberRole role) const = 0;

  // A fresh member (its id, role and parameters drawn), or none for now; called under the
  // launcher's lock, `idle` when no member is pending or running.
  using More = std::function<std::optional<MemberRecord>(bool idle)>;
  // Whether `more` will never draw again.
  using Closed = std::function<bool()>;
  // Makes the member list grow as the study goes (parameters.continuous, or an adaptive
  // sampler): whenever there is room and no member is pending, `more` draws the next one,
  // appended to the list. The launcher finishes only once `closed` says there are no more
  // (without `closed`, never: then when stopped or when it gives up). Call before start().
  void keep_drawing(More more, Closed closed = {}) {
    more_ = std::move(more);
    closed_ = std::move(closed);
  }

 protected:
  // The index of the first pending member of `members`, else of one drawn from keep_drawing's
  // `more` (appended), else none. Called by the launcher thread under its lock.
  [[nodiscard]] std::optional<std::size_t> next_pending(std::vector<MemberRecord>& members) const;
  // Whether keep_drawing() made the list open-ended and `more` may still draw.
  [[nodiscard]] bool open_ended() const { return more_ && !(closed_ && closed_()); }

 private:
  More more_;
  Closed closed_;
};

// Saves this process's environment; call first thing in main, before MPI_Init, so members
// start with the user's environment and not the one an MPI runtime adds to its processes.
void capture_launch_environment();
// The saved environment, minus variables an MPI launcher sets for its own processes
// (PMIX_*, OMPI_COMM_WORLD_*, OMPI_MCA_orte_*, ...), which would confuse a child mpirun;
// each "NAME=value" of `extra` replaces the entry of that name.
[[nodiscard]] std::vector<std::string> launch_environment(
    const std::vector<std::string>& extra = {});
// `extra` and the Open MPI variables a member started on this node should get on top of
// launch_environment(extra) (core::mpi_start_environment: OMPI_MCA_pml=ob1 on a node without a
// fabric device, unless the user chose a PML or an MTL), for members that call MPI_Init
// themselves (external solvers). Not for job steps on other nodes, which decide on their own.
[[nodiscard]] std::vector<std::string> with_local_mpi_environment(std::vector<std::string> extra);
// The full path of `program` on PATH, or "" if there is none.
[[nodiscard]] std::string find_on_path(const std::string& program);

// What becomes of a member whose process (or Slurm job) exited 0, `waited_s` ago: done once
// its delivery says nothing is missing; failed once the answer is final or after `patience_s`
// (launcher.parameters.silence_timeout_s); else the launcher waits for its stream.
enum class EndingVerdict { done, failed, wait };
[[nodiscard]] EndingVerdict judge_ending(const std::string& missing, bool final, double waited_s,
                                         double patience_s) noexcept;

class LocalLauncher final : public Launcher {
 public:
  // The command line of one attempt of a member.
  using CommandFor = std::function<std::vector<std::string>(const MemberRecord&, int attempt)>;
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
  // The arguments of one simulation handed to a persistent worker (key=value, --fail-at-output).
  using ArgumentsFor = std::function<std::vector<std::string>(const MemberRecord&, int attempt)>;
  // Optional parts: without `environment` members get launch_environment() only; without
  // `delivery` a member that exits 0 is done.
  //
  // Persistent workers (launcher.parameters.simulations_per_member > 1; needs `delivery`,
  // `worker_command` and `simulation_arguments`): at most max_concurrent workers run
  // `worker_command`, each reading its simulations from its stdin, one line each: the
  // tab-separated `simulation_arguments` followed by `--env NAME=value` for
  // SURGE_SIMULATION_ID and every variable `environment` gives that simulation. A worker gets
  // its next simulation once the server confirms the previous one delivered (`delivery`);
  // end of file (after simulations_per_member of them, or when none is left) ends it. A
  // worker that dies, or a simulation silent past silence_timeout_s (its worker is killed),
  // fails that simulation's attempt, retried in a fresh worker under the same id.
  struct Hooks {
    EnvironmentFor environment;
    DeliveryOf delivery;
    std::function<std::vector<std::string>()> worker_command;
    ArgumentsFor simulation_arguments;
    // The cores every member runs on (launcher.parameters.member_cores); empty: those the
    // launcher's creator may use.
    std::vector<int> cpus;
  };

  LocalLauncher(const LauncherConfig& config, std::vector<MemberRecord> members, CommandFor command,
                SilenceOf silence, Redraw redraw, std::string log_dir, Hooks hooks = {});
  ~LocalLauncher() override;
  LocalLauncher(const LocalLauncher&) = delete;
  LocalLauncher& operator=(const LocalLauncher&) = delete;

  void start() override;
  // Kills every running member (its process group) and stops the thread.
  void stop() override;
  [[nodiscard]] bool finished() const noexcept override { return finished_; }
  [[nodiscard]] std::string gave_up() const override;
  [[nodiscard]] std::vector<MemberRecord> members() const override;
  [[nodiscard]] Counts counts() const override;
  [[nodiscard]] bool role_finished(MemberRole role) const override;
  // Persistent workers started so far.
  [[nodiscard]] int workers_started() const;

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
  // A persistent worker: one process running simulations one after the other.
  struct Worker {
    int number;
    pid_t pid;
    int input;  // the write end of its stdin, -1 once closed
    std::string log_file;
    int handed = 0;                               // simulations handed to it so far
    std::optional<std::size_t> index;             // the simulation in flight
    std::chrono::steady_clock::time_point since;  // when that simulation was handed
  };
  void run();
  void loop();
  // One pass over the persistent workers (persistent_workers.cpp); true while any runs.
  void serve_workers();
  void start_worker();
  void hand(Worker& worker, std::size_t index);
  void close_input(Worker& worker);
  // Ends every worker (stop or give up); their simulations in flight are marked stopped.
  void end_workers();
  void reap();
  void confirm_endings();
  void launch(std::size_t index);
  // Handles an attempt that ended badly: retry, redraw or fail.
  void attempt_failed(std::size_t index, const std::string& why);

  LauncherConfig config_;
  CommandFor command_;
  SilenceOf silence_;
  FaultPolicy policy_;
  std::string log_dir_;
  Hooks hooks_;
  core::Logger log_{"launcher"};

  mutable std::mutex mutex_;
  std::vector<MemberRecord> members_;
  std::vector<Running> running_;
  std::vector<Ending> ending_;
  std::vector<Worker> workers_;
  int workers_started_ = 0;
  std::string gave_up_;
  std::atomic<bool> stop_{false}, finished_{false};
  std::thread thread_;
};

}  // namespace surge::experiments
