#pragma once
// Members as Slurm batch jobs (launcher type slurm, mode jobs): every attempt of a member is
// a job of its own, submitted with sbatch, no more than max_concurrent queued or running at
// once. The queue is read with squeue, and a job that left it with `scontrol show job`, so
// a cluster without accounting (no sacct) works. A job that fails, times out, is preempted,
// cancelled (scancel from outside included) or whose member falls silent is handled by the
// same FaultPolicy as local members: resubmitted under the same simulation id, then redrawn
// or marked failed. Stopping cancels every outstanding job with scancel, by job id.

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "surge/core/log.hpp"
#include "surge/experiments/experiment_config.hpp"
#include "surge/experiments/launcher.hpp"

namespace surge::experiments {

// The Slurm commands, as full paths.
struct SlurmCommands {
  std::string sbatch, squeue, scontrol, scancel, srun;
};

// Finds the commands `slurm`'s mode needs on PATH (mode jobs: sbatch, squeue, scontrol,
// scancel; mode allocation: srun; surge submit also needs sbatch). Throws core::ConfigError
// naming launcher.type and the missing command.
[[nodiscard]] SlurmCommands find_slurm_commands(const SlurmConfig& slurm, bool submit);

// What a program printed (stdout and stderr together) and its exit code; -1 when it could
// not start or ran past its time and was killed.
struct ProgramResult {
  int code = -1;
  std::string output;
};
// Runs `argv` (argv[0] a full path) with launch_environment() and no input, to its end or
// until `timeout` (then SIGKILL). Never throws for the program's failure.
[[nodiscard]] ProgramResult run_program(const std::vector<std::string>& argv,
                                        std::chrono::seconds timeout = std::chrono::seconds(60));

// How a job that left the queue ended, from one line of `scontrol show job -o`.
struct JobEnd {
  std::string state;      // COMPLETED, FAILED, TIMEOUT, CANCELLED, PREEMPTED, NODE_FAIL, ...
  std::string exit_code;  // "code:signal"
  std::string reason;
  [[nodiscard]] bool succeeded() const { return state == "COMPLETED" && exit_code == "0:0"; }
  // Whether the state is final (not PENDING, RUNNING, COMPLETING, SUSPENDED, REQUEUED, ...).
  [[nodiscard]] bool final() const;
};
// Parses `scontrol show job -o <id>` output; nullopt if it holds no JobState.
[[nodiscard]] std::optional<JobEnd> parse_job_end(const std::string& scontrol_output);

class SlurmJobLauncher final : public Launcher {
 public:
  // The batch script of one attempt of a member, whose output goes to `log_file`.
  using ScriptFor =
      std::function<std::string(const MemberRecord&, int attempt, const std::string& log_file)>;

  // Scripts are written into `script_dir` (member_<id>_attempt<k>.sbatch), job output into
  // `log_dir` (member_<id>_attempt<k>.log). Every job submitted is journaled in
  // `script_dir`/member_jobs ("<job id> <simulation> <attempt>" a line, fsynced as sbatch
  // returns), so that a later server of the same study (surge resume) finds the jobs of one
  // that died.
  SlurmJobLauncher(const LauncherConfig& config, const SlurmConfig& slurm, SlurmCommands commands,
                   std::vector<MemberRecord> members, ScriptFor script, SilenceOf silence,
                   Redraw redraw, std::string log_dir, std::string script_dir,
                   LocalLauncher::DeliveryOf delivery = {});
  ~SlurmJobLauncher() override;
  SlurmJobLauncher(const SlurmJobLauncher&) = delete;
  SlurmJobLauncher& operator=(const SlurmJobLauncher&) = delete;

  // Cancels the jobs an earlier server of this study left queued or running (its journal),
  // then starts the thread.
  void start() override;
  // Cancels every outstanding job (scancel, by job id) and stops the thread.
  void stop() override;
  [[nodiscard]] bool finished() const noexcept override { return finished_; }
  [[nodiscard]] std::string gave_up() const override;
  [[nodiscard]] std::vector<MemberRecord> members() const override;
  [[nodiscard]] Counts counts() const override;
  [[nodiscard]] bool role_finished(MemberRole role) const override;
  // The job ids of the attempts queued or running now.
  [[nodiscard]] std::vector<std::string> outstanding_jobs() const;

 private:
  struct Job {
    std::size_t index;  // into members_
    std::string id;
    std::optional<std::chrono::steady_clock::time_point> running_since;  // unset while queued
    // Set when Slurm says the job completed but what it sent has not all arrived yet.
    std::optional<std::chrono::steady_clock::time_point> completed_at;
  };
  void run();
  void loop();
  // Submits the next pending member if there is room; false when there was nothing to do.
  bool submit_next();
  // Reads the queue and handles the jobs that ended, started or fell silent.
  void poll();
  void cancel(const std::vector<std::string>& ids);
  // The journaled jobs of an earlier server that Slurm still knows as queued or running:
  // cancelled, and the journal emptied.
  void cancel_earlier_jobs();
  [[nodiscard]] std::string journal_file() const;  // script_dir/member_jobs
  void journal(const std::string& id, const MemberRecord& m);
  void attempt_failed(std::size_t index, const std::string& why);

  LauncherConfig config_;
  // As the local launcher's: a job that completed is done once what it sent has arrived.
  LocalLauncher::DeliveryOf delivery_;
  SlurmConfig slurm_;
  SlurmCommands commands_;
  ScriptFor script_;
  SilenceOf silence_;
  FaultPolicy policy_;
  std::string log_dir_, script_dir_;
  core::Logger log_{"slurm"};

  // members_, jobs_ and gave_up_ change on the launcher thread only, under mutex_; the
  // thread reads them without it and runs Slurm's commands unlocked.
  mutable std::mutex mutex_;
  std::vector<MemberRecord> members_;
  std::vector<Job> jobs_;
  std::string gave_up_;
  int refusals_ = 0;  // sbatch refusals in a row
  std::chrono::steady_clock::time_point retry_after_{}, last_poll_{};
  std::atomic<bool> stop_{false}, finished_{false};
  std::thread thread_;
};

}  // namespace surge::experiments
