// `surge solve <solver> [key=value ...] [--config FILE] [--out FILE]`: one ensemble member
// (also the `surge-solve` executable, which studies start: no LibTorch to load). With
// --worker, a persistent member: it runs one simulation per line read on its stdin.
#include <mpi.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "surge/core/config.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "surge/experiments/cli.hpp"
#include "surge/solvers/kokkos_aliases.hpp"
#include "surge/solvers/member.hpp"
#include "surge/solvers/solver.hpp"
#include "surge/solvers/stream_sink.hpp"
#include "surge/streaming/config.hpp"
#include "surge/streaming/member_environment.hpp"

namespace surge::experiments {

namespace {

struct SolveOptions {
  std::string solver;
  std::string config_file;
  std::string out;
  std::string stream;
  std::string stream_config;
  std::string experiment = "default";
  std::uint64_t simulation_id = 0;
  bool simulation_id_given = false;
  int fail_at_output = -1;
  double server_timeout_s = -1;
  std::string server_public_key, client_public_key, client_secret_key;  // CURVE key files
  std::vector<std::string> overrides;
  std::vector<std::string> env;  // NAME=value, set before the member runs
  bool worker = false;
  bool help = false;
  bool dump_config = false;
};

void print_help(const std::string& solver) {
  std::printf(
      "usage: surge solve <solver> [key=value ...] [options]\n"
      "\nRuns one ensemble member and writes its trajectory as an HDF5 file in the layout of\n"
      "The Well. Under `mpirun -np N` the grid is split over N ranks; the file is the same.\n"
      "\noptions:\n"
      "  --config FILE     YAML file with the solver's parameters (a map of key: value, or\n"
      "                    `type: <solver>` + `parameters: {...}`); key=value arguments\n"
      "                    override it (default: none, every key at its default)\n"
      "  --out FILE        output HDF5 file (default: <solver>.h5); written as FILE.partial\n"
      "                    and renamed when complete\n"
      "  --stream ENDPOINT stream every output to the training server whose handshake\n"
      "                    endpoint this is (default: off); with --stream and no --out,\n"
      "                    no file is written\n"
      "  --stream-config FILE  YAML of the client settings (hwm, timeouts, CURVE key;\n"
      "                    see streaming/PROTOCOL.md) (default: built-in defaults)\n"
      "  --server-public-key FILE  CURVE: the server's public key file (streaming.curve;\n"
      "                    surge run passes the study's) (default: the stream config's)\n"
      "  --client-public-key FILE, --client-secret-key FILE  CURVE: the client key pair\n"
      "                    the server admits (default: the stream config's)\n"
      "  --experiment ID   experiment id announced to the server (default: default)\n"
      "  --simulation-id N this member's simulation id (default: 0)\n"
      "  --server-timeout S  exit with an error once the connection to the server has\n"
      "                    been down for S seconds (default: the stream config's\n"
      "                    server_timeout_ms; surge run passes streaming.server_timeout_s)\n"
      "  --fail-at-output K  testing aid: end the process abruptly (exit code 3, no\n"
      "                    end-of-simulation) right after frame K, i.e. output K; frame 0\n"
      "                    is the initial state (default: off)\n"
      "  --env NAME=value  set an environment variable before the member runs (its\n"
      "                    client reads its connection from there); repeatable\n"
      "  --worker          a persistent member (surge run, simulations_per_member > 1):\n"
      "                    reads one simulation per line on stdin (rank 0), its arguments\n"
      "                    separated by tabs and added to the command line's (key=value,\n"
      "                    --env, --fail-at-output; SURGE_SIMULATION_ID in --env is the\n"
      "                    simulation id), runs it with a fresh stream, and exits 0 at\n"
      "                    end of file; needs --stream\n"
      "  --dump-config     print the resolved configuration as YAML and exit\n"
      "  --log-level L     debug, info, warn, error, off (default: info)\n"
      "  --help            this text\n");
  const auto& registry = solvers::solver_registry();
  if (solver.empty()) {
    std::printf("\nsolvers (`surge solve <solver> --help` lists its keys):\n");
    for (const auto& name : registry.names()) {
      std::printf("  %-10s %s\n", name.c_str(), registry.at(name).summary.c_str());
    }
  } else {
    const auto& entry = registry.at(solver);
    std::printf("\n%s keys (%s):\n%s", solver.c_str(), entry.summary.c_str(),
                core::format_key_docs(entry.keys()).c_str());
  }
}

// A simulation id given as text (`what` names where from). Throws ConfigError.
std::uint64_t parse_simulation_id(const std::string& text, const char* what) {
  std::size_t used = 0;
  std::uint64_t id = 0;
  try {
    id = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  SURGE_REQUIRE(used == text.size() && !text.empty() && text[0] != '-', ConfigError,
                what << " must be a non-negative integer, got '" << text << "'");
  return id;
}

SolveOptions parse(const std::vector<std::string>& args) {
  SolveOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* option) -> std::string {
      SURGE_REQUIRE(i + 1 < args.size(), ConfigError, option << " needs a value");
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--config") {
      o.config_file = value("--config");
    } else if (a == "--out" || a == "-o") {
      o.out = value("--out");
    } else if (a == "--stream") {
      o.stream = value("--stream");
    } else if (a == "--stream-config") {
      o.stream_config = value("--stream-config");
    } else if (a == "--server-public-key") {
      o.server_public_key = value("--server-public-key");
    } else if (a == "--client-public-key") {
      o.client_public_key = value("--client-public-key");
    } else if (a == "--client-secret-key") {
      o.client_secret_key = value("--client-secret-key");
    } else if (a == "--experiment") {
      o.experiment = value("--experiment");
    } else if (a == "--simulation-id") {
      o.simulation_id = parse_simulation_id(value("--simulation-id"), "--simulation-id");
      o.simulation_id_given = true;
    } else if (a == "--env") {
      const std::string assignment = value("--env");
      SURGE_REQUIRE(assignment.find('=') != std::string::npos && assignment[0] != '=', ConfigError,
                    "--env needs NAME=value, got '" << assignment << "'");
      o.env.push_back(assignment);
    } else if (a == "--worker") {
      o.worker = true;
    } else if (a == "--fail-at-output") {
      const std::string text = value("--fail-at-output");
      try {
        o.fail_at_output = std::stoi(text);
      } catch (const std::exception&) {
        SURGE_THROW(ConfigError, "--fail-at-output must be an integer, got '" << text << "'");
      }
    } else if (a == "--server-timeout") {
      const std::string text = value("--server-timeout");
      std::size_t used = 0;
      try {
        o.server_timeout_s = std::stod(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      SURGE_REQUIRE(used == text.size() && o.server_timeout_s > 0, ConfigError,
                    "--server-timeout must be a positive number of seconds, got '" << text << "'");
    } else if (a == "--dump-config") {
      o.dump_config = true;
    } else if (a == "--log-level") {
      core::Logger::set_level(core::parse_log_level(value("--log-level")));
    } else if (a.rfind("--", 0) == 0) {
      SURGE_THROW(ConfigError, "unknown option '" << a << "' (see surge solve --help)");
    } else if (core::is_override(a)) {
      o.overrides.push_back(a);
    } else if (o.solver.empty()) {
      o.solver = a;
    } else {
      SURGE_THROW(ConfigError, "unexpected argument '" << a << "' (keys are set as key=value)");
    }
  }
  return o;
}

// The member's parameters and stream settings, resolved from the options.
struct Member {
  core::ConfigSource source;
  YAML::Node parameters{YAML::NodeType::Map};
  streaming::ClientConfig stream_config;
};

Member resolve(SolveOptions& o) {
  // The member's parameters: the file (if any), then the overrides on top.
  Member m;
  if (!o.config_file.empty()) {
    m.source.file = o.config_file;
    YAML::Node file = core::load_yaml_file(o.config_file);
    if (file.IsMap() && file["type"]) {
      const core::Pluggable part = core::read_pluggable(file, m.source);
      SURGE_REQUIRE(
          o.solver.empty() || o.solver == part.type, ConfigError,
          o.config_file << " configures solver '" << part.type << "', not '" << o.solver << "'");
      o.solver = part.type;
      m.parameters = part.parameters;
    } else {
      m.parameters = file;
    }
  }
  SURGE_REQUIRE(!o.solver.empty(), ConfigError,
                "no solver named (usage: surge solve <solver> [key=value ...]; see --help)");
  for (const auto& assignment : o.overrides)
    core::apply_override(m.parameters, assignment, m.source);
  if (o.out.empty() && o.stream.empty()) o.out = o.solver + ".h5";
  if (!o.stream.empty()) {
    core::ConfigSource stream_source;
    YAML::Node node(YAML::NodeType::Map);
    if (!o.stream_config.empty()) {
      stream_source.file = o.stream_config;
      node = core::load_yaml_file(o.stream_config);
    }
    m.stream_config = core::read_config<streaming::ClientConfig>(node, stream_source);
    m.stream_config.front_endpoint = o.stream;
    if (!o.server_public_key.empty())
      m.stream_config.curve.server_public_key_file = o.server_public_key;
    if (!o.client_public_key.empty())
      m.stream_config.curve.client_public_key_file = o.client_public_key;
    if (!o.client_secret_key.empty())
      m.stream_config.curve.client_secret_key_file = o.client_secret_key;
    // surge run hands its members their ticket in the environment, never on the command line
    // (a worker's, per simulation).
    m.stream_config.member_ticket = streaming::member_ticket_from_environment();
    if (o.server_timeout_s > 0) {
      // A server that never answers is as gone as one that stopped answering.
      m.stream_config.server_timeout_ms =
          static_cast<int>(std::min(o.server_timeout_s * 1000.0, 2e9));
      m.stream_config.handshake_timeout_ms =
          std::min(m.stream_config.handshake_timeout_ms, m.stream_config.server_timeout_ms);
    }
  }
  return m;
}

// Runs one member (inside a Kokkos session); returns the exit code.
int run_one(const SolveOptions& o, const Member& member) {
  const int rank = core::Logger::rank();
  const auto& entry = solvers::solver_registry().at(o.solver);
  std::unique_ptr<solvers::Solver> solver =
      entry.create(member.parameters, member.source, MPI_COMM_WORLD);
  if (o.dump_config) {
    if (rank == 0) std::cout << core::to_yaml_text(solver->resolved_config());
    return 0;
  }

  core::Logger log(o.solver);
  std::vector<solvers::FrameSink*> sinks;
  std::unique_ptr<solvers::WellWriter> writer;
  std::unique_ptr<solvers::StreamSink> stream;
  if (!o.out.empty()) {
    writer = std::make_unique<solvers::WellWriter>(o.out, *solver);
    sinks.push_back(writer.get());
  }
  if (!o.stream.empty()) {
    // A streaming member dies with the process that started it (mpirun, or a launcher
    // killing mpirun): an orphaned rank would keep computing and sending for nobody.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) std::_Exit(3);  // the parent is already gone
    stream = std::make_unique<solvers::StreamSink>(member.stream_config, o.experiment,
                                                   o.simulation_id, *solver);
    sinks.push_back(stream.get());
    SURGE_LOG(log, info, "streaming simulation " << o.simulation_id << " to " << o.stream);
  }
  // Simulates a crash for fault-tolerance tests: no END, no file renamed.
  struct CrashAfter final : solvers::FrameSink {
    explicit CrashAfter(int k) : output(k) {}
    int output;
    void write_frame(int index, const solvers::Solver&) override {
      if (index == output) std::_Exit(3);
    }
    void finish() override {}
  } crash(o.fail_at_output);
  if (o.fail_at_output >= 0) sinks.push_back(&crash);
  const std::size_t frames = solvers::frame_times(*solver).size();
  const double seconds = solvers::run_member(*solver, sinks, log);
  if (rank == 0 && stream) {
    std::printf("surge solve %s: streamed %zu frames of simulation %llu to %s\n", o.solver.c_str(),
                frames, static_cast<unsigned long long>(o.simulation_id), o.stream.c_str());
  }
  if (rank == 0 && writer) {
    const auto& d = solver->decomposition();
    std::printf("surge solve %s: wrote %s (%zu frames of %d x %d, %.2f s on %d rank%s)\n",
                o.solver.c_str(), std::filesystem::absolute(o.out).c_str(), frames, d.nx(), d.ny(),
                seconds, d.size(), d.size() > 1 ? "s" : "");
  }
  std::fflush(stdout);
  return 0;
}

// Sets a simulation's variables (--env), unsetting those the previous one had set.
void set_environment(const std::vector<std::string>& assignments,
                     std::vector<std::string>& previous) {
  for (const auto& name : previous) unsetenv(name.c_str());
  previous.clear();
  for (const auto& a : assignments) {
    const auto eq = a.find('=');
    previous.push_back(a.substr(0, eq));
    setenv(previous.back().c_str(), a.substr(eq + 1).c_str(), 1);
  }
}

// The simulation id a member was given: --simulation-id, else SURGE_SIMULATION_ID (--env).
void take_simulation_id(SolveOptions& o) {
  if (o.simulation_id_given) return;
  for (const auto& a : o.env) {
    if (a.rfind("SURGE_SIMULATION_ID=", 0) != 0) continue;
    o.simulation_id = parse_simulation_id(a.substr(a.find('=') + 1), "SURGE_SIMULATION_ID");
  }
}

// A persistent member: rank 0 reads one simulation per line, every rank gets it (MPI_Bcast)
// and runs it with a fresh stream (handshake ... end of stream); end of file ends the worker.
// MPI and Kokkos started once serve every simulation.
int run_worker(const std::vector<std::string>& fixed) {
  const int rank = core::Logger::rank();
  std::vector<std::string> previous_env;
  for (;;) {
    std::string line;
    long long length = -1;
    if (rank == 0 && std::getline(std::cin, line)) length = static_cast<long long>(line.size());
    SURGE_MPI_CHECK(MPI_Bcast(&length, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD));
    if (length < 0) return 0;
    line.resize(static_cast<std::size_t>(length));
    if (length > 0) {
      SURGE_MPI_CHECK(
          MPI_Bcast(line.data(), static_cast<int>(length), MPI_CHAR, 0, MPI_COMM_WORLD));
    }
    std::vector<std::string> args;
    for (const auto& a : fixed) {
      if (a != "--worker") args.push_back(a);
    }
    for (std::size_t start = 0; !line.empty() && start <= line.size();) {
      const auto end = line.find('\t', start);
      args.push_back(
          line.substr(start, end == std::string::npos ? std::string::npos : end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
    SolveOptions o = parse(args);
    take_simulation_id(o);
    set_environment(o.env, previous_env);
    const Member member = resolve(o);
    const int code = run_one(o, member);
    if (code != 0) return code;
  }
}

}  // namespace

int solve_command(const std::vector<std::string>& args) {
  SolveOptions o = parse(args);
  const int rank = core::Logger::rank();
  if (o.help) {
    if (rank == 0) print_help(o.solver);
    return 0;
  }
  if (o.worker) {
    SURGE_REQUIRE(!o.stream.empty() && o.out.empty() && !o.dump_config, ConfigError,
                  "--worker streams every simulation: it needs --stream, and takes no --out or "
                  "--dump-config");
    solvers::KokkosSession kokkos;
    return run_worker(args);
  }
  take_simulation_id(o);
  std::vector<std::string> set;
  set_environment(o.env, set);
  const Member member = resolve(o);
  solvers::KokkosSession kokkos;
  return run_one(o, member);
}

}  // namespace surge::experiments
