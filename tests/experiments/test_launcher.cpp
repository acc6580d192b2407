// The local launcher with stand-in members (/bin/sh): concurrency limit, retries with the same
// simulation id, silence kills, redraws and failures, the environment members inherit.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "launch/cpu_sets.hpp"
#include "surge/core/mpi.hpp"
#include "surge/experiments/launcher.hpp"

namespace ex = surge::experiments;

namespace {

std::vector<ex::MemberRecord> members(int n) {
  std::vector<ex::MemberRecord> out;
  for (int i = 0; i < n; ++i) {
    ex::MemberRecord m;
    m.simulation_id = static_cast<std::uint64_t>(i);
    m.parameters.assign(1, static_cast<double>(i));  // not {i}: GCC 12 -Wnonnull false positive
    out.push_back(m);
  }
  return out;
}

std::string log_dir(const char* name) {
  return std::string(SURGE_BINARY_DIR) + "/launcher_test_" + name;
}

ex::LocalLauncher::Redraw redraw_from(std::uint64_t first_id) {
  auto next = std::make_shared<std::atomic<std::uint64_t>>(first_id);
  return [next](const ex::MemberRecord& failed) {
    ex::MemberRecord fresh = failed;
    fresh.simulation_id = (*next)++;
    fresh.attempts = 0;
    fresh.status = ex::MemberStatus::pending;
    return fresh;
  };
}

const auto kNeverSilent = [](std::uint64_t) { return 0.0; };

}  // namespace

TEST(Launcher, RunsEveryMemberWithinTheConcurrencyLimit) {
  ex::LauncherConfig config;
  config.max_concurrent = 2;
  const std::string dir = log_dir("concurrency");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // Each member records its start and end; at most two may overlap.
  ex::LocalLauncher launcher(
      config, members(6),
      [&](const ex::MemberRecord& m, int) {
        const std::string f = dir + "/trace";
        return std::vector<std::string>{
            "/bin/sh", "-c", "echo start >> " + f + "; sleep 0.2; echo end >> " + f + "; exit 0"};
      },
      kNeverSilent, redraw_from(100), dir);
  launcher.start();
  launcher.wait();
  const auto c = launcher.counts();
  EXPECT_EQ(c.done, 6);
  EXPECT_EQ(c.failed + c.running + c.pending, 0);
  std::ifstream trace(dir + "/trace");
  int open = 0, worst = 0, starts = 0;
  for (std::string line; std::getline(trace, line);) {
    if (line == "start") {
      worst = std::max(worst, ++open);
      ++starts;
    } else {
      --open;
    }
  }
  EXPECT_EQ(starts, 6);
  EXPECT_LE(worst, 2);
  EXPECT_GE(worst, 2);  // and it does use both slots
}

TEST(Launcher, RetriesAFailedAttemptWithTheSameSimulationId) {
  ex::LauncherConfig config;
  config.retries = 2;
  ex::LocalLauncher launcher(
      config, members(3),
      [](const ex::MemberRecord& m, int attempt) {
        // Simulation 1 fails on its first attempt only.
        const bool fail = m.simulation_id == 1 && attempt == 1;
        return std::vector<std::string>{"/bin/sh", "-c", fail ? "exit 3" : "exit 0"};
      },
      kNeverSilent, redraw_from(100), log_dir("retry"));
  launcher.start();
  launcher.wait();
  const auto all = launcher.members();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].attempts, 2);
  EXPECT_EQ(all[1].status, ex::MemberStatus::done);
  EXPECT_EQ(all[1].last_error, "exited with code 3");
  EXPECT_EQ(all[0].attempts, 1);
}

TEST(Launcher, KillsSilentMembersAndRedrawsAfterTheLastRetry) {
  ex::LauncherConfig config;
  config.retries = 1;
  config.silence_timeout_s = 0.3;
  config.on_failure = "redraw";
  ex::LocalLauncher launcher(
      config, members(2),
      [](const ex::MemberRecord& m, int) {
        // Simulation 0 hangs forever; the redrawn member (id 100) and simulation 1 finish.
        return std::vector<std::string>{"/bin/sh", "-c",
                                        m.simulation_id == 0 ? "sleep 60" : "exit 0"};
      },
      [](std::uint64_t id) { return id == 0 ? 1e9 : 0.0; }, redraw_from(100), log_dir("silent"));
  const auto t0 = std::chrono::steady_clock::now();
  launcher.start();
  launcher.wait();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
  const auto all = launcher.members();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].status, ex::MemberStatus::redrawn);
  EXPECT_EQ(all[0].attempts, 2);
  EXPECT_NE(all[0].last_error.find("silent"), std::string::npos) << all[0].last_error;
  EXPECT_EQ(all[2].simulation_id, 100u);
  EXPECT_EQ(all[2].status, ex::MemberStatus::done);
}

TEST(Launcher, MarksFailedWhenToldSoAndReportsSignals) {
  ex::LauncherConfig config;
  config.retries = 0;
  config.on_failure = "fail";
  ex::LocalLauncher launcher(
      config, members(1),
      [](const ex::MemberRecord&, int) {
        return std::vector<std::string>{"/bin/sh", "-c", "kill -9 $$"};
      },
      kNeverSilent, redraw_from(100), log_dir("signal"));
  launcher.start();
  launcher.wait();
  const auto all = launcher.members();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].status, ex::MemberStatus::failed);
  EXPECT_EQ(all[0].last_error, "was killed by signal 9");
}

TEST(Launcher, MembersInheritTheEnvironmentWithoutMpiLauncherVariables) {
  setenv("SURGE_TEST_MARKER", "kept", 1);
  setenv("PMIX_RANK", "3", 1);
  setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  ex::capture_launch_environment();
  const auto env = ex::launch_environment();
  auto has = [&](const std::string& prefix) {
    for (const auto& e : env)
      if (e.rfind(prefix, 0) == 0) return true;
    return false;
  };
  EXPECT_TRUE(has("SURGE_TEST_MARKER=kept"));
  EXPECT_TRUE(has("PATH="));
  EXPECT_FALSE(has("PMIX_RANK="));
  EXPECT_FALSE(has("OMPI_COMM_WORLD_SIZE="));
  EXPECT_EQ(ex::find_on_path("sh").empty(), false);
  EXPECT_EQ(ex::find_on_path("surely-not-a-program-xyz"), "");
}

TEST(Launcher, GivesEachAttemptItsVariables) {
  setenv("SURGE_TEST_REPLACED", "inherited", 1);
  ex::capture_launch_environment();
  const std::string dir = log_dir("environment");
  std::filesystem::remove_all(dir);
  ex::LocalLauncher::Hooks hooks;
  hooks.environment = [](const ex::MemberRecord& m, int attempt) {
    return std::vector<std::string>{
        "SURGE_TEST_ID=" + std::to_string(m.simulation_id) + "/" + std::to_string(attempt),
        "SURGE_TEST_REPLACED=mine"};
  };
  ex::LocalLauncher launcher(
      ex::LauncherConfig{}, members(2),
      [&](const ex::MemberRecord& m, int) {
        return std::vector<std::string>{"/bin/sh", "-c",
                                        "echo $SURGE_TEST_ID $SURGE_TEST_REPLACED > " + dir + "/" +
                                            std::to_string(m.simulation_id)};
      },
      kNeverSilent, redraw_from(100), dir, hooks);
  launcher.start();
  launcher.wait();
  for (int id : {0, 1}) {
    std::ifstream in(dir + "/" + std::to_string(id));
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, std::to_string(id) + "/1 mine");
  }
}

// Open MPI's transport on a node without a fabric device: a local member (make_launcher gives
// its attempts with_local_mpi_environment) gets ob1, and skips the PSM/OFI libraries' search
// for hardware, unless the user chose a PML or an MTL.
TEST(Launcher, LocalMembersGetOpenMpisPlainTransportUnlessTheUserChoseOne) {
  const std::string dir = log_dir("transport");
  auto pml_of_a_member = [&](const char* users_pml) {
    unsetenv("OMPI_MCA_mtl");
    if (users_pml) {
      setenv("OMPI_MCA_pml", users_pml, 1);
    } else {
      unsetenv("OMPI_MCA_pml");
    }
    ex::capture_launch_environment();
    std::filesystem::remove_all(dir);
    ex::LocalLauncher::Hooks hooks;
    hooks.environment = [](const ex::MemberRecord&, int) {
      return ex::with_local_mpi_environment({"SURGE_TEST_OTHER=kept"});
    };
    ex::LocalLauncher launcher(
        ex::LauncherConfig{}, members(1),
        [&](const ex::MemberRecord&, int) {
          return std::vector<std::string>{
              "/bin/sh", "-c",
              "echo \"pml=${OMPI_MCA_pml:-unset} ${SURGE_TEST_OTHER}\" > " + dir + "/0"};
        },
        kNeverSilent, redraw_from(100), dir, hooks);
    launcher.start();
    launcher.wait();
    std::ifstream in(dir + "/0");
    std::string line;
    std::getline(in, line);
    return line;
  };
  const char* before = std::getenv("OMPI_MCA_pml");
  const std::string saved = before ? before : "";
  const bool plain = !surge::core::mpi_fabric_present() &&
                     !surge::core::mpi_start_environment(false, {}).empty();  // Open MPI
  EXPECT_EQ(pml_of_a_member(nullptr), plain ? "pml=ob1 kept" : "pml=unset kept");
  EXPECT_EQ(pml_of_a_member("ucx"), "pml=ucx kept");
  if (before) {
    setenv("OMPI_MCA_pml", saved.c_str(), 1);
  } else {
    unsetenv("OMPI_MCA_pml");
  }
  ex::capture_launch_environment();
}

TEST(Launcher, AMemberThatExitsZeroIsDoneOnlyOnceItsDataArrived) {
  ex::LauncherConfig config;
  config.retries = 1;
  config.silence_timeout_s = 0.5;
  // Simulation 0 arrives at once; 1 never connected on its first attempt (known at once);
  // 2's first attempt ends short, which only the timeout settles; 3's data arrive late.
  auto calls = std::make_shared<std::map<std::uint64_t, int>>();
  auto attempts = std::make_shared<std::map<std::uint64_t, int>>();
  ex::LocalLauncher::Hooks hooks;
  hooks.delivery = [calls, attempts](std::uint64_t id) {
    const int call = ++(*calls)[id];
    const int attempt = (*attempts)[id];
    if (id == 1 && attempt == 1) return ex::LocalLauncher::Delivery{"never connected", true};
    if (id == 2 && attempt == 1) return ex::LocalLauncher::Delivery{"ended after 3 of 10 steps"};
    if (id == 3 && call < 5) return ex::LocalLauncher::Delivery{"no end of stream yet"};
    return ex::LocalLauncher::Delivery{};
  };
  ex::LocalLauncher launcher(
      config, members(4),
      [attempts](const ex::MemberRecord& m, int attempt) {
        (*attempts)[m.simulation_id] = attempt;
        return std::vector<std::string>{"/bin/sh", "-c", "exit 0"};
      },
      kNeverSilent, redraw_from(100), log_dir("delivery"), hooks);
  launcher.start();
  launcher.wait();
  const auto all = launcher.members();
  ASSERT_EQ(all.size(), 4u);
  for (const auto& m : all) EXPECT_EQ(m.status, ex::MemberStatus::done) << m.simulation_id;
  EXPECT_EQ(all[0].attempts, 1);
  EXPECT_EQ(all[1].attempts, 2);
  EXPECT_EQ(all[1].last_error, "exited 0 but never connected");
  EXPECT_EQ(all[2].attempts, 2);
  EXPECT_EQ(all[2].last_error, "exited 0 but ended after 3 of 10 steps");
  EXPECT_EQ(all[3].attempts, 1);  // late data are not a failure
}

TEST(Launcher, TheFailureLineQuotesTheMembersError) {
  ex::LauncherConfig config;
  config.retries = 0;
  config.on_failure = "fail";
  ex::LocalLauncher launcher(
      config, members(1),
      [](const ex::MemberRecord&, int) {
        return std::vector<std::string>{
            "/bin/sh", "-c", "echo starting; echo 'solver: error: no such grid' >&2; exit 4"};
      },
      kNeverSilent, redraw_from(100), log_dir("error_line"));
  launcher.start();
  launcher.wait();
  EXPECT_EQ(launcher.members()[0].last_error, "exited with code 4: solver: error: no such grid");
}

namespace {

// A stand-in persistent worker: for each line on its stdin it records the line and the
// simulation id (its "delivery"), or exits 3 on a line holding "crash".
ex::LocalLauncher::Hooks worker_hooks(const std::string& dir) {
  ex::LocalLauncher::Hooks hooks;
  hooks.worker_command = [dir] {
    return std::vector<std::string>{
        "/bin/sh", "-c",
        "while IFS= read -r line; do echo \"$line\" >> " + dir +
            "/lines; case \"$line\" in *crash*) exit 3;; esac; id=${line##*SURGE_SIMULATION_ID=}; "
            "echo ${id%%[!0-9]*} >> " +
            dir + "/delivered; done"};
  };
  hooks.simulation_arguments = [](const ex::MemberRecord& m, int attempt) {
    std::vector<std::string> args = {"x=" + std::to_string(m.simulation_id)};
    if (m.simulation_id == 3 && attempt == 1) args.push_back("crash");
    return args;
  };
  hooks.environment = [](const ex::MemberRecord& m, int) {
    return std::vector<std::string>{"SURGE_MEMBER_TICKET=t" + std::to_string(m.simulation_id)};
  };
  hooks.delivery = [dir](std::uint64_t id) {
    std::ifstream in(dir + "/delivered");
    for (std::string line; std::getline(in, line);) {
      if (line == std::to_string(id)) return ex::LocalLauncher::Delivery{};
    }
    return ex::LocalLauncher::Delivery{"not yet"};
  };
  return hooks;
}

}  // namespace

TEST(Launcher, PersistentWorkersRunSimulationsInTurnAndRetryTheOneInFlight) {
  ex::LauncherConfig config;
  config.max_concurrent = 2;
  config.simulations_per_member = 3;
  const std::string dir = log_dir("workers");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  ex::LocalLauncher launcher(
      config, members(8), [](const ex::MemberRecord&, int) { return std::vector<std::string>{}; },
      kNeverSilent, redraw_from(100), dir, worker_hooks(dir));
  launcher.start();
  launcher.wait();
  const auto all = launcher.members();
  ASSERT_EQ(all.size(), 8u);
  for (const auto& m : all) {
    EXPECT_EQ(m.status, ex::MemberStatus::done) << m.simulation_id;
    EXPECT_EQ(m.attempts, m.simulation_id == 3 ? 2 : 1) << m.simulation_id;
  }
  EXPECT_NE(all[3].last_error.find("exited with code 3"), std::string::npos) << all[3].last_error;
  // 8 simulations + 1 retry, at most 3 per worker: at least 3 workers; a worker is also ended
  // when nothing is pending as it frees up, but never is there one per simulation.
  EXPECT_GE(launcher.workers_started(), 3);
  EXPECT_LE(launcher.workers_started(), 6);
  // Each line: the simulation's arguments, then its variables, tab-separated.
  std::ifstream lines(dir + "/lines");
  std::map<std::string, int> seen;
  for (std::string line; std::getline(lines, line);) ++seen[line];
  EXPECT_EQ(seen["x=2\t--env\tSURGE_SIMULATION_ID=2\t--env\tSURGE_MEMBER_TICKET=t2"], 1);
  EXPECT_EQ(seen["x=3\tcrash\t--env\tSURGE_SIMULATION_ID=3\t--env\tSURGE_MEMBER_TICKET=t3"], 1);
  EXPECT_EQ(seen["x=3\t--env\tSURGE_SIMULATION_ID=3\t--env\tSURGE_MEMBER_TICKET=t3"], 1);
  EXPECT_EQ(seen.size(), 9u);
}

TEST(Launcher, StoppingEndsWorkersAndMarksTheirSimulationsStopped) {
  ex::LauncherConfig config;
  config.max_concurrent = 2;
  config.simulations_per_member = 4;
  const std::string dir = log_dir("workers_stop");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto hooks = worker_hooks(dir);
  hooks.delivery = [](std::uint64_t) { return ex::LocalLauncher::Delivery{"never"}; };
  ex::LocalLauncher launcher(
      config, members(6), [](const ex::MemberRecord&, int) { return std::vector<std::string>{}; },
      kNeverSilent, redraw_from(100), dir, hooks);
  launcher.start();
  for (int k = 0; k < 500 && launcher.counts().running < 2; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  launcher.stop();
  EXPECT_TRUE(launcher.finished());
  const auto c = launcher.counts();
  EXPECT_EQ(c.stopped, 2);
  EXPECT_EQ(c.pending, 4);  // never started
  EXPECT_EQ(launcher.workers_started(), 2);
}

TEST(Launcher, ASilentSimulationTakesItsWorkerWithIt) {
  ex::LauncherConfig config;
  config.max_concurrent = 1;
  config.simulations_per_member = 2;
  config.silence_timeout_s = 0.3;
  config.retries = 0;
  config.on_failure = "fail";
  const std::string dir = log_dir("workers_silent");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto hooks = worker_hooks(dir);
  hooks.delivery = [](std::uint64_t) { return ex::LocalLauncher::Delivery{"never"}; };
  ex::LocalLauncher launcher(
      config, members(2), [](const ex::MemberRecord&, int) { return std::vector<std::string>{}; },
      [](std::uint64_t) { return -1.0; }, redraw_from(100), dir, hooks);
  launcher.start();
  launcher.wait();
  const auto all = launcher.members();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].status, ex::MemberStatus::failed);
  EXPECT_EQ(all[0].last_error, "never connected to the server in 0 s (worker 0)");
  EXPECT_EQ(all[1].status, ex::MemberStatus::failed);
  EXPECT_EQ(all[1].last_error, "never connected to the server in 0 s (worker 1)");
  EXPECT_EQ(launcher.workers_started(), 2);
}

// The one verdict on a member that exited 0, shared by the local and the Slurm launcher.
TEST(Launcher, JudgesAnEndingByItsDelivery) {
  using surge::experiments::EndingVerdict;
  using surge::experiments::judge_ending;
  EXPECT_EQ(judge_ending("", false, 0.0, 10.0), EndingVerdict::done);
  EXPECT_EQ(judge_ending("", true, 99.0, 10.0), EndingVerdict::done);
  EXPECT_EQ(judge_ending("sent no end of stream", false, 1.0, 10.0), EndingVerdict::wait);
  EXPECT_EQ(judge_ending("sent no end of stream", false, 10.5, 10.0), EndingVerdict::failed);
  EXPECT_EQ(judge_ending("never connected to the server", true, 0.0, 10.0), EndingVerdict::failed);
}

namespace {

// An open-ended member list (parameters.continuous): fresh training members numbered on from
// `first_id`, with their number as parameter.
// Draws ids first_id, first_id + 1, ...
ex::Launcher::More draw_from(std::uint64_t first_id) {
  auto next = std::make_shared<std::uint64_t>(first_id);
  return [next](bool) -> std::optional<ex::MemberRecord> {
    ex::MemberRecord m;
    m.simulation_id = (*next)++;
    m.parameters.assign(1, static_cast<double>(m.simulation_id));
    return m;
  };
}

// Runs `launcher` until `n` members are done, then stops it; checks what an open-ended list
// must hold: it was still going (not finished) at n, the first members came first, every id
// from 0 on exactly once, every member done or stopped, none pending or failed.
void run_open_ended(ex::LocalLauncher& launcher, int first, int n) {
  launcher.start();
  for (int k = 0; k < 3000 && launcher.counts().done < n; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(launcher.finished()) << "an open-ended launcher finished on its own";
  launcher.stop();
  EXPECT_TRUE(launcher.finished());
  const auto all = launcher.members();
  ASSERT_GT(all.size(), static_cast<std::size_t>(std::max(first, n)));
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].simulation_id, i);
    EXPECT_EQ(all[i].parameters.at(0), static_cast<double>(i));
    EXPECT_TRUE(all[i].status == ex::MemberStatus::done ||
                all[i].status == ex::MemberStatus::stopped)
        << i << " is " << ex::to_string(all[i].status);
  }
  const auto c = launcher.counts();
  EXPECT_GE(c.done, n);
  EXPECT_EQ(c.done + c.stopped, static_cast<int>(all.size()));
}

}  // namespace

TEST(Launcher, AnOpenEndedListKeepsDrawingUntilStopped) {
  ex::LauncherConfig config;
  config.max_concurrent = 2;
  const std::string dir = log_dir("open_ended");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  ex::LocalLauncher launcher(
      config, members(3),
      [](const ex::MemberRecord&, int) {
        return std::vector<std::string>{"/bin/sh", "-c", "sleep 0.02"};
      },
      kNeverSilent, redraw_from(1000), dir);
  launcher.keep_drawing(draw_from(3));
  run_open_ended(launcher, 3, 12);
}

// An adaptive sampler's fixed count: the list grows while members run (its drawer answering
// "none for now" in between, which must not end the launcher), then closes, and the launcher
// finishes on its own with exactly the members drawn.
TEST(Launcher, AListThatStopsGrowingFinishesOnItsOwn) {
  ex::LauncherConfig config;
  config.max_concurrent = 2;
  const std::string dir = log_dir("closing");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  ex::LocalLauncher launcher(
      config, members(2),
      [](const ex::MemberRecord&, int) {
        return std::vector<std::string>{"/bin/sh", "-c", "sleep 0.02"};
      },
      kNeverSilent, redraw_from(1000), dir);
  // Ids 2 to 6, each after two "none for now" answers; closed once 7 are drawn.
  auto next = std::make_shared<std::uint64_t>(2);
  auto calls = std::make_shared<int>(0);
  launcher.keep_drawing(
      [next, calls](bool) -> std::optional<ex::MemberRecord> {
        if (*next >= 7 || ++*calls % 3 != 0) return std::nullopt;
        ex::MemberRecord m;
        m.simulation_id = (*next)++;
        m.parameters.assign(1, static_cast<double>(m.simulation_id));
        return m;
      },
      [next] { return *next >= 7; });
  launcher.start();
  for (int k = 0; k < 3000 && !launcher.finished(); ++k)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(launcher.finished());
  const auto all = launcher.members();
  ASSERT_EQ(all.size(), 7u);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].simulation_id, i);
    EXPECT_EQ(all[i].status, ex::MemberStatus::done) << i;
  }
  EXPECT_EQ(launcher.counts().done, 7);
  launcher.stop();
}

TEST(Launcher, PersistentWorkersOfAnOpenEndedListTakeFreshSimulations) {
  ex::LauncherConfig config;
  config.max_concurrent = 2;
  config.simulations_per_member = 4;
  const std::string dir = log_dir("open_ended_workers");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  ex::LocalLauncher launcher(
      config, members(2), [](const ex::MemberRecord&, int) { return std::vector<std::string>{}; },
      kNeverSilent, redraw_from(1000), dir, worker_hooks(dir));
  launcher.keep_drawing(draw_from(2));
  run_open_ended(launcher, 2, 14);
  // 4 simulations per worker (the crash of simulation 3 ends one early): fewer workers than
  // simulations, and more than the two a closed list of 2 would need.
  EXPECT_GT(launcher.workers_started(), 2);
  EXPECT_LT(launcher.workers_started(), static_cast<int>(launcher.members().size()));
}

// Members run on the launcher's cores (Hooks::cpus), whatever the server's thread may use.
TEST(Launcher, MembersRunOnTheCoresTheyAreGiven) {
  const std::vector<int> mine = ex::thread_cpus();
  ASSERT_FALSE(mine.empty());
  ex::LauncherConfig config;
  const std::string dir = log_dir("cpus");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  ex::LocalLauncher::Hooks hooks;
  hooks.cpus = {mine.back()};
  ex::LocalLauncher launcher(
      config, members(2),
      [&](const ex::MemberRecord& m, int) {
        return std::vector<std::string>{
            "/bin/sh", "-c",
            "awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status > " + dir + "/cpus_" +
                std::to_string(m.simulation_id)};
      },
      kNeverSilent, redraw_from(100), dir, hooks);
  launcher.start();
  launcher.wait();
  EXPECT_EQ(launcher.counts().done, 2);
  for (int id : {0, 1}) {
    std::ifstream in(dir + "/cpus_" + std::to_string(id));
    std::string cpus;
    std::getline(in, cpus);
    EXPECT_EQ(cpus, std::to_string(mine.back())) << "member " << id;
  }
  EXPECT_EQ(ex::thread_cpus(), mine);  // the caller's own cores are untouched
}
