#include "surge/experiments/cli.hpp"

#include <hdf5.h>
#include <mpi.h>

#include <cstdio>
#include <iostream>

#include "commands/command_guard.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "surge/core/version.hpp"
#include "surge/experiments/launcher.hpp"

namespace surge::experiments {

const std::vector<Command>& commands() {
  static const std::vector<Command> list = {
      {"run", "run an online-training study from an experiment file", run_command},
      {"resume", "continue a study from its last study checkpoint", resume_command},
      {"train", "train a surrogate offline from HDF5 files in The Well's layout", train_command},
      {"submit", "run a study on Slurm: submit its server as a batch job, and exit",
       submit_command},
      {"solve", "run one ensemble member of a solver and write its trajectory (The Well HDF5)",
       solve_command},
      {"predict", "evaluate a trained surrogate and write its fields (The Well HDF5)",
       predict_command},
      {"view", "serve the live page of a study that has ended, from its results.h5", view_command},
      {"keys", "make a CURVE server and client key pair for streaming.curve", keys_command},
  };
  return list;
}

std::string version_text() {
  unsigned major = 0, minor = 0, release = 0;
  SURGE_HDF5_CHECK(H5get_libversion(&major, &minor, &release));
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  SURGE_MPI_CHECK(MPI_Get_library_version(mpi, &length));
  std::string mpi_name(mpi, static_cast<std::size_t>(length));
  mpi_name = mpi_name.substr(0, mpi_name.find_first_of(",\n"));
  return std::string("surge ") + kVersion + " (git " + kGitRevision + ")\n" +
         "  Kokkos backend: " + kKokkosDevice + "\n" + "  HDF5: " + std::to_string(major) + "." +
         std::to_string(minor) + "." + std::to_string(release) + " (parallel)\n" +
         "  MPI: " + mpi_name + "\n";
}

namespace {

void print_usage() {
  std::printf("usage: surge <command> [options]\n\ncommands:\n");
  for (const auto& c : commands()) std::printf("  %-10s %s\n", c.name.c_str(), c.summary.c_str());
  std::printf(
      "\noptions:\n"
      "  --help, -h   this text; `surge <command> --help` documents a command\n"
      "  --version    version and the libraries surge was built with\n"
      "\nenvironment:\n"
      "  SURGE_LOG_LEVEL      debug, info (default), warn, error, off\n"
      "  SURGE_LOG_ALL_RANKS  1 = every MPI rank logs at the chosen level (default: rank 0)\n");
}

}  // namespace

int main_entry(int argc, char** argv) {
  capture_launch_environment();  // before MPI_Init adds its own variables
  core::MpiSession mpi(&argc, &argv);
  const std::vector<std::string> args(argv + 1, argv + argc);
  return run_guarded(mpi.rank(), mpi.size(), [&]() -> int {
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
      if (mpi.rank() == 0) print_usage();
      return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version") {
      if (mpi.rank() == 0) std::cout << version_text();
      return 0;
    }
    for (const auto& c : commands()) {
      if (c.name == args[0]) return c.run({args.begin() + 1, args.end()});
    }
    SURGE_THROW(ConfigError, "unknown command '" << args[0] << "' (see surge --help)");
  });
}

}  // namespace surge::experiments
