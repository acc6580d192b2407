#pragma once
// The members of an ensemble and the fault-tolerance policy every launcher applies to them,
// whatever runs an attempt (a local process, a Slurm job or job step): a failed attempt is
// retried under the same simulation id, so what it already delivered is dropped as duplicates
// by the receiver; after the last retry the member is redrawn (new parameters, new id) or
// marked failed, and after max_failed_members such members the launcher gives up.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "surge/core/log.hpp"
#include "surge/experiments/experiment_config.hpp"

namespace surge::experiments {

enum class MemberRole { validation, train };
// stopped: running when training ended on its budget (or the study was interrupted) and ended
// by the launcher; what it delivered until then was received and counted.
enum class MemberStatus { pending, running, done, failed, redrawn, stopped };
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

struct MemberCounts {
  int pending = 0, running = 0, done = 0, failed = 0, redrawn = 0, stopped = 0;
};
// Counts by status.
[[nodiscard]] MemberCounts count_members(const std::vector<MemberRecord>& members);
// Whether every member of `role` has finished (done or failed).
[[nodiscard]] bool role_finished(const std::vector<MemberRecord>& members, MemberRole role);

// Not thread-safe: a launcher calls it under the lock that guards its member table.
class FaultPolicy {
 public:
  // A fresh record (new id, new parameters) replacing one that failed every attempt.
  using Redraw = std::function<MemberRecord(const MemberRecord& failed)>;

  FaultPolicy(const LauncherConfig& config, Redraw redraw, std::string log_dir);

  // The latest attempt of members[index] failed (`why`: "exited with code 3", "Slurm job 42
  // ended TIMEOUT", ...): the member is pending again (a retry), or, after the last retry,
  // redrawn (the fresh record is appended to `members`) or marked failed; the launcher gives
  // up once max_failed_members members failed every attempt.
  void attempt_failed(std::vector<MemberRecord>& members, std::size_t index,
                      const std::string& why);
  // Why the launcher must give up (too many members failed every attempt), or "".
  [[nodiscard]] const std::string& gave_up() const noexcept { return gave_up_; }
  // The seconds a running attempt has been quiet, if that is past silence_timeout_s: the
  // lesser of the time since it started running and `silence` (seconds since the server last
  // heard of the member; negative if never).
  [[nodiscard]] std::optional<double> too_quiet(double since_start, double silence) const;
  // Where the output of the member's latest attempt goes: <log_dir>/member_<id>_attempt<k>.log.
  [[nodiscard]] std::string log_file(const MemberRecord& member) const;

 private:
  LauncherConfig config_;
  Redraw redraw_;
  std::string log_dir_;
  core::Logger log_{"launcher"};
  int failed_members_ = 0;
  std::string gave_up_;
};

}  // namespace surge::experiments
