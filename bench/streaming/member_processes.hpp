#pragma once
// bench_streaming's sender processes: streaming_bench_member started beside the benchmark
// with its standard input and output piped back, told to go together, and its CPU time read.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "surge/core/error.hpp"

extern char** environ;

namespace surge::bench {

// The path of streaming_bench_member: beside this executable.
inline std::string member_executable() {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  SURGE_REQUIRE(n > 0, IoError, "cannot read /proc/self/exe");
  std::string path(self, static_cast<std::size_t>(n));
  return path.substr(0, path.rfind('/') + 1) + "streaming_bench_member";
}

// Sender processes (streaming_bench_member): started, told to go together, and their CPU time
// summed. One whose output is not what it should be, or which exits other than with 0, fails
// the benchmark with what it said.
class MemberProcesses {
 public:
  // Starts one process per argument list and waits until each is ready to send.
  explicit MemberProcesses(const std::vector<std::vector<std::string>>& arguments) {
    try {
      for (const auto& args : arguments) start(args);
      for (Child& c : children_) expect(c, "ready");
    } catch (...) {
      stop();
      throw;
    }
  }
  MemberProcesses(const MemberProcesses&) = delete;
  MemberProcesses& operator=(const MemberProcesses&) = delete;

  // Every process starts sending.
  void go() {
    for (Child& c : children_) {
      std::fputs("go\n", c.to);
      std::fflush(c.to);
    }
  }

  // Waits until every process has sent all and exited; the CPU seconds they spent sending.
  double finish() {
    double cpu = 0;
    for (Child& c : children_) {
      const std::string line = expect(c, "cpu ");
      cpu += std::atof(line.c_str() + 4);
      int status = 0;
      waitpid(c.pid, &status, 0);
      c.pid = -1;
      SURGE_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0, IoError,
                    "a member process failed (status " << status << ")");
    }
    return cpu;
  }

  // Whether a process has ended other than with 0 (its sends never all arrive then). Looks
  // without reaping it: finish() does.
  bool failed() {
    for (const Child& c : children_) {
      siginfo_t info{};
      if (c.pid > 0 &&
          waitid(P_PID, static_cast<id_t>(c.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == c.pid && (info.si_code != CLD_EXITED || info.si_status != 0))
        return true;
    }
    return false;
  }

  ~MemberProcesses() { stop(); }

 private:
  struct Child {
    pid_t pid = -1;
    FILE* to = nullptr;
    FILE* from = nullptr;
  };
  // Starts streaming_bench_member with `args`, its standard input and output piped here.
  void start(const std::vector<std::string>& args) {
    static const std::string path = member_executable();
    int to[2] = {-1, -1}, from[2] = {-1, -1};
    if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0) {
      for (int fd : {to[0], to[1]}) {
        if (fd >= 0) close(fd);
      }
      SURGE_THROW(IoError, "pipe2 failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to[0], 0);
    posix_spawn_file_actions_adddup2(&actions, from[1], 1);
    std::vector<char*> argv{const_cast<char*>(path.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    Child c;
    const int rc = posix_spawn(&c.pid, path.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(to[0]);
    close(from[1]);
    c.to = fdopen(to[1], "w");
    c.from = fdopen(from[0], "r");
    if (rc != 0) c.pid = -1;
    children_.push_back(c);
    SURGE_REQUIRE(rc == 0, IoError,
                  "cannot start " << path << " (build it beside bench_streaming)");
    SURGE_REQUIRE(c.to && c.from, IoError, "fdopen of a member process's pipes failed");
  }
  // Closes the pipes and ends any process still running.
  void stop() noexcept {
    for (Child& c : children_) {
      if (c.to) std::fclose(c.to);
      if (c.from) std::fclose(c.from);
      c.to = c.from = nullptr;
      if (c.pid > 0) {
        kill(c.pid, SIGKILL);
        waitpid(c.pid, nullptr, 0);
        c.pid = -1;
      }
    }
  }
  // The next line `c` writes, which must start with `word`.
  static std::string expect(Child& c, const std::string& word) {
    char line[256] = {};
    const bool got = c.from && std::fgets(line, sizeof line, c.from);
    SURGE_REQUIRE(got && std::string(line).rfind(word, 0) == 0, IoError,
                  "a member process said '" << (got ? line : "nothing") << "' where '" << word
                                            << "...' was due");
    return line;
  }
  std::vector<Child> children_;
};

}  // namespace surge::bench
