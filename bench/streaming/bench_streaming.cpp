// Ingest throughput of the streaming layer (client -> receiver, fields validated, assembled
// and handed to a callback) beside raw ZeroMQ PUSH/PULL moving the same bytes over the same
// loopback TCP in the same run, in messages of the same size (surge gathers fields smaller
// than half of ClientConfig::batch_bytes into one message; raw ZeroMQ then sends that many
// fields' bytes a message). Fields of 16 KiB, 256 KiB and 4 MiB from 1 and 4 members.
// Also the bytes moved per second of CPU time of the whole process (every thread: senders,
// receiver, ZeroMQ's I/O threads), which other work on a shared machine disturbs far less
// than the wall-clock rate, and two more peers: raw ZeroMQ whose receiver reads every byte
// once (XXH3 of each message), the least a receiver that verifies its data must do, and raw
// ZeroMQ whose sender also hashes each message before it sends it, the least a protocol with
// a checksum at both ends does (surge's: the client's hash, the receiver's check); raw ZeroMQ
// never reads what it receives. Each case runs 7 interleaved rounds (raw, surge, then
// surge, raw, ...: the order swapped every round, so that drift in other load on the machine
// hits both) and keeps the fastest run of each, wall and CPU time apart: on a shared machine
// the best run is the one least disturbed, for the bound as for surge. The line of each case
// also prints the CPU time per message of both and the spread and the median of the rounds' ratios.
// Every case runs twice: the members as threads of this process (one allocator, the server's,
// for senders and receiver), then as processes of their own (streaming_bench_member, beside
// this executable), as a study's solver ranks are: each with its own allocator (the C
// library's malloc) and ZeroMQ I/O thread; their CPU time is added to this process's.
//   usage: bench_streaming [16KiB|256KiB|4MiB [members: 1|4 [surge|raw|both [threads|processes]]]]
// (default: every case, both peers, both placements). With surge or raw as the third argument
// only that peer runs (its rounds and its CPU per field, no RESULT lines): for profiling one
// peer at a time, e.g. `perf record -s` to split its CPU by thread.
//   RESULT streaming_ingest_<size>_<members>m measured=<GB/s> unit=GB/s bound=<raw GB/s>
//   RESULT streaming_cpu_<size>_<members>m measured=<GB/cpu-s> unit=GB/cpu-s bound=<raw>
//   RESULT streaming_vs_read_<size>_<members>m measured=<GB/s> unit=GB/s bound=<raw + read>
//   RESULT streaming_vs_verified_<size>_<members>m measured=<GB/s> unit=GB/s bound=<raw + 2 reads>
// and the same four for members in processes of their own: streaming_*_<size>_<members>m_processes.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "bench_result.hpp"
#include "member_processes.hpp"
#include "senders.hpp"
#include "surge/core/error.hpp"
#include "surge/streaming/checksum.hpp"
#include "surge/streaming/client.hpp"
#include "surge/streaming/front.hpp"
#include "surge/streaming/receiver.hpp"

using namespace surge::streaming;
using surge::bench::cpu_seconds;
using surge::bench::fields_per_message;
using surge::bench::now_seconds;

namespace {
constexpr int kHwm = surge::bench::kStreamingHwm;
constexpr int kRounds = 7;   // interleaved rounds per case
double zero_copy_share = 0;  // of the last surge run

// Wall and CPU seconds of one run.
struct Cost {
  double wall, cpu;
};
constexpr Cost kNoRun{1e300, 1e300};

// The better of two runs, wall and CPU time apart.
Cost best_of(const Cost& a, const Cost& b) {
  return {std::min(a.wall, b.wall), std::min(a.cpu, b.cpu)};
}

// Blocks until `count` threads have arrived.
class Latch {
 public:
  explicit Latch(int count) : count_(count) {}
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(m_);
    if (--count_ == 0) cv_.notify_all();
    cv_.wait(lock, [&] { return count_ <= 0; });
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  int count_;
};

// What raw ZeroMQ does with each message besides moving it.
enum class Reads { none, receiver, both_ends };

// Where the members' senders run: threads of this process, or processes of their own.
enum class Placement { threads, processes };

// Starts one sender per argument list (senders.hpp's run_sender), threads of this process or
// processes, and waits until each is ready to send; they send once `start` is called; `join`
// waits for them and returns the CPU seconds the processes spent (threads' CPU is this
// process's own).
class Senders {
 public:
  Senders(Placement placement, const std::vector<std::vector<std::string>>& arguments)
      : ready_(static_cast<int>(arguments.size()) + 1),
        go_(static_cast<int>(arguments.size()) + 1) {
    if (placement == Placement::processes) {
      processes_ = std::make_unique<surge::bench::MemberProcesses>(arguments);
      return;
    }
    for (const auto& args : arguments) {
      threads_.emplace_back([this, args] {
        surge::bench::run_sender(args, [this] {
          ready_.arrive_and_wait();
          go_.arrive_and_wait();
        });
      });
    }
    ready_.arrive_and_wait();
  }
  // Every sender starts sending.
  void start() {
    if (processes_) {
      processes_->go();
    } else {
      go_.arrive_and_wait();
    }
  }
  double join() {
    for (auto& t : threads_) t.join();
    return processes_ ? processes_->finish() : 0.0;
  }
  // Whether a sender process has failed (a sender thread that throws ends the benchmark).
  bool failed() { return processes_ && processes_->failed(); }

 private:
  Latch ready_, go_;
  std::vector<std::thread> threads_;
  std::unique_ptr<surge::bench::MemberProcesses> processes_;
};

// Seconds for `members` PUSH senders to move `per_member` fields of `bytes` each, gathered
// as surge gathers them (fields_per_message), to one PULL socket that receives them and does
// nothing with them, or hashes each message once on receipt (Reads::receiver), and before it
// is sent too (Reads::both_ends).
Cost raw_zmq(std::size_t bytes, int members, int per_member, Reads reads, Placement placement) {
  const bool read = reads != Reads::none;
  const int gather = fields_per_message(bytes);
  const int messages = (per_member + gather - 1) / gather;
  const bool hash = reads == Reads::both_ends;
  zmq::context_t ctx(1);
  zmq::socket_t pull(ctx, zmq::socket_type::pull);
  pull.set(zmq::sockopt::rcvhwm, kHwm);
  pull.bind("tcp://127.0.0.1:*");
  const std::string endpoint = pull.get(zmq::sockopt::last_endpoint);
  const std::vector<std::string> sender{"raw",
                                        endpoint,
                                        std::to_string(bytes),
                                        std::to_string(messages),
                                        std::to_string(gather),
                                        hash ? "1" : "0"};
  Senders senders(placement, std::vector<std::vector<std::string>>(members, sender));
  const double t0 = now_seconds(), c0 = cpu_seconds();
  senders.start();
  zmq::message_t msg;
  std::uint64_t sum = 0;
  pull.set(zmq::sockopt::rcvtimeo, 1000);  // now and then, whether a sender process failed
  for (long i = 0, n = long(members) * messages; i < n;) {
    if (!pull.recv(msg)) {
      SURGE_REQUIRE(!senders.failed(), IoError, "a member process failed (raw ZeroMQ)");
      continue;
    }
    if (read) sum += xxh3(msg.data(), msg.size(), 1);
    ++i;
  }
  Cost cost{now_seconds() - t0, cpu_seconds() - c0};
  if (sum == 1) std::printf(" ");  // keeps the hashes
  cost.cpu += senders.join();
  return cost;
}

// Seconds for `members` surge clients (one rank each) to stream `per_member` whole fields
// of `bytes` each until the receiver has handed all of them on.
Cost surge_ingest(std::size_t bytes, int members, int per_member, Placement placement) {
  ReceiverConfig config;
  config.experiment = "bench";
  config.hwm = kHwm;
  std::atomic<long> fields{0};
  std::mutex m;
  std::condition_variable done;
  const long total = long(members) * per_member;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(config, key, 0, [&](Delivery&& d) {
    if (d.kind == DeliveryKind::field && ++fields == total) {
      std::lock_guard<std::mutex> lock(m);
      done.notify_all();
    }
  });
  Front front(config, key, {receiver.endpoint()});
  std::vector<std::vector<std::string>> senders_args;
  for (int k = 0; k < members; ++k) {
    senders_args.push_back({"surge", front.endpoint(), std::to_string(k), std::to_string(bytes),
                            std::to_string(per_member)});
  }
  Senders senders(placement, senders_args);
  const double t0 = now_seconds(), c0 = cpu_seconds();
  senders.start();
  {
    std::unique_lock<std::mutex> lock(m);
    while (!done.wait_for(lock, std::chrono::seconds(1), [&] { return fields.load() == total; }))
      SURGE_REQUIRE(!senders.failed(), IoError, "a member process failed (surge)");
  }
  Cost cost{now_seconds() - t0, cpu_seconds() - c0};
  cost.cpu += senders.join();
  const IngestStats stats = receiver.stats();
  SURGE_REQUIRE(stats.rejected_total() == 0, ProtocolError, "rejections in benchmark");
  zero_copy_share = double(stats.zero_copy_fields) / double(stats.fields);
  return cost;
}
// The name of a placement, as on the command line.
const char* placement_name(Placement p) {
  return p == Placement::threads ? "threads" : "processes";
}

// One peer alone ("surge" or "raw"), for profiling: its best of kRounds runs and its CPU
// per field, no bound.
void report_one_peer(const std::string& peer, const char* name, std::size_t bytes, int members,
                     int per_member, Placement placement) {
  Cost best = kNoRun;
  for (int r = 0; r < kRounds; ++r) {
    best = best_of(best, peer == "raw" ? raw_zmq(bytes, members, per_member, Reads::none, placement)
                                       : surge_ingest(bytes, members, per_member, placement));
  }
  const double fields = double(per_member) * members;
  std::printf("%-7s %d member(s) in %s, %s alone: %.2f GB/s, CPU per field %.1f us\n", name,
              members, placement_name(placement), peer.c_str(),
              fields * double(bytes) / best.wall / 1e9, 1e6 * best.cpu / fields);
}

// One case of the sweep, its RESULT figures (GB/s, or GB per CPU second).
struct Result {
  std::string name;
  double gbs, raw_gbs, cpu_gbs, raw_cpu_gbs, read_gbs, verified_gbs;
};

// `members` members streaming `per_member` fields of `bytes` each, surge against raw ZeroMQ in
// interleaved rounds, the order swapped every round, so that other work on the machine hits
// both; the fastest run of each (wall and CPU apart), and the peers that hash on receipt and at
// both ends. The spread of the per-round ratios says how much that work disturbed this case.
Result measure_case(const char* name, std::size_t field_bytes, int members, int per_member,
                    Placement placement) {
  const double fields = double(per_member) * members;
  const double bytes = double(field_bytes) * fields;
  Cost raw = kNoRun, surge = kNoRun;
  double read = 1e300, verified = 1e300;
  std::vector<double> round_ratios;
  for (int r = 0; r < kRounds; ++r) {
    Cost a{}, b{};
    if (r % 2 == 0) {
      a = raw_zmq(field_bytes, members, per_member, Reads::none, placement);
      b = surge_ingest(field_bytes, members, per_member, placement);
    } else {
      b = surge_ingest(field_bytes, members, per_member, placement);
      a = raw_zmq(field_bytes, members, per_member, Reads::none, placement);
    }
    read =
        std::min(read, raw_zmq(field_bytes, members, per_member, Reads::receiver, placement).wall);
    verified = std::min(
        verified, raw_zmq(field_bytes, members, per_member, Reads::both_ends, placement).wall);
    raw = best_of(raw, a);
    surge = best_of(surge, b);
    round_ratios.push_back(a.wall / b.wall);
  }
  std::sort(round_ratios.begin(), round_ratios.end());
  const double median = round_ratios[round_ratios.size() / 2];
  const double gbs = bytes / surge.wall / 1e9, raw_gbs = bytes / raw.wall / 1e9;
  std::printf(
      "%-7s %d member(s) in %s: surge %8.0f fields/s %6.2f GB/s | raw zmq %8.0f fields/s %6.2f "
      "GB/s (%d a message, as surge's batches)"
      " | %3.0f%% handed on uncopied | per CPU second: surge %.2f GB, raw %.2f GB"
      " | CPU per field: surge %.1f us, raw %.1f us | round ratios %.2f-%.2f, median "
      "%.2f\n",
      name, members, placement_name(placement), fields / surge.wall, gbs, fields / raw.wall,
      raw_gbs, fields_per_message(field_bytes), 100 * zero_copy_share, bytes / surge.cpu / 1e9,
      bytes / raw.cpu / 1e9, 1e6 * surge.cpu / fields, 1e6 * raw.cpu / fields, round_ratios.front(),
      round_ratios.back(), median);
  std::fflush(stdout);
  return {std::string(name) + "_" + std::to_string(members) + "m" +
              (placement == Placement::processes ? "_processes" : ""),
          gbs,
          raw_gbs,
          bytes / surge.cpu / 1e9,
          bytes / raw.cpu / 1e9,
          bytes / read / 1e9,
          bytes / verified / 1e9};
}
}  // namespace

int main(int argc, char** argv) {
  // A member process that died before its word to go fails the benchmark when the receiving
  // loop next looks (MemberProcesses::failed), not by a SIGPIPE when the word is written.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    std::printf("allocator: %s\n", SURGE_BENCH_ALLOCATOR);
    const std::string only_size = argc > 1 ? argv[1] : "";
    const int only_members = argc > 2 ? std::atoi(argv[2]) : 0;
    const std::string peer = argc > 3 ? argv[3] : "both";
    const std::string only_placement = argc > 4 ? argv[4] : "";
    if (peer != "surge" && peer != "raw" && peer != "both") {
      std::fprintf(stderr, "bench_streaming: the third argument is surge, raw or both, not '%s'\n",
                   peer.c_str());
      return 2;
    }
    if (!only_placement.empty() && only_placement != "threads" && only_placement != "processes") {
      std::fprintf(stderr,
                   "bench_streaming: the fourth argument is threads or processes, not '%s'\n",
                   only_placement.c_str());
      return 2;
    }
    // The checksum alone, for scale, over each case's field size: the same rate at every size
    // says it is bound by the core, not by the cache level the field lives in.
    std::vector<unsigned char> buf(4 << 20, 7);
    std::uint64_t sink = 0;
    for (const std::size_t bytes : {std::size_t{16} << 10, std::size_t{256} << 10, buf.size()}) {
      const int repeats = static_cast<int>((std::size_t{64} << 20) / bytes);
      const double th = surge::bench::best_time(5, [&] {
        for (int r = 0; r < repeats; ++r) sink += xxh3(buf.data(), bytes, std::uint64_t(r));
      });
      std::printf("xxh3 over %zu KiB: %.2f GB/s (%llu)\n", bytes >> 10,
                  double(bytes) * repeats / th / 1e9, static_cast<unsigned long long>(sink & 1));
    }

    struct Case {
      const char* name;
      std::size_t bytes;
      int messages;  // per case, split over the members
    };
    const Case cases[] = {
        {"16KiB", 16 << 10, 16384}, {"256KiB", 256 << 10, 2048}, {"4MiB", 4 << 20, 160}};
    std::vector<Result> results;
    for (const Placement placement : {Placement::threads, Placement::processes}) {
      if (!only_placement.empty() && only_placement != placement_name(placement)) continue;
      for (const Case& c : cases) {
        if (!only_size.empty() && only_size != c.name) continue;
        for (int members : {1, 4}) {
          if (only_members && members != only_members) continue;
          const int per = c.messages / members;
          if (peer == "both") {
            results.push_back(measure_case(c.name, c.bytes, members, per, placement));
          } else {
            report_one_peer(peer, c.name, c.bytes, members, per, placement);
          }
        }
      }
    }
    for (const Result& r : results)
      surge::bench::print_result("streaming_ingest_" + r.name, r.gbs, "GB/s", r.raw_gbs);
    for (const Result& r : results)
      surge::bench::print_result("streaming_cpu_" + r.name, r.cpu_gbs, "GB/cpu-s", r.raw_cpu_gbs);
    for (const Result& r : results)
      surge::bench::print_result("streaming_vs_read_" + r.name, r.gbs, "GB/s", r.read_gbs);
    for (const Result& r : results)
      surge::bench::print_result("streaming_vs_verified_" + r.name, r.gbs, "GB/s", r.verified_gbs);
  } catch (const surge::core::Error& e) {
    std::fprintf(stderr, "bench_streaming: %s\n", surge::core::describe(e).c_str());
    return 1;
  }
  return 0;
}
