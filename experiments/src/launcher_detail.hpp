#pragma once
// What the local launcher's two halves share (launcher.cpp: a process per simulation;
// persistent_workers.cpp: workers running simulations one after the other).

#include <spawn.h>
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "surge/experiments/fault_policy.hpp"

namespace surge::experiments::launcher_detail {

// Ends members (their whole process groups): SIGTERM, up to `grace` for them to exit, then
// SIGKILL. All at once, so that stopping a study takes one grace period, not one per member.
// Reaps the processes.
void terminate_members(const std::vector<pid_t>& pids, std::chrono::milliseconds grace);
// terminate_members() of one, with 2 s of grace.
void terminate_member(pid_t pid);
// Initialises `attr` for a member: a process group of its own (killing the group reaches
// mpirun and every rank it started) and no blocked signals.
void spawn_defaults(posix_spawnattr_t& attr);
// The last line of a log that reports an error, trimmed; "" if none.
[[nodiscard]] std::string last_error_line(const std::string& log_file);
// <dir>/member_<id>_attempt<k>.log of a member's current attempt.
[[nodiscard]] std::string attempt_log(const std::string& dir, const MemberRecord& m);
// "exited with code 3", "was killed by signal 9", from waitpid()'s answer.
[[nodiscard]] std::string exit_description(pid_t reaped, pid_t pid, int status);

}  // namespace surge::experiments::launcher_detail
