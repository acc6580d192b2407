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
// Starts `args` (args[0] a full path) with environment `env` as a member or a worker: a
// process group of its own (killing the group reaches mpirun and every rank it started), no
// blocked signals, stdin from `stdin_fd` (-1: /dev/null), stdout and stderr into `log_file`
// (truncated). Returns the pid, or -1 with `error` set to posix_spawn's error number.
[[nodiscard]] pid_t spawn_member(const std::vector<std::string>& args,
                                 const std::vector<std::string>& env, int stdin_fd,
                                 const std::string& log_file, int& error);
// The last line of a log that reports an error, trimmed; "" if none.
[[nodiscard]] std::string last_error_line(const std::string& log_file);
// <dir>/member_<id>_attempt<k>.log of a member's current attempt.
[[nodiscard]] std::string attempt_log(const std::string& dir, const MemberRecord& m);
// "exited with code 3", "was killed by signal 9", from waitpid()'s answer.
[[nodiscard]] std::string exit_description(pid_t reaped, pid_t pid, int status);

}  // namespace surge::experiments::launcher_detail
