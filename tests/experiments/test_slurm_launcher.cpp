// The Slurm job launcher against stand-in sbatch/squeue/scontrol/scancel (small bash scripts
// that keep job states in files): completion, resubmission under the same simulation id,
// silent jobs cancelled, every outstanding job cancelled on stop, sbatch refusals. The real
// Slurm is exercised end to end by slurm_study.sh.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "surge/experiments/slurm_launcher.hpp"

namespace ex = surge::experiments;
namespace fs = std::filesystem;

namespace {

// A job's fate is the script's `#FAKE <state> <exit code> <milliseconds>` line: it runs that
// long, then ends in that state; `#FAKE REFUSE` makes sbatch refuse it.
ex::SlurmCommands fake_slurm(const std::string& name) {
  const fs::path dir = fs::path(SURGE_BINARY_DIR) / ("fake_slurm_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir / "jobs");
  const std::string d = (dir / "jobs").string();
  const std::string now = "$(( $(date +%s%N) / 1000000 ))";
  const std::map<std::string, std::string> programs = {
      {"sbatch",
       "f=${@: -1}\nread -r _ state code ms < <(grep -m1 '^#FAKE' \"$f\")\n"
       "if [ \"$state\" = REFUSE ]; then echo 'sbatch: error: job limit reached'; exit 1; fi\n"
       "n=$(cat " +
           d + "/next 2>/dev/null || echo 100); echo $((n + 1)) > " + d +
           "/next\n"
           "echo \"$((" +
           now + " + ms)) $state $code\" > " + d + "/$n\necho $n\n"},
      {"squeue", "now=" + now +
                     "\nfor id in $(echo \"${@: -1}\" | tr , ' '); do\n"
                     "  [ -f " +
                     d +
                     "/$id.cancelled ] && continue\n"
                     "  read -r end state code < " +
                     d +
                     "/$id\n"
                     "  [ \"$now\" -lt \"$end\" ] && echo \"$id|RUNNING\"\ndone\nexit 0\n"},
      {"scontrol", "id=${@: -1}\nread -r end state code < " + d +
                       "/$id\n"
                       "[ -f " +
                       d +
                       "/$id.cancelled ] && state=CANCELLED code=0:15\n"
                       "echo \"JobId=$id JobName=x JobState=$state Reason=None ExitCode=$code\"\n"},
      {"scancel", "for id in \"$@\"; do touch " + d + "/$id.cancelled; echo $id >> " + d +
                      "/cancelled; done\n"}};
  ex::SlurmCommands c;
  for (const auto& [program, body] : programs) {
    const fs::path path = dir / program;
    std::ofstream(path) << "#!/bin/bash\n" << body;
    fs::permissions(path, fs::perms::owner_all);
    if (program == "sbatch") c.sbatch = path.string();
    if (program == "squeue") c.squeue = path.string();
    if (program == "scontrol") c.scontrol = path.string();
    if (program == "scancel") c.scancel = path.string();
  }
  return c;
}

std::string cancelled_jobs(const ex::SlurmCommands& c) {
  std::ifstream in(fs::path(c.sbatch).parent_path() / "jobs" / "cancelled");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<ex::MemberRecord> members(int n) {
  std::vector<ex::MemberRecord> out;
  for (int i = 0; i < n; ++i) {
    ex::MemberRecord m;
    m.simulation_id = static_cast<std::uint64_t>(i);
    out.push_back(m);
  }
  return out;
}

ex::Launcher::Redraw redraw_from(std::uint64_t first_id) {
  auto next = std::make_shared<std::uint64_t>(first_id);
  return [next](const ex::MemberRecord& failed) {
    ex::MemberRecord fresh = failed;
    fresh.simulation_id = (*next)++;
    fresh.attempts = 0;
    fresh.status = ex::MemberStatus::pending;
    return fresh;
  };
}

ex::SlurmConfig fast_polls() {
  ex::SlurmConfig s;
  s.poll_interval_s = 0.05;
  return s;
}

std::string dir_of(const ex::SlurmCommands& c, const char* sub) {
  return (fs::path(c.sbatch).parent_path() / sub).string();
}

const auto kNeverSilent = [](std::uint64_t) { return 0.0; };

}  // namespace

TEST(SlurmLauncher, ParsesHowAJobEnded) {
  const auto end = ex::parse_job_end(
      "JobId=7 JobName=surge-e2e-3 UserId=root(0) JobState=TIMEOUT Reason=TimeLimit "
      "Dependency=(null) ExitCode=0:15\n");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, "TIMEOUT");
  EXPECT_EQ(end->exit_code, "0:15");
  EXPECT_EQ(end->reason, "TimeLimit");
  EXPECT_FALSE(end->succeeded());
  EXPECT_TRUE(end->final());
  EXPECT_FALSE(ex::parse_job_end("JobId=7 JobState=COMPLETING ExitCode=0:0")->final());
  EXPECT_TRUE(ex::parse_job_end("JobId=8 JobState=COMPLETED ExitCode=0:0")->succeeded());
  EXPECT_FALSE(ex::parse_job_end("JobId=8 JobState=COMPLETED ExitCode=1:0")->succeeded());
  EXPECT_FALSE(ex::parse_job_end("slurm_load_jobs error: Invalid job id specified"));
}

TEST(SlurmLauncher, ResubmitsAFailedJobUnderTheSameSimulationId) {
  const auto commands = fake_slurm("resubmit");
  ex::LauncherConfig config;
  config.max_concurrent = 2;
  config.retries = 1;
  ex::SlurmJobLauncher launcher(
      config, fast_polls(), commands, members(4),
      [](const ex::MemberRecord& m, int attempt, const std::string&) {
        // Simulation 1's first job fails, simulation 2's first is preempted.
        if (m.simulation_id == 1 && attempt == 1) return std::string("#FAKE FAILED 3:0 50\n");
        if (m.simulation_id == 2 && attempt == 1) return std::string("#FAKE PREEMPTED 0:15 50\n");
        return std::string("#FAKE COMPLETED 0:0 50\n");
      },
      kNeverSilent, redraw_from(100), dir_of(commands, "logs"), dir_of(commands, "scripts"));
  launcher.start();
  launcher.wait();
  const auto all = launcher.members();
  ASSERT_EQ(all.size(), 4u);
  for (const auto& m : all) EXPECT_EQ(m.status, ex::MemberStatus::done) << m.simulation_id;
  EXPECT_EQ(all[0].attempts, 1);
  EXPECT_EQ(all[1].attempts, 2);
  EXPECT_NE(all[1].last_error.find("ended FAILED, exit code 3:0"), std::string::npos)
      << all[1].last_error;
  EXPECT_EQ(all[2].attempts, 2);
  EXPECT_NE(all[2].last_error.find("PREEMPTED"), std::string::npos) << all[2].last_error;
  EXPECT_TRUE(fs::exists(dir_of(commands, "scripts") + "/member_1_attempt2.sbatch"));
  EXPECT_TRUE(launcher.gave_up().empty());
}

TEST(SlurmLauncher, CancelsASilentJobAndRedrawsAfterTheLastRetry) {
  const auto commands = fake_slurm("silent");
  ex::LauncherConfig config;
  config.retries = 0;
  config.silence_timeout_s = 0.2;
  ex::SlurmJobLauncher launcher(
      config, fast_polls(), commands, members(1),
      [](const ex::MemberRecord& m, int, const std::string&) {
        return std::string(m.simulation_id == 0 ? "#FAKE COMPLETED 0:0 60000\n"
                                                : "#FAKE COMPLETED 0:0 50\n");
      },
      [](std::uint64_t id) { return id == 0 ? 1e9 : 0.0; }, redraw_from(100),
      dir_of(commands, "logs"), dir_of(commands, "scripts"));
  launcher.start();
  launcher.wait();
  const auto all = launcher.members();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].status, ex::MemberStatus::redrawn);
  EXPECT_NE(all[0].last_error.find("was silent"), std::string::npos) << all[0].last_error;
  EXPECT_EQ(all[1].simulation_id, 100u);
  EXPECT_EQ(all[1].status, ex::MemberStatus::done);
  EXPECT_EQ(cancelled_jobs(commands), "100\n");  // the first job, by its id
}

TEST(SlurmLauncher, StopCancelsEveryOutstandingJob) {
  const auto commands = fake_slurm("stop");
  ex::LauncherConfig config;
  config.max_concurrent = 2;
  ex::SlurmJobLauncher launcher(
      config, fast_polls(), commands, members(3),
      [](const ex::MemberRecord&, int, const std::string&) {
        return std::string("#FAKE COMPLETED 0:0 60000\n");
      },
      kNeverSilent, redraw_from(100), dir_of(commands, "logs"), dir_of(commands, "scripts"));
  launcher.start();
  for (int k = 0; k < 500 && launcher.outstanding_jobs().size() < 2; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(launcher.outstanding_jobs(), (std::vector<std::string>{"100", "101"}));
  launcher.stop();
  EXPECT_TRUE(launcher.finished());
  EXPECT_EQ(cancelled_jobs(commands), "100\n101\n");
  const auto c = launcher.counts();
  EXPECT_EQ(c.stopped, 2);  // running when stopped
  EXPECT_EQ(c.pending, 1);  // never submitted
}

TEST(SlurmLauncher, GivesUpWhenSbatchKeepsRefusing) {
  const auto commands = fake_slurm("refuse");
  ex::LauncherConfig config;
  ex::SlurmJobLauncher launcher(
      config, fast_polls(), commands, members(1),
      [](const ex::MemberRecord&, int, const std::string&) {
        return std::string("#FAKE REFUSE\n");
      },
      kNeverSilent, redraw_from(100), dir_of(commands, "logs"), dir_of(commands, "scripts"));
  launcher.start();
  launcher.wait();
  EXPECT_NE(launcher.gave_up().find("sbatch refused 10 member jobs in a row: sbatch: error: job "
                                    "limit reached"),
            std::string::npos)
      << launcher.gave_up();
  EXPECT_EQ(launcher.members()[0].attempts, 0);  // a refusal is not an attempt
}
