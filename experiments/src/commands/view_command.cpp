// `surge view OUTPUT_DIR`: the live page of a finished (or stopped) study, served from its
// results.h5 until Ctrl-C.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "commands/study_options.hpp"
#include "live/live_results.hpp"
#include "live/live_server.hpp"
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
      "the same page as `surge run --serve`, until Ctrl-C. The URL, with a fresh token, is\n"
      "printed and written to <output_dir>/live_url (mode 0600) when the directory is writable.\n"
      "\noptions:\n"
      "  --serve=HOST:PORT  where to serve (default 127.0.0.1 and any free port)\n"
      "  --log-level L   debug, info, warn, error, off (default: info)\n"
      "  --help          this text\n");
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
  SURGE_REQUIRE(fs::is_regular_file(results), ConfigError,
                "no results.h5 in '" << dir << "': a study writes it when it ends (one that "
                                     << "crashed continues with `surge resume " << dir << "`)");
  const std::string state = to_json(read_live_state(results));
  core::Logger log("view");
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
  SURGE_LOG(log, info, "live page of " << results.string() << ": " << server->url());
  std::fflush(stdout);
  while (!interrupted()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return 0;
}

}  // namespace surge::experiments
