// `surge run exp.yaml [key=value ...]`: one online-training study. The server (this process,
// on one or more MPI ranks) binds the stream, the launcher starts the ensemble members,
// received fields become samples in each rank's reservoir, the trainer replicas learn from
// them (gradients averaged over the ranks), and rank 0 writes the output directory.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <zmq.hpp>

#include "surge/core/config.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "surge/core/progress.hpp"
#include "surge/experiments/cli.hpp"
#include "surge/experiments/experiment_config.hpp"
#include "surge/experiments/launcher.hpp"
#include "surge/experiments/results_writer.hpp"
#include "surge/experiments/sample_builder.hpp"
#include "surge/experiments/sampler.hpp"
#include "surge/reservoir/registry.hpp"
#include "surge/solvers/kokkos_aliases.hpp"
#include "surge/solvers/member.hpp"
#include "surge/solvers/solver.hpp"
#include "surge/streaming/front.hpp"
#include "surge/streaming/receiver.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

namespace {

std::atomic<int> g_interrupted{0};
extern "C" void on_interrupt(int) { g_interrupted = 1; }

struct RunOptions {
  std::string file;
  std::vector<std::string> overrides;
  bool help = false, dry_run = false, overwrite = false, plots = true;
};

void print_help() {
  std::printf(
      "usage: surge run <experiment.yaml> [key=value ...] [options]\n"
      "\nRuns one online-training study: starts the ensemble members, streams their fields\n"
      "into the training buffer, trains the surrogate, and writes results.h5, model/ and\n"
      "plots/ into study.output_dir. Keys are documented in experiments/README.md.\n"
      "\noptions:\n"
      "  --dry-run       check everything, print the resolved configuration, start nothing\n"
      "  --overwrite     reuse an output directory that exists and is not empty\n"
      "  --no-plots      do not call experiments/plot_results.py at the end\n"
      "  --log-level L   debug, info, warn, error, off (default: info)\n"
      "  --help          this text\n"
      "\nexperiment keys:\n%s",
      core::format_key_docs(core::describe_config<ExperimentConfig>()).c_str());
  std::printf("\nparameters.sampler types: halton, lhs, uniform (no parameters)\n");
  std::printf("\nlauncher type local, parameters:\n%s",
              core::format_key_docs(core::describe_config<LauncherConfig>()).c_str());
  const auto& buffers = reservoir::buffer_registry<reservoir::Sample>();
  for (const auto& name : buffers.names()) {
    const auto& entry = buffers.at(name);
    std::printf("\nreservoir type %s (%s), parameters:\n%s", name.c_str(), entry.summary.c_str(),
                core::format_key_docs(entry.keys()).c_str());
  }
  for (const auto& model : surrogates::model_types()) {
    std::printf("\nmodel type %s (%s), parameters:\n%s", model.name.c_str(), model.summary.c_str(),
                core::format_key_docs(model.keys).c_str());
  }
}

RunOptions parse(const std::vector<std::string>& args) {
  RunOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--dry-run") {
      o.dry_run = true;
    } else if (a == "--overwrite") {
      o.overwrite = true;
    } else if (a == "--no-plots") {
      o.plots = false;
    } else if (a == "--log-level") {
      SURGE_REQUIRE(i + 1 < args.size(), ConfigError, "--log-level needs a value");
      core::Logger::set_level(core::parse_log_level(args[++i]));
    } else if (a.rfind("--", 0) == 0) {
      SURGE_THROW(ConfigError, "unknown option '" << a << "' (see surge run --help)");
    } else if (core::is_override(a)) {
      o.overrides.push_back(a);
    } else if (o.file.empty()) {
      o.file = a;
    } else {
      SURGE_THROW(ConfigError, "unexpected argument '" << a << "' (keys are set as key=value)");
    }
  }
  return o;
}

// YAML scalar or flow text of a solver key, as `surge solve` takes it in key=value.
std::string as_argument(const YAML::Node& value) {
  if (value.IsScalar()) return value.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << value;
  return out.c_str();
}

std::string self_executable() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  SURGE_REQUIRE(!ec, IoError,
                "cannot find the surge executable (/proc/self/exe): " << ec.message());
  return p.string();
}

// What the probe member says about the solver: its parameters (with the values of those the
// study does not vary), fields, grid, frame times, periodic axes.
struct SolverFacts {
  std::vector<std::string> parameter_names;
  std::map<std::string, double> defaults;
  std::vector<surrogates::FieldLayout> layout;  // the streamed fields and their components
  std::vector<std::int64_t> grid;
  std::vector<double> times;  // frame times: the initial state, then the outputs
  std::vector<bool> periodic;
};

SolverFacts probe_solver(const ExperimentConfig& cfg, const core::ConfigSource& source) {
  // Build one member on this process with the shared keys plus the middle of every range:
  // this checks the solver keys before anything starts, and tells what the members produce.
  YAML::Node params = YAML::Clone(cfg.solver.parameters);
  for (const auto& [name, range] : cfg.parameters.ranges) {
    SURGE_REQUIRE(!params[name].IsDefined(), ConfigError,
                  "'" << name << "' is both sampled (parameters.ranges) and fixed "
                      << "(solver.parameters); keep one");
    params[name] = 0.5 * (range.min + range.max);
  }
  core::ConfigSource solver_source = source;
  const auto& entry = solvers::solver_registry().at(cfg.solver.type);
  std::unique_ptr<solvers::Solver> probe;
  try {
    probe = entry.create(params, solver_source, MPI_COMM_SELF);
  } catch (const core::ConfigError& e) {
    SURGE_THROW(ConfigError, "solver.parameters: " << e.message());
  }
  SolverFacts facts;
  for (const auto& [name, value] : probe->parameters()) {
    facts.parameter_names.push_back(name);
    if (!cfg.parameters.ranges.count(name)) facts.defaults[name] = value;
  }
  for (const auto& f : probe->fields())
    facts.layout.push_back({f.name, f.order == 0 ? 1 : f.components});
  facts.grid = {probe->decomposition().nx(), probe->decomposition().ny()};
  facts.times = solvers::frame_times(*probe);
  facts.periodic = {false, false};
  for (const auto& bc : probe->boundary_conditions()) {
    if (bc.type == "periodic" && (bc.axis == "x" || bc.axis == "y"))
      facts.periodic[bc.axis == "x" ? 0 : 1] = true;
  }
  for (const auto& [name, range] : cfg.parameters.ranges) {
    SURGE_REQUIRE(std::find(facts.parameter_names.begin(), facts.parameter_names.end(), name) !=
                      facts.parameter_names.end(),
                  ConfigError,
                  "'parameters.ranges." << name << "' is not a parameter of " << cfg.solver.type);
  }
  return facts;
}

// Everything the feeder thread counts, read by the progress line and the results writer.
struct Reception {
  std::mutex mutex;
  std::map<std::uint64_t, std::int64_t> samples;  // by simulation
  std::set<std::uint64_t> ended;
  std::vector<reservoir::Sample> validation;
  std::string error;  // why the feeder stopped early, if it did
  std::atomic<std::int64_t> received{0};
  std::atomic<std::int64_t> rejected{0};  // fields the sample builder could not use
  std::atomic<bool> over{false};
};

// --- MPI between the server ranks (main threads only: MPI is initialised FUNNELED) ---------

// Waits for a non-blocking MPI call without spinning a core: a rank's main thread may wait
// here while rank 0 waits for members that need the cores.
void wait_request(MPI_Request& request) {
  int done = 0;
  while (true) {
    SURGE_MPI_CHECK(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Rank 0's `v` on every rank.
void bcast_vector(std::vector<std::int64_t>& v) {
  std::int64_t n = static_cast<std::int64_t>(v.size());
  MPI_Request request;
  SURGE_MPI_CHECK(MPI_Ibcast(&n, 1, MPI_INT64_T, 0, MPI_COMM_WORLD, &request));
  wait_request(request);
  v.resize(static_cast<std::size_t>(n));
  SURGE_MPI_CHECK(
      MPI_Ibcast(v.data(), static_cast<int>(n), MPI_INT64_T, 0, MPI_COMM_WORLD, &request));
  wait_request(request);
}

// Every rank's bytes, in rank order, on every rank (root < 0) or on `root`.
std::vector<std::vector<char>> gather_bytes(const std::vector<char>& mine, int root = -1) {
  const int size = core::comm_size(MPI_COMM_WORLD), rank = core::comm_rank(MPI_COMM_WORLD);
  SURGE_REQUIRE(mine.size() < (std::size_t{1} << 30), MpiError,
                "surge run: " << mine.size() << " bytes are too many to gather over MPI");
  int n = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(counts.size());
  MPI_Request request;
  SURGE_MPI_CHECK(
      MPI_Iallgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD, &request));
  wait_request(request);
  std::size_t total = 0;
  for (std::size_t k = 0; k < counts.size(); ++k) {
    displs[k] = static_cast<int>(total);
    total += static_cast<std::size_t>(counts[k]);
  }
  SURGE_REQUIRE(total < (std::size_t{1} << 31), MpiError,
                "surge run: " << total << " bytes are too many to gather over MPI");
  std::vector<char> all(std::max<std::size_t>(total, 1));
  if (root < 0) {
    SURGE_MPI_CHECK(MPI_Iallgatherv(mine.data(), n, MPI_BYTE, all.data(), counts.data(),
                                    displs.data(), MPI_BYTE, MPI_COMM_WORLD, &request));
  } else {
    SURGE_MPI_CHECK(MPI_Igatherv(mine.data(), n, MPI_BYTE, all.data(), counts.data(), displs.data(),
                                 MPI_BYTE, root, MPI_COMM_WORLD, &request));
  }
  wait_request(request);
  std::vector<std::vector<char>> out;
  if (root >= 0 && rank != root) return out;
  for (std::size_t k = 0; k < counts.size(); ++k) {
    out.emplace_back(all.begin() + displs[k], all.begin() + displs[k] + counts[k]);
  }
  return out;
}

// A flat byte encoding of plain values, for gather_bytes().
struct Packer {
  std::vector<char> bytes;
  template <class T>
  void put(const T& value) {
    const char* p = reinterpret_cast<const char*>(&value);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }
  template <class T>
  void put_vector(const std::vector<T>& v) {
    put(static_cast<std::int64_t>(v.size()));
    const char* p = reinterpret_cast<const char*>(v.data());
    bytes.insert(bytes.end(), p, p + v.size() * sizeof(T));
  }
};
struct Unpacker {
  const std::vector<char>& bytes;
  std::size_t at = 0;
  [[nodiscard]] bool done() const { return at >= bytes.size(); }
  template <class T>
  T get() {
    SURGE_REQUIRE(at + sizeof(T) <= bytes.size(), MpiError, "surge run: truncated MPI message");
    T value;
    std::memcpy(&value, bytes.data() + at, sizeof(T));
    at += sizeof(T);
    return value;
  }
  template <class T>
  std::vector<T> get_vector() {
    const auto n = static_cast<std::size_t>(get<std::int64_t>());
    SURGE_REQUIRE(at + n * sizeof(T) <= bytes.size(), MpiError, "surge run: truncated MPI message");
    std::vector<T> v(n);
    if (n > 0) std::memcpy(v.data(), bytes.data() + at, n * sizeof(T));
    at += n * sizeof(T);
    return v;
  }
};

// Every rank's validation samples, on every rank (the same set, in rank order).
std::vector<reservoir::Sample> allgather_samples(const std::vector<reservoir::Sample>& mine) {
  Packer p;
  for (const auto& s : mine) {
    p.put(s.simulation_id);
    p.put(s.step);
    p.put_vector(s.x);
    p.put_vector(s.y);
  }
  std::vector<reservoir::Sample> all;
  for (const auto& bytes : gather_bytes(p.bytes)) {
    Unpacker u{bytes};
    while (!u.done()) {
      reservoir::Sample s;
      s.simulation_id = u.get<std::int64_t>();
      s.step = u.get<std::int64_t>();
      s.x = u.get_vector<float>();
      s.y = u.get_vector<float>();
      all.push_back(std::move(s));
    }
  }
  return all;
}

// What each server rank received and its buffer did, summed (or listed) on rank 0.
struct ServerTotals {
  std::map<std::uint64_t, std::int64_t> samples;  // by simulation, summed over ranks
  std::vector<ServerRankCounts> ranks;
  reservoir::Statistics statistics;  // counters and histograms summed; occupancy of rank 0
};

ServerTotals reduce_to_rank0(const std::map<std::uint64_t, std::int64_t>& samples,
                             std::int64_t received, const reservoir::Statistics& s) {
  Packer p;
  p.put(received);
  for (std::int64_t v : {s.puts, s.rejected_puts, s.gets, s.batches, s.evictions,
                         s.forced_evictions, s.seen_removed_sum}) {
    p.put(v);
  }
  p.put(s.producer_blocked_seconds);
  p.put(s.consumer_wait_seconds);
  p.put_vector(s.seen_at_removal);
  p.put_vector(s.seen_held);
  std::vector<std::int64_t> pairs;
  for (const auto& [sim, n] : samples) {
    pairs.push_back(static_cast<std::int64_t>(sim));
    pairs.push_back(n);
  }
  p.put_vector(pairs);
  ServerTotals totals;
  totals.statistics.occupancy = s.occupancy;
  auto add = [](std::vector<std::int64_t>& into, const std::vector<std::int64_t>& h) {
    if (into.size() < h.size()) into.resize(h.size(), 0);
    for (std::size_t i = 0; i < h.size(); ++i) into[i] += h[i];
  };
  for (const auto& bytes : gather_bytes(p.bytes, 0)) {
    Unpacker u{bytes};
    reservoir::Statistics& t = totals.statistics;
    ServerRankCounts c;
    c.received = u.get<std::int64_t>();
    c.puts = u.get<std::int64_t>();
    c.rejected_puts = u.get<std::int64_t>();
    c.gets = u.get<std::int64_t>();
    c.batches = u.get<std::int64_t>();
    t.puts += c.puts;
    t.rejected_puts += c.rejected_puts;
    t.gets += c.gets;
    t.batches += c.batches;
    t.evictions += u.get<std::int64_t>();
    t.forced_evictions += u.get<std::int64_t>();
    t.seen_removed_sum += u.get<std::int64_t>();
    t.producer_blocked_seconds += u.get<double>();
    t.consumer_wait_seconds += u.get<double>();
    add(t.seen_at_removal, u.get_vector<std::int64_t>());
    add(t.seen_held, u.get_vector<std::int64_t>());
    const auto sims = u.get_vector<std::int64_t>();
    for (std::size_t i = 0; i + 1 < sims.size(); i += 2) {
      totals.samples[static_cast<std::uint64_t>(sims[i])] += sims[i + 1];
    }
    totals.ranks.push_back(c);
  }
  return totals;
}

// --- ZeroMQ between the server ranks' threads ----------------------------------------------

// The server ranks' control channel. Only main threads may call MPI, but the feeder threads
// must learn when reception is over and the launcher (rank 0) when a member assigned to
// another rank went silent, while the main threads are busy training. So every rank binds a
// PULL socket; rank 0 pushes to every other rank the role of each redrawn member and, once
// the launcher has finished, the simulations whose end each rank must see; the other ranks
// push to rank 0, every 250 ms, how long ago they last heard of each of their members. On
// one rank it is the same code without peers.
class ServerControl {
 public:
  using Liveness = std::function<std::vector<streaming::MemberStatus>()>;
  // Rank 0: the simulations each rank must see end, once the launcher has finished.
  using FinalLists = std::function<std::optional<std::vector<std::vector<std::uint64_t>>>()>;

  // Binds the PULL socket on the host of `data_endpoint` (a kernel-chosen port). Throws
  // ConfigError if it cannot.
  ServerControl(int rank, int size, const std::string& data_endpoint)
      : rank_(rank), size_(size), context_(1), in_(context_, zmq::socket_type::pull) {
    std::string host = "127.0.0.1";
    if (data_endpoint.rfind("tcp://", 0) == 0 && data_endpoint.rfind(':') > 5) {
      host = data_endpoint.substr(6, data_endpoint.rfind(':') - 6);
    }
    in_.set(zmq::sockopt::linger, 0);
    try {
      in_.bind("tcp://" + host + ":*");
    } catch (const zmq::error_t& e) {
      SURGE_THROW(ConfigError, "cannot bind the server control socket on '"
                                   << host << "' (from streaming.data_endpoint): " << e.what());
    }
    endpoint_ = in_.get(zmq::sockopt::last_endpoint);
  }
  ~ServerControl() { stop(); }
  ServerControl(const ServerControl&) = delete;
  ServerControl& operator=(const ServerControl&) = delete;

  [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }

  // Connects to the other ranks (`endpoints[k]` is rank k's) and starts the thread.
  void start(const std::vector<std::string>& endpoints, Liveness liveness, FinalLists final_lists) {
    liveness_ = std::move(liveness);
    final_lists_ = std::move(final_lists);
    for (int k = 0; k < size_; ++k) {
      if (k == rank_ || (rank_ != 0 && k != 0)) continue;
      zmq::socket_t s(context_, zmq::socket_type::push);
      // Long enough for the last messages to leave when the socket closes.
      s.set(zmq::sockopt::linger, 5000);
      s.connect(endpoints[static_cast<std::size_t>(k)]);
      out_.emplace_back(k, std::move(s));
    }
    thread_ = std::thread([this] { run(); });
  }

  // Publishes what is left (rank 0) and stops the thread (idempotent).
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // Records a member's role on this rank only (the initial members: every rank knows them).
  void set_role(std::uint64_t simulation, MemberRole role) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      roles_[simulation] = role;
    }
    role_known_.notify_all();
  }
  // Rank 0: records a redrawn member's role here and sends it to every other rank.
  void announce_role(std::uint64_t simulation, MemberRole role) {
    set_role(simulation, role);
    std::lock_guard<std::mutex> lock(mutex_);
    outgoing_roles_.emplace_back(simulation, role);
  }
  // The role of `simulation`, waiting until rank 0 has said it; nothing if `give_up` is set
  // first.
  [[nodiscard]] std::optional<MemberRole> role_of(std::uint64_t simulation,
                                                  const std::atomic<bool>& give_up) {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!roles_.count(simulation)) {
      if (give_up) return std::nullopt;
      role_known_.wait_for(lock, std::chrono::milliseconds(50));
    }
    return roles_.at(simulation);
  }
  // The simulations this rank must see end before reception is over, once rank 0 knows.
  [[nodiscard]] std::optional<std::set<std::uint64_t>> expected_ends() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return expected_;
  }
  // Rank 0: seconds since another rank last heard of `simulation`, or -1 if none did.
  [[nodiscard]] double remote_silence(std::uint64_t simulation) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = last_seen_.find(simulation);
    if (it == last_seen_.end()) return -1.0;
    return std::chrono::duration<double>(streaming::Clock::now() - it->second).count();
  }

 private:
  void send(zmq::socket_t& s, const std::string& text) {
    s.send(zmq::buffer(text), zmq::send_flags::none);
  }

  void handle(const std::string& text) {
    std::istringstream in(text);
    std::string kind;
    in >> kind;
    if (kind == "role") {
      std::uint64_t sim = 0;
      int role = 0;
      in >> sim >> role;
      set_role(sim, role == 0 ? MemberRole::validation : MemberRole::train);
    } else if (kind == "final") {
      std::set<std::uint64_t> ids;
      std::uint64_t sim = 0;
      while (in >> sim) ids.insert(sim);
      std::lock_guard<std::mutex> lock(mutex_);
      expected_ = std::move(ids);
    } else if (kind == "live") {
      const auto now = streaming::Clock::now();
      std::uint64_t sim = 0;
      double quiet = 0;
      std::lock_guard<std::mutex> lock(mutex_);
      while (in >> sim >> quiet) {
        const auto seen = now - std::chrono::duration_cast<streaming::Clock::duration>(
                                    std::chrono::duration<double>(quiet));
        auto [it, fresh] = last_seen_.emplace(sim, seen);
        if (!fresh && seen > it->second) it->second = seen;
      }
    }
  }

  void run() {
    auto last_report = streaming::Clock::now() - std::chrono::seconds(1);
    bool published = false;
    while (true) {
      const bool stopping = stop_;
      zmq::pollitem_t item{in_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(stopping ? 0 : 50));
      zmq::message_t message;
      while (in_.recv(message, zmq::recv_flags::dontwait)) handle(message.to_string());
      if (rank_ == 0) {
        std::vector<std::pair<std::uint64_t, MemberRole>> roles;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          roles.swap(outgoing_roles_);
        }
        for (const auto& [sim, role] : roles) {
          const std::string text =
              "role " + std::to_string(sim) + " " + (role == MemberRole::validation ? "0" : "1");
          for (auto& [k, s] : out_) send(s, text);
        }
        if (!published && final_lists_) {
          if (auto lists = final_lists_()) {
            published = true;
            for (auto& [k, s] : out_) {
              std::string text = "final";
              for (auto sim : (*lists)[static_cast<std::size_t>(k)]) {
                text += " " + std::to_string(sim);
              }
              send(s, text);
            }
            const auto& own = (*lists)[0];
            std::lock_guard<std::mutex> lock(mutex_);
            expected_ = std::set<std::uint64_t>(own.begin(), own.end());
          }
        }
      } else if (streaming::Clock::now() - last_report > std::chrono::milliseconds(250)) {
        last_report = streaming::Clock::now();
        std::map<std::uint64_t, double> quiet;
        for (const auto& m : liveness_()) {
          const double q = std::chrono::duration<double>(last_report - m.last_seen).count();
          auto [it, fresh] = quiet.emplace(m.simulation, q);
          if (!fresh) it->second = std::min(it->second, q);
        }
        std::ostringstream text;
        text.precision(6);
        text << "live";
        for (const auto& [sim, q] : quiet) text << ' ' << sim << ' ' << q;
        send(out_.front().second, text.str());
      }
      if (stopping) break;
    }
  }

  int rank_, size_;
  zmq::context_t context_;
  zmq::socket_t in_;
  std::vector<std::pair<int, zmq::socket_t>> out_;  // rank 0: to every rank; others: to rank 0
  std::string endpoint_;
  Liveness liveness_;
  FinalLists final_lists_;
  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable role_known_;
  std::map<std::uint64_t, MemberRole> roles_;
  std::vector<std::pair<std::uint64_t, MemberRole>> outgoing_roles_;
  std::optional<std::set<std::uint64_t>> expected_;
  std::map<std::uint64_t, streaming::Clock::time_point> last_seen_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

int run_command(const std::vector<std::string>& args) {
  RunOptions o = parse(args);
  const int rank = core::Logger::rank();
  if (o.help) {
    if (rank == 0) print_help();
    return 0;
  }
  SURGE_REQUIRE(!o.file.empty(), ConfigError,
                "no experiment file (usage: surge run <experiment.yaml> [key=value ...])");
  const int size = core::comm_size(MPI_COMM_WORLD);

  // --- configuration: everything is checked before anything starts -----------------------
  core::ConfigSource source;
  source.file = o.file;
  YAML::Node root = core::load_yaml_file(o.file);
  for (const auto& assignment : o.overrides) core::apply_override(root, assignment, source);
  ExperimentConfig cfg = core::read_config<ExperimentConfig>(root, source);
  SURGE_REQUIRE(cfg.launcher.type == "local", ConfigError,
                "unknown launcher '" << cfg.launcher.type << "' (known: local)");
  const LauncherConfig launcher_cfg =
      core::read_config<LauncherConfig>(cfg.launcher.parameters, source, "launcher.parameters");
  streaming::ReceiverConfig receiver_cfg = cfg.streaming;
  const surrogates::TrainingConfig& training_cfg = cfg.training;
  surrogates::check_model_config(cfg.model, source, "model");
  // Build the buffer now: its factory validates the parameters.
  auto buffer = reservoir::buffer_registry<reservoir::Sample>()
                    .at(cfg.reservoir.type)
                    .create(cfg.reservoir.parameters, source, "reservoir.parameters");
  const std::string kind = surrogates::model_kind(cfg.model.type);
  const bool next_step = kind == surrogates::kNextStep;
  if (next_step) {
    const std::int64_t window = buffer->window_length();
    SURGE_REQUIRE(
        cfg.reservoir.type == "trajectory" && window == training_cfg.rollout_steps + 1, ConfigError,
        "model type '" << cfg.model.type << "' learns next_step samples: it needs "
                       << "reservoir type trajectory with window = "
                       << "training.rollout_steps + 1 = " << training_cfg.rollout_steps + 1
                       << " (got " << cfg.reservoir.type << ", window " << window << ")");
  }

  solvers::KokkosSession kokkos;
  const SolverFacts facts = probe_solver(cfg, source);
  // Parameters the study does not vary keep the solver's default, as fixed values: every
  // member is told them, and results.h5 records them.
  for (const auto& [name, value] : facts.defaults) cfg.parameters.ranges[name] = {value, value};
  (void)make_sampler(cfg.parameters.sampler, cfg.parameters.ranges, 0, 1);
  if (next_step) {
    SURGE_REQUIRE(static_cast<std::int64_t>(facts.times.size()) >
                      cfg.samples.stride * training_cfg.rollout_steps,
                  ConfigError,
                  "samples.stride (" << cfg.samples.stride << ") x training.rollout_steps ("
                                     << training_cfg.rollout_steps << ") must be below the "
                                     << facts.times.size() << " frames of a member");
  }
  const std::string mpirun = find_on_path(launcher_cfg.mpirun);
  SURGE_REQUIRE(!mpirun.empty(), ConfigError,
                "launcher.parameters.mpirun: '" << launcher_cfg.mpirun
                                                << "' is not on PATH (install openmpi-bin)");
  const fs::path out_dir = fs::absolute(cfg.study.output_dir);
  {
    std::error_code ec;
    const bool exists = fs::exists(out_dir, ec);
    SURGE_REQUIRE(!exists || fs::is_directory(out_dir, ec), ConfigError,
                  "study.output_dir '" << out_dir.string() << "' is a file");
    SURGE_REQUIRE(
        !exists || o.overwrite || fs::is_empty(out_dir, ec), ConfigError,
        "study.output_dir '" << out_dir.string() << "' exists and is not empty (use --overwrite)");
  }

  // The resolved configuration: every part with its defaults filled in.
  YAML::Node resolved = core::dump_config(cfg);
  resolved["launcher"]["parameters"] = core::dump_config(launcher_cfg);
  const std::string resolved_text = core::to_yaml_text(resolved);
  if (o.dry_run) {
    if (rank == 0) std::cout << resolved_text;
    return 0;
  }

  // --- server: every rank a receiver, a buffer and a trainer replica -----------------------
  // Rank 0 also runs the front and the launcher. Each rank's feeder thread puts what its
  // receiver gets into its buffer; the trainers average gradients over the ranks.
  core::Logger log("run");
  receiver_cfg.experiment = cfg.study.name;
  for (const auto& f : facts.layout) receiver_cfg.fields.push_back(f.name);
  std::vector<std::int64_t> key_holder;
  if (rank == 0) key_holder.push_back(static_cast<std::int64_t>(streaming::make_admission_key()));
  bcast_vector(key_holder);  // every rank has checked its inputs once this returns
  const auto key = static_cast<std::uint64_t>(key_holder.at(0));
  if (rank == 0) {
    if (o.overwrite && fs::exists(out_dir)) {
      for (const char* stale : {"results.h5", "model", "plots", "logs", "checkpoints"}) {
        fs::remove_all(out_dir / stale);
      }
    }
    fs::create_directories(out_dir);
  }
  streaming::Receiver receiver(receiver_cfg, key, static_cast<std::uint32_t>(rank));
  ServerControl control(rank, size, receiver_cfg.data_endpoint);
  std::vector<std::string> data_endpoints, control_endpoints;
  {
    const std::string mine = receiver.endpoint() + "\n" + control.endpoint();
    for (const auto& bytes : gather_bytes(std::vector<char>(mine.begin(), mine.end()))) {
      const std::string text(bytes.begin(), bytes.end());
      data_endpoints.push_back(text.substr(0, text.find('\n')));
      control_endpoints.push_back(text.substr(text.find('\n') + 1));
    }
  }
  std::unique_ptr<streaming::Front> front;
  if (rank == 0) {
    front = std::make_unique<streaming::Front>(receiver_cfg, key, data_endpoints);
    SURGE_LOG(log, info,
              "study '" << cfg.study.name << "': server listening on " << front->endpoint() << " ("
                        << size << " server rank" << (size > 1 ? "s" : "") << "), output in "
                        << out_dir.string());
  }

  surrogates::IoDescription io;
  io.kind = kind;
  io.solver = cfg.solver.type;
  for (const auto& name : facts.parameter_names) {
    const auto& r = cfg.parameters.ranges.at(name);
    io.inputs.push_back({name, r.min, r.max});
  }
  if (!next_step) io.inputs.push_back({"t", 0.0, facts.times.back()});
  io.layout = facts.layout;
  io.fields = surrogates::channel_names(facts.layout);
  io.grid = facts.grid;
  io.times = facts.times;
  io.periodic = facts.periodic;
  if (next_step) {
    io.stride = cfg.samples.stride;
    io.dt = facts.times[static_cast<std::size_t>(io.stride)] - facts.times[0];
    io.increment = training_cfg.target == "increment";
  }
  surrogates::TrainingConfig training = training_cfg;
  if (!fs::path(training.checkpoint_dir).is_absolute()) {
    training.checkpoint_dir = (out_dir / training.checkpoint_dir).string();
  }
  surrogates::Trainer trainer(cfg.model, training, io, MPI_COMM_WORLD, source);

  // --- members (rank 0) ----------------------------------------------------------------------
  const std::size_t n_val = static_cast<std::size_t>(cfg.parameters.validation_members);
  const std::size_t n_train = static_cast<std::size_t>(cfg.parameters.train_members);
  // Every rank knows the roles of the first members (validation first); rank 0 announces
  // those of redrawn members before they start.
  for (std::size_t i = 0; i < n_val + n_train; ++i) {
    control.set_role(i, i < n_val ? MemberRole::validation : MemberRole::train);
  }
  // Sampled values come in the ranges' (name) order; members and surrogate use the solver's.
  std::vector<std::string> range_names;
  for (const auto& [name, r] : cfg.parameters.ranges) range_names.push_back(name);
  std::unique_ptr<LocalLauncher> launcher;
  if (rank == 0) {
    auto sampler = std::shared_ptr<Sampler>(
        make_sampler(cfg.parameters.sampler, cfg.parameters.ranges,
                     static_cast<std::uint64_t>(cfg.study.seed), n_val + n_train));
    auto next_id = std::make_shared<std::uint64_t>(0);
    auto id_mutex = std::make_shared<std::mutex>();
    auto draw = [sampler, next_id, id_mutex](MemberRole role) {
      std::lock_guard<std::mutex> lock(*id_mutex);
      MemberRecord m;
      m.simulation_id = (*next_id)++;
      m.role = role;
      m.parameters = sampler->next();
      return m;
    };
    std::vector<MemberRecord> members;
    for (std::size_t i = 0; i < n_val; ++i) members.push_back(draw(MemberRole::validation));
    for (std::size_t i = 0; i < n_train; ++i) members.push_back(draw(MemberRole::train));

    const std::string surge_exe = self_executable();
    const std::string front_endpoint = front->endpoint();
    auto command = [=, &cfg, &launcher_cfg](const MemberRecord& m, int attempt) {
      std::vector<std::string> c = {mpirun};
      // Open MPI refuses to start as root unless told; CI containers and clusters' admins do.
      if (geteuid() == 0) c.push_back("--allow-run-as-root");
      for (const auto& a : launcher_cfg.mpirun_args) c.push_back(a);
      c.insert(c.end(),
               {"-np", std::to_string(cfg.solver.ranks), surge_exe, "solve", cfg.solver.type});
      for (const auto& kv : cfg.solver.parameters) {
        c.push_back(kv.first.as<std::string>() + "=" + as_argument(kv.second));
      }
      for (std::size_t k = 0; k < range_names.size(); ++k) {
        c.push_back(range_names[k] + "=" + core::detail::to_text(m.parameters[k]));
      }
      c.insert(c.end(),
               {"--stream", front_endpoint, "--experiment", cfg.study.name, "--simulation-id",
                std::to_string(m.simulation_id), "--log-level", "warn"});
      if (launcher_cfg.fail_once_simulation >= 0 &&
          m.simulation_id == static_cast<std::uint64_t>(launcher_cfg.fail_once_simulation) &&
          attempt == 1) {
        c.insert(c.end(), {"--fail-at-output", std::to_string(launcher_cfg.fail_once_at_output)});
      }
      return c;
    };
    // Seconds since any server rank last heard of the member (the others report to rank 0).
    auto silence = [&receiver, &control](std::uint64_t id) {
      double quiet = control.remote_silence(id);
      const auto now = streaming::Clock::now();
      for (const auto& s : receiver.members()) {
        if (s.simulation != id) continue;
        const double q = std::chrono::duration<double>(now - s.last_seen).count();
        quiet = quiet < 0 ? q : std::min(quiet, q);
      }
      return quiet;
    };
    auto redraw = [draw, &control](const MemberRecord& failed) {
      MemberRecord m = draw(failed.role);
      control.announce_role(m.simulation_id, m.role);
      return m;
    };
    launcher = std::make_unique<LocalLauncher>(launcher_cfg, members, command, silence, redraw,
                                               (out_dir / "logs").string());
  }
  // Rank 0 tells each rank, once the launcher has finished, which members that ended
  // cleanly it had (their END must be seen before reception is over).
  ServerControl::FinalLists final_lists;
  if (rank == 0) {
    final_lists = [&]() -> std::optional<std::vector<std::vector<std::uint64_t>>> {
      if (!launcher->finished()) return std::nullopt;
      std::vector<std::vector<std::uint64_t>> lists(static_cast<std::size_t>(size));
      for (const auto& m : launcher->members()) {
        if (m.status != MemberStatus::done) continue;
        const int r = front->assigned_rank(m.simulation_id);
        if (r >= 0 && r < size) lists[static_cast<std::size_t>(r)].push_back(m.simulation_id);
      }
      return lists;
    };
  }
  control.start(
      control_endpoints, [&receiver] { return receiver.members(); }, final_lists);

  // --- feeder: receiver -> sample builder -> buffer (or the validation set) ----------------
  Reception reception;
  const auto nodes = static_cast<std::size_t>(facts.grid[0] * facts.grid[1]);
  std::atomic<bool> done{false};  // set on the way out: the feeder stops waiting
  std::thread feeder([&] {
    // Never lets an exception out: a field it cannot use is counted and dropped; anything
    // else ends reception and is reported by the main thread.
    try {
      SampleBuilder train_builder(facts.layout, nodes, !next_step);
      SampleBuilder validation_builder(facts.layout, nodes, !next_step);
      core::Logger feed_log("feeder");
      auto last_warning = std::chrono::steady_clock::now() - std::chrono::seconds(10);
      auto reception_over = [&] {
        if (receiver.queued() > 0) return false;
        const auto expected = control.expected_ends();
        if (!expected) return false;
        // Every member of this rank that exited cleanly sent END after its fields.
        std::lock_guard<std::mutex> lock(reception.mutex);
        for (const auto id : *expected) {
          if (!reception.ended.count(id)) return false;
        }
        return true;
      };
      while (!reception_over()) {
        if (g_interrupted || done) break;
        auto d = receiver.pop(std::chrono::milliseconds(50));
        if (!d) continue;
        if (d->kind == streaming::DeliveryKind::simulation_end) {
          train_builder.forget(d->simulation);
          validation_builder.forget(d->simulation);
          std::lock_guard<std::mutex> lock(reception.mutex);
          reception.ended.insert(d->simulation);
          continue;
        }
        const auto role = control.role_of(d->simulation, done);
        if (!role) break;
        const bool is_validation = *role == MemberRole::validation;
        std::optional<reservoir::Sample> sample;
        try {
          sample = (is_validation ? validation_builder : train_builder).add(d->field);
        } catch (const core::ProtocolError& e) {
          ++reception.rejected;
          const auto now = std::chrono::steady_clock::now();
          if (now - last_warning > std::chrono::seconds(1)) {
            last_warning = now;
            SURGE_LOG(feed_log, warn,
                      "dropped a field of simulation " << d->simulation << ": " << e.message()
                                                       << " (" << reception.rejected.load()
                                                       << " dropped so far)");
          }
          continue;
        }
        if (!sample) continue;
        {
          std::lock_guard<std::mutex> lock(reception.mutex);
          ++reception.samples[d->simulation];
          if (is_validation) reception.validation.push_back(*sample);
        }
        ++reception.received;
        if (!is_validation) {
          if (next_step) stride_key(*sample, io.stride);
          // Blocks while the buffer is full of unseen samples: back-pressure to the members.
          // Once training has stopped the buffer is closed: samples are still received and
          // counted (members must finish cleanly), the buffer counts them as rejected.
          (void)buffer->put(std::move(*sample));
        }
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(reception.mutex);
      reception.error = e.what();
    } catch (...) {
      std::lock_guard<std::mutex> lock(reception.mutex);
      reception.error = "unknown exception";
    }
    reception.over = true;
    buffer->end_of_reception();
  });
  // LocalLauncher::stop() joins its thread: the watcher and the main thread may both call it
  // (Ctrl-C ends reception, so train() can return while the watcher is still stopping).
  std::mutex stop_mutex;
  auto stop_launcher = [&] {
    std::lock_guard<std::mutex> lock(stop_mutex);
    if (launcher) launcher->stop();
  };
  // On every way out (errors included): members stopped, buffer closed, threads joined.
  std::thread watcher;
  struct Cleanup {
    std::function<void()> run;
    ~Cleanup() { run(); }
  } cleanup{[&] {
    done = true;
    stop_launcher();
    buffer->close();
    if (feeder.joinable()) feeder.join();
    if (watcher.joinable()) watcher.join();
    control.stop();
  }};

  // --- run ---------------------------------------------------------------------------------
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  const auto start = std::chrono::steady_clock::now();
  if (launcher) launcher->start();

  // Validation members run first; training starts once their fields are all in memory on
  // every rank. Rank 0 says which validation members ended cleanly and on which rank.
  std::vector<std::int64_t> plan;  // gave up (0/1), then (simulation, rank) pairs
  if (rank == 0) {
    while (!launcher->role_finished(MemberRole::validation) && !g_interrupted &&
           launcher->gave_up().empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    plan.push_back(launcher->gave_up().empty() ? 0 : 1);
    for (const auto& m : launcher->members()) {
      if (m.role != MemberRole::validation || m.status != MemberStatus::done) continue;
      plan.push_back(static_cast<std::int64_t>(m.simulation_id));
      plan.push_back(front->assigned_rank(m.simulation_id));
    }
  }
  bcast_vector(plan);
  if (plan.at(0) != 0) {
    SURGE_THROW(IoError, "surge run: " << (launcher ? launcher->gave_up()
                                                    : "the launcher on server rank 0 gave up"));
  }
  while (!g_interrupted && !reception.over) {
    bool all = true;
    {
      std::lock_guard<std::mutex> lock(reception.mutex);
      for (std::size_t i = 1; i + 1 < plan.size(); i += 2) {
        if (plan[i + 1] == rank && !reception.ended.count(static_cast<std::uint64_t>(plan[i])))
          all = false;
      }
    }
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  surrogates::ValidationSet validation;
  {
    std::vector<reservoir::Sample> mine;
    {
      std::lock_guard<std::mutex> lock(reception.mutex);
      mine = reception.validation;
    }
    validation.samples = allgather_samples(mine);
  }
  SURGE_LOG(log, info,
            "validation set: " << validation.samples.size() << " samples from " << n_val
                               << " members; training starts");

  // A watcher turns Ctrl-C into a clean stop: members killed, buffer closed, train() returns.
  watcher = std::thread([&] {
    while (!done) {
      if (g_interrupted) {
        SURGE_LOG(log, warn, "interrupted: stopping members, keeping what is trained");
        stop_launcher();
        buffer->close();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });

  core::Progress progress(log, "batches", training.max_batches);
  const auto reason = trainer.train(*buffer, validation, [&](const surrogates::TrainingRecord& r) {
    if (!launcher) return;
    const auto c = launcher->counts();
    char detail[256];
    std::snprintf(detail, sizeof detail,
                  "loss %.3e, members %d done %d running %d failed, %lld samples in%s, %.0f "
                  "samples/s",
                  r.loss, c.done, c.running, c.failed,
                  static_cast<long long>(reception.received.load()), size > 1 ? " on rank 0" : "",
                  r.samples_per_second);
    progress.update(r.batch, detail);
  });
  progress.finish(surrogates::to_string(reason));
  if (g_interrupted) {
    SURGE_LOG(log, warn, "interrupted: members stopped; writing what was trained so far");
    stop_launcher();
  }
  if (!reception.over && !g_interrupted) {
    SURGE_LOG(log, info,
              "training stopped (" << surrogates::to_string(reason)
                                   << ") before reception ended; waiting for members");
    buffer->close();
    if (launcher) launcher->wait();
  }
  // Each rank's feeder ends once its members have ended (rank 0 says which, see above).
  while (!reception.over) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  cleanup.run();

  // --- results (rank 0) -----------------------------------------------------------------------
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::map<std::uint64_t, std::int64_t> samples;
  {
    std::lock_guard<std::mutex> lock(reception.mutex);
    samples = reception.samples;
  }
  ServerTotals totals = reduce_to_rank0(samples, reception.received, buffer->statistics());
  if (rank != 0) return g_interrupted ? 130 : 0;
  SURGE_REQUIRE(launcher->gave_up().empty(), IoError, "surge run: " << launcher->gave_up());
  trainer.export_model((out_dir / "model").string());
  RunSummary summary;
  summary.study = cfg.study.name;
  summary.resolved_config = resolved_text;
  summary.parameter_names = range_names;
  summary.members = launcher->members();
  summary.samples = totals.samples;
  summary.server_ranks = totals.ranks;
  summary.reservoir_policy = buffer->policy();
  summary.reservoir = totals.statistics;
  summary.seconds = seconds;
  std::string feeder_error;
  {
    std::lock_guard<std::mutex> lock(reception.mutex);
    feeder_error = reception.error;
  }
  summary.stop_reason = feeder_error.empty() ? surrogates::to_string(reason)
                                             : "the feeder thread failed: " + feeder_error;
  summary.rejected_fields = reception.rejected;
  std::optional<surrogates::RolloutResult> rollout;
  if (next_step && !validation.empty()) rollout = trainer.rollout(validation);
  const auto final_metrics = write_results((out_dir / "results.h5").string(), summary, trainer,
                                           validation, io, rollout ? &*rollout : nullptr);
  std::int64_t expected = 0, received = 0;
  for (const auto& m : summary.members) {
    if (m.status == MemberStatus::done) expected += static_cast<std::int64_t>(facts.times.size());
  }
  for (const auto& r : totals.ranks) received += r.received;
  const auto counts = launcher->counts();
  std::printf(
      "surge run %s: %d members done, %d failed, %lld samples received (%lld expected from "
      "completed members), %lld batches, %.1f s\n",
      cfg.study.name.c_str(), counts.done, counts.failed, static_cast<long long>(received),
      static_cast<long long>(expected), static_cast<long long>(trainer.batches()), seconds);
  if (size > 1) {
    std::printf("  server ranks:");
    for (const auto& r : totals.ranks) {
      std::printf(" %lld", static_cast<long long>(r.received));
    }
    std::printf(" samples received\n");
  }
  if (reception.rejected > 0)
    std::printf("  %lld field(s) dropped: they did not fit the study's fields\n",
                static_cast<long long>(reception.rejected.load()));
  const char* what = next_step ? "one-step" : "validation";
  for (const auto& f : final_metrics.fields) {
    std::printf("  %s %s: relative L2 %.3f %%, NRMSE %.4f, VRMSE %.4f\n", what, f.field.c_str(),
                100.0 * f.relative_l2, f.nrmse, f.vrmse);
  }
  if (rollout && !rollout->metrics.empty()) {
    for (const auto& f : rollout->metrics.back()) {
      std::printf("  rollout (%lld steps) %s: relative L2 %.3f %%, VRMSE %.4f\n",
                  static_cast<long long>(rollout->horizon.back()), f.field.c_str(),
                  100.0 * f.relative_l2, f.vrmse);
    }
  }
  std::printf("  results: %s\n  model:   %s\n", (out_dir / "results.h5").c_str(),
              (out_dir / "model").c_str());
  if (!feeder_error.empty()) {
    SURGE_LOG(log, error, "the feeder thread failed: " << feeder_error);
    return 1;
  }
  if (o.plots) make_plots(out_dir.string(), log);
  return g_interrupted ? 130 : 0;
}

}  // namespace surge::experiments
