// `surge view OUTPUT_DIR`: the live page of a finished (or stopped) study, served from its
// results.h5 until Ctrl-C.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <yaml-cpp/yaml.h>

#include "commands/study_options.hpp"
#include "live/live_results.hpp"
#include "live/live_server.hpp"
#include "online/study_checkpoint.hpp"
#include "pipeline/interrupt.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "surge/experiments/cli.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

namespace {

void print_help() {
  std::printf(
      "usage: surge view <output_dir> [options]\n"
      "\nServes the live page of a study that has ended (or stopped), from its results.h5:\n"
      "the same page as `surge run --serve`, until Ctrl-C. A study without results.h5\n"
      "(crashed, killed, or still running) is shown from its latest study checkpoint.\n"
      "The URL, with a fresh token, is printed and written to <output_dir>/live_url\n"
      "(mode 0600) when the directory is writable.\n"
      "\noptions:\n"
      "  --serve=HOST:PORT  where to serve (default 127.0.0.1 and any free port)\n"
      "  --log-level L   debug, info, warn, error, off (default: info)\n"
      "  --help          this text\n");
}

// The page of a study that has no results.h5: its latest study checkpoint's curves, member
// table and samples received.
LiveState read_checkpoint_state(const std::string& dir, const fs::path& checkpoint) {
  LiveBoard board;
  read_curves(checkpoint / "study.h5", board);
  const StudyRecord r = read_study_record(checkpoint, false);
  LiveMembers members =
      live_members(r.members, read_samples_received(checkpoint, r.server_ranks), r.parameter_names);
  std::string study;
  try {
    study = YAML::Load(r.experiment)["study"]["name"].as<std::string>("");
  } catch (const YAML::Exception&) {
  }
  board.update([&](LiveState& l) {
    l.study = study;
    l.command = "view";
    l.finished = true;
    l.from_checkpoint = true;
    l.stop_reason = "no results.h5: crashed, killed or still running; latest checkpoint at batch " +
                    std::to_string(r.batch) + " (`surge resume " + dir + "` continues it)";
    l.batch = r.batch;
    l.wall_s = r.elapsed_seconds;
    if (l.wall_s > 0) l.batches_per_s = static_cast<double>(l.batch) / l.wall_s;
    l.members = std::move(members);
  });
  return board.snapshot();
}

}  // namespace

int view_command(const std::vector<std::string>& args) {
  std::string dir;
  ServeOptions serve;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      if (core::Logger::rank() == 0) print_help();
      return 0;
    } else if (parse_serve_option(args, i, serve)) {
    } else if (a == "--log-level") {
      SURGE_REQUIRE(i + 1 < args.size(), ConfigError, "--log-level needs a value");
      core::Logger::set_level(core::parse_log_level(args[++i]));
    } else if (a.rfind("--", 0) == 0) {
      SURGE_THROW(ConfigError, "unknown option '" << a << "' (see surge view --help)");
    } else if (dir.empty()) {
      dir = a;
    } else {
      SURGE_THROW(ConfigError,
                  "unexpected argument '" << a << "' (usage: surge view <output_dir>)");
    }
  }
  SURGE_REQUIRE(!dir.empty(), ConfigError, "no output directory (usage: surge view <output_dir>)");
  SURGE_REQUIRE(
      core::comm_size(MPI_COMM_WORLD) == 1, ConfigError,
      "surge view runs as one process, not under mpirun -np " << core::comm_size(MPI_COMM_WORLD));
  const fs::path results = fs::path(dir) / "results.h5";
  core::Logger log("view");
  std::string state;
  if (fs::is_regular_file(results)) {
    state = to_json(read_live_state(results));
  } else {
    const auto checkpoint = latest_study_checkpoint(fs::path(dir) / "checkpoints");
    SURGE_REQUIRE(checkpoint, ConfigError,
                  "no results.h5 in '" << dir << "', and no study checkpoint: a study writes "
                                       << "results.h5 when it ends, checkpoints while it runs "
                                       << "(study.checkpoint_every_s)");
    SURGE_LOG(log, warn,
              "no results.h5 in '" << dir << "' (the study crashed, was killed, or still runs): "
                                   << "the page shows its latest checkpoint, "
                                   << checkpoint->string());
    state = to_json(read_checkpoint_state(dir, *checkpoint));
  }
  const ServeAddress address = parse_serve_address(serve.address.value_or("127.0.0.1:0"));
  const fs::path url_file = fs::path(dir) / "live_url";
  std::unique_ptr<LiveServer> server;
  try {
    server = std::make_unique<LiveServer>(
        address, [state] { return state; }, url_file);
  } catch (const core::IoError& e) {
    if (e.message().rfind("cannot write", 0) != 0) throw;
    SURGE_LOG(log, warn, e.message() << "; the URL is only printed");
    server = std::make_unique<LiveServer>(
        address, [state] { return state; }, fs::path());
  }
  install_interrupt_handler();
  SURGE_LOG(log, info, "live page of " << dir << ": " << server->url());
  std::fflush(stdout);
  while (!interrupted()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return 0;
}

}  // namespace surge::experiments
