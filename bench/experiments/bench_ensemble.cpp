// The ensemble's data rate: samples per second arriving in a buffer from members of the
// default study's solver (64 x 64 heat2d, 100 outputs: 101 frames each), run as persistent
// workers (launcher.parameters.simulations_per_member) with no trainer, through the study's
// own front, receiver, feeder and local launcher. The bound is the solver's compute rate on
// the same cores, measured in the same run: the same simulations computed in process (no
// stream, no file) by as many copies of this program as there are workers, at once, each
// taking its share (on a machine that others share, what two processes really get). Also
// printed: the single-process rate; the CPU time per sample of the ensemble, split into the
// server (this process) and the members (the workers' mpirun and ranks), against the solver's
// alone, which other load changes far less than a rate; the start-up (the launcher's start to
// the first sample: mpirun, MPI and Kokkos initialisation of the workers, paid once each) and
// the rate after it, which a longer ensemble approaches (the RESULT line includes the start-up).
//   usage: bench_ensemble [simulations (default 120)] [workers (default 2)]
//                         [simulations per member (default: all; 1 = a process each)]
//   SURGE_BENCH_KEEP=1 keeps the output directory (the workers' logs) and prints where it is.
//   RESULT ensemble_rate measured=<samples/s> unit=samples/s bound=<samples/s> ratio=<v>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include "bench_result.hpp"
#include "commands/load_study.hpp"
#include "members/member_commands.hpp"
#include "members/study_launcher.hpp"
#include "online/feeder.hpp"
#include "online/server_control.hpp"
#include "study/member_table.hpp"
#include "study/study.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "surge/solvers/kokkos_aliases.hpp"
#include "surge/solvers/member.hpp"
#include "surge/solvers/solver.hpp"
#include "surge/streaming/curve.hpp"
#include "surge/streaming/front.hpp"
#include "surge/streaming/receiver.hpp"

namespace ex = surge::experiments;
using surge::bench::now_seconds;

namespace {

// CPU seconds (user + system) of this process, or of its reaped children and theirs.
double cpu_seconds(int who) {
  rusage u{};
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Samples per second of `study`'s members computed here, one after the other, no sinks;
// `cpu_per_sample` gets the CPU seconds each took.
double in_process_rate(const ex::Study& study, const std::vector<ex::MemberRecord>& members,
                       double& cpu_per_sample) {
  const surge::core::Logger log("bench");
  std::int64_t frames = 0;
  const double t0 = now_seconds();
  const double cpu0 = cpu_seconds(RUSAGE_SELF);
  for (const auto& m : members) {
    YAML::Node params = YAML::Clone(study.cfg.solver.parameters);
    for (std::size_t k = 0; k < study.range_names.size(); ++k)
      params[study.range_names[k]] = m.parameters[k];
    auto solver = surge::solvers::solver_registry()
                      .at(study.cfg.solver.type)
                      .create(params, study.source, MPI_COMM_SELF);
    frames += static_cast<std::int64_t>(surge::solvers::frame_times(*solver).size());
    (void)surge::solvers::run_member(*solver, {}, log);
  }
  cpu_per_sample = (cpu_seconds(RUSAGE_SELF) - cpu0) / static_cast<double>(frames);
  return static_cast<double>(frames) / (now_seconds() - t0);
}

// The study the benchmark runs: the default study's members, no validation members.
ex::Study bench_study(int simulations, int workers, int per_member,
                      const std::filesystem::path& out) {
  const std::vector<std::string> overrides = {
      "study.output_dir=" + out.string(),
      "study.name=bench_ensemble",
      "parameters.train_members=" + std::to_string(simulations),
      "parameters.validation_members=0",
      "parameters.continuous=false",  // a fixed number of simulations, timed
      "launcher.parameters.max_concurrent=" + std::to_string(workers),
      "launcher.parameters.simulations_per_member=" + std::to_string(per_member),
      "reservoir.type=fifo",
      "reservoir.parameters={capacity: 4096, watermark: 1, batch_size: 32}"};
  return ex::load_study_file(std::string(SURGE_SOURCE_DIR) + "/experiments/heat2d_mlp.yaml",
                             overrides);
}

// `bench_ensemble --compute <simulations> <first> <count>`: a copy that computes members
// first .. first+count-1 in process once told to (a line on stdin), after saying "ready", and
// prints "<frames> <seconds>".
int compute_copy(int simulations, int first, int count) {
  const ex::Study study = bench_study(simulations, 1, 1, "/nonexistent");
  ex::MemberTable table(study);
  const auto all = table.initial();
  const std::vector<ex::MemberRecord> mine(all.begin() + first, all.begin() + first + count);
  std::printf("ready\n");
  std::fflush(stdout);
  std::string go;
  std::getline(std::cin, go);
  double cpu = 0;
  const double rate = in_process_rate(study, mine, cpu);
  const auto frames = static_cast<double>(count * static_cast<int>(study.facts.times.size()));
  std::printf("%.0f %.9f\n", frames, frames / rate);
  return 0;
}

// Samples per second of `copies` copies of this program computing the simulations at once,
// each its share: the sum of their rates.
double concurrent_in_process_rate(int simulations, int copies) {
  struct Copy {
    pid_t pid;
    int in;
    FILE* out;
  };
  std::vector<Copy> running;
  const std::string self = ex::self_executable();
  for (int k = 0; k < copies; ++k) {
    const int first = simulations * k / copies, last = simulations * (k + 1) / copies;
    const std::vector<std::string> args = {self, "--compute", std::to_string(simulations),
                                           std::to_string(first), std::to_string(last - first)};
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int to[2], from[2];
    SURGE_REQUIRE(pipe2(to, O_CLOEXEC) == 0 && pipe2(from, O_CLOEXEC) == 0, IoError,
                  "bench_ensemble: pipe: " << std::strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, from[1], STDOUT_FILENO);
    pid_t pid = -1;
    const std::vector<std::string> env = ex::launch_environment();
    std::vector<char*> envp;
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const int rc = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(to[0]);
    close(from[1]);
    SURGE_REQUIRE(rc == 0, IoError, "bench_ensemble: cannot start a copy: " << std::strerror(rc));
    running.push_back({pid, to[1], fdopen(from[0], "r")});
  }
  char line[256];
  for (auto& c : running) {
    SURGE_REQUIRE(std::fgets(line, sizeof line, c.out) && std::strncmp(line, "ready", 5) == 0,
                  IoError, "bench_ensemble: a computing copy did not start");
  }
  for (auto& c : running) {
    SURGE_REQUIRE(write(c.in, "go\n", 3) == 3, IoError, "bench_ensemble: cannot start a copy");
  }
  double rate = 0;
  for (auto& c : running) {
    double frames = 0, seconds = 0;
    SURGE_REQUIRE(std::fgets(line, sizeof line, c.out) &&
                      std::sscanf(line, "%lf %lf", &frames, &seconds) == 2 && seconds > 0,
                  IoError, "bench_ensemble: a computing copy failed");
    rate += frames / seconds;
    close(c.in);
    std::fclose(c.out);
    int status = 0;
    waitpid(c.pid, &status, 0);
  }
  return rate;
}

struct EnsembleRun {
  double rate = 0;
  double cpu_per_sample = 0;     // server and members, CPU seconds
  double server_per_sample = 0;  // the server's share (this process)
  double first_sample = 0;       // seconds from the launcher's start to the first sample
  double steady_rate = 0;        // samples/s after the first sample
  std::int64_t samples = 0;
  int workers_started = 0, done = 0;
};

// The members streamed by persistent workers into a fifo buffer that a thread drains.
EnsembleRun ensemble_rate(const ex::Study& study, std::vector<ex::MemberRecord> members) {
  const auto& cfg = study.cfg;
  surge::streaming::ReceiverConfig receiver_cfg = cfg.streaming;
  receiver_cfg.experiment = cfg.study.name;
  for (const auto& f : study.facts.layout) receiver_cfg.fields.push_back(f.name);
  const auto key = surge::streaming::make_admission_key();
  surge::streaming::Receiver receiver(receiver_cfg, key, 0);
  // One rank: the control channel has no peers, but its socket still needs the ranks' keys.
  const ex::ControlKeys control_keys{surge::streaming::make_curve_keypair(),
                                     surge::streaming::make_curve_keypair()};
  ex::ServerControl control(0, 1, receiver_cfg.data_endpoint, control_keys);
  surge::streaming::Front front(receiver_cfg, key, {receiver.endpoint()});
  auto buffer = ex::make_buffer(study);
  const auto frames = static_cast<std::int64_t>(study.facts.times.size());
  ex::FeederSetup setup;
  setup.layout = study.facts.layout;
  setup.nodes = static_cast<std::size_t>(study.facts.grid[0] * study.facts.grid[1]);
  setup.frames = frames;
  std::atomic<int> interrupted{0};
  ex::Feeder feeder(setup, receiver, control, *buffer, interrupted);
  for (const auto& m : members) control.set_role(m.simulation_id, m.role);

  auto silence = [&receiver](std::uint64_t id) {
    double quiet = -1;
    const auto now = surge::streaming::Clock::now();
    for (const auto& s : receiver.members()) {
      if (s.simulation == id) quiet = std::chrono::duration<double>(now - s.last_seen).count();
    }
    return quiet;
  };
  auto redraw = [](const ex::MemberRecord& failed) -> ex::MemberRecord {
    SURGE_THROW(Error, "bench_ensemble: simulation " << failed.simulation_id << " failed");
  };
  ex::LocalLauncher::Hooks hooks;
  hooks.delivery = [&](std::uint64_t id) {
    if (front.assigned_rank(id) < 0) return ex::LocalLauncher::Delivery{"not connected", false};
    const auto steps = feeder.delivered(id);
    if (!steps || *steps != frames) return ex::LocalLauncher::Delivery{"not yet", false};
    return ex::LocalLauncher::Delivery{};
  };
  const std::size_t n = members.size();
  auto launcher = ex::make_launcher(study, std::move(members), front.endpoint(), silence, redraw,
                                    std::move(hooks));
  ex::ServerControl::Hooks control_hooks;
  control_hooks.liveness = [&receiver] { return receiver.members(); };
  control_hooks.final_lists = [&]() -> std::optional<std::vector<std::vector<std::uint64_t>>> {
    if (!launcher->finished()) return std::nullopt;
    std::vector<std::vector<std::uint64_t>> lists(1);
    for (const auto& m : launcher->members()) lists[0].push_back(m.simulation_id);
    return lists;
  };
  control_hooks.deliveries = [&feeder] { return feeder.delivered(); };
  control.start({control.endpoint()}, std::move(control_hooks));
  feeder.start();
  // The consumer: takes every batch as soon as it is served (the trainer's place, doing nothing).
  std::atomic<bool> stop{false};
  std::thread drain([&] {
    while (!stop) {
      if (!buffer->next_batch()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  const double t0 = now_seconds();
  const double self0 = cpu_seconds(RUSAGE_SELF), children0 = cpu_seconds(RUSAGE_CHILDREN);
  launcher->start();
  // Start-up: until the first sample is in the buffer (the workers' mpirun, MPI and Kokkos
  // initialisation, the first handshake and the first frame).
  double first_sample = -1;
  while (!launcher->finished() || !feeder.over()) {
    if (first_sample < 0 && feeder.received() > 0) first_sample = now_seconds() - t0;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double seconds = now_seconds() - t0;
  stop = true;
  drain.join();
  // Every worker has exited and been reaped (with its ranks) once the launcher finished.
  const double server_cpu = cpu_seconds(RUSAGE_SELF) - self0;
  const double cpu = server_cpu + cpu_seconds(RUSAGE_CHILDREN) - children0;
  control.stop();
  EnsembleRun r;
  r.samples = feeder.received();
  r.rate = static_cast<double>(r.samples) / seconds;
  r.cpu_per_sample = cpu / static_cast<double>(r.samples);
  r.server_per_sample = server_cpu / static_cast<double>(r.samples);
  r.first_sample = first_sample;
  r.steady_rate = static_cast<double>(r.samples) / (seconds - first_sample);
  r.workers_started = dynamic_cast<ex::LocalLauncher&>(*launcher).workers_started();
  if (r.workers_started == 0) r.workers_started = static_cast<int>(n);  // a process each
  r.done = launcher->counts().done;
  SURGE_REQUIRE(launcher->gave_up().empty() && r.done == static_cast<int>(n) &&
                    r.samples == static_cast<std::int64_t>(n) * frames,
                IoError,
                "bench_ensemble: " << r.done << " of " << n << " simulations done, " << r.samples
                                   << " samples (" << launcher->gave_up() << ")");
  std::printf(
      "ensemble: %zu simulations in %d processes, %lld samples in %.2f s, the first after %.2f "
      "s (start-up); %llu ZeroMQ messages (%.1f samples a message: the clients' batches)\n",
      n, r.workers_started, static_cast<long long>(r.samples), seconds, first_sample,
      static_cast<unsigned long long>(receiver.wire_messages()),
      static_cast<double>(r.samples) /
          static_cast<double>(std::max<std::uint64_t>(1, receiver.wire_messages())));
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  ex::capture_launch_environment();
  surge::core::MpiSession mpi(&argc, &argv);
  surge::solvers::KokkosSession kokkos;
  surge::core::Logger::set_level(surge::core::parse_log_level("warn"));
  if (argc == 5 && std::string(argv[1]) == "--compute") {
    return compute_copy(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]));
  }
  std::printf("allocator: %s\n", SURGE_BENCH_ALLOCATOR);
  const int simulations = argc > 1 ? std::atoi(argv[1]) : 120;
  const int workers = argc > 2 ? std::atoi(argv[2]) : 2;
  const int per_member = argc > 3 ? std::atoi(argv[3]) : simulations;
  const auto out =
      std::filesystem::temp_directory_path() / ("bench_ensemble_" + std::to_string(getpid()));
  const ex::Study study = bench_study(simulations, workers, per_member, out);
  std::filesystem::create_directories(out / "logs");
  ex::MemberTable table(study);
  const std::vector<ex::MemberRecord> members = table.initial();

  const EnsembleRun ensemble = ensemble_rate(study, members);
  double in_process_cpu = 0;
  const double one_process = in_process_rate(study, members, in_process_cpu);
  const double bound = concurrent_in_process_rate(simulations, workers);
  std::printf("in process (%d x %zu frames): %.0f samples/s in one process, %.0f in %d at once\n",
              simulations, study.facts.times.size(), one_process, bound, workers);
  // What the ensemble costs beyond the solver's work, whatever else runs on the machine: CPU
  // per sample of the server and its members (MPI start-up, streaming, receiving, building
  // samples) against the solver's alone.
  std::printf(
      "CPU per sample: ensemble %.1f us (server %.1f + members %.1f), in process %.1f us: %.2f\n",
      1e6 * ensemble.cpu_per_sample, 1e6 * ensemble.server_per_sample,
      1e6 * (ensemble.cpu_per_sample - ensemble.server_per_sample), 1e6 * in_process_cpu,
      in_process_cpu / ensemble.cpu_per_sample);
  // The rate once every worker runs, which a longer ensemble approaches: the start-up is
  // paid once per worker (the RESULT line includes it).
  std::printf("after start-up: %.0f samples/s, %.2f of the bound\n", ensemble.steady_rate,
              ensemble.steady_rate / bound);
  if (std::getenv("SURGE_BENCH_KEEP")) {
    std::printf("logs: %s\n", (out / "logs").c_str());
  } else {
    std::filesystem::remove_all(out);
  }
  surge::bench::print_result("ensemble_rate", ensemble.rate, "samples/s", bound);
  return 0;
}
