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
//   usage: bench_streaming [16KiB|256KiB|4MiB [members: 1|4 [surge|raw]]]   (default: every case)
// With a third argument only that peer runs (its rounds and its CPU per field, no RESULT
// lines): for profiling one peer at a time, e.g. `perf record -s` to split its CPU by thread.
//   RESULT streaming_ingest_<size>_<members>m measured=<GB/s> unit=GB/s bound=<raw GB/s>
//   RESULT streaming_cpu_<size>_<members>m measured=<GB/cpu-s> unit=GB/cpu-s bound=<raw>
//   RESULT streaming_vs_read_<size>_<members>m measured=<GB/s> unit=GB/s bound=<raw + read>
//   RESULT streaming_vs_verified_<size>_<members>m measured=<GB/s> unit=GB/s bound=<raw + 2 reads>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "bench_result.hpp"
#include "surge/core/error.hpp"
#include "surge/streaming/checksum.hpp"
#include "surge/streaming/client.hpp"
#include "surge/streaming/front.hpp"
#include "surge/streaming/receiver.hpp"

using namespace surge::streaming;
using surge::bench::now_seconds;

namespace {
constexpr int kHwm = 64;
constexpr int kRounds = 7;   // interleaved rounds per case
double zero_copy_share = 0;  // of the last surge run

// CPU seconds (user + system) of every thread of this process so far.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return double(t.tv_sec) + 1e-6 * double(t.tv_usec); };
  return s(u.ru_utime) + s(u.ru_stime);
}

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

// How many fields of `bytes` a surge client gathers into one message (ClientConfig's
// batch_bytes rule): raw ZeroMQ sends the same messages, so that it stays a bound.
int fields_per_message(std::size_t bytes) {
  return static_cast<int>(messages_per_batch(kHeaderBytes + 2 * sizeof(double) + bytes,
                                             static_cast<std::size_t>(ClientConfig{}.batch_bytes)));
}

// What raw ZeroMQ does with each message besides moving it.
enum class Reads { none, receiver, both_ends };

// Seconds for `members` PUSH threads to move `per_member` fields of `bytes` each, gathered
// as surge gathers them (fields_per_message), to one PULL socket that receives them and does
// nothing with them, or hashes each message once on receipt (Reads::receiver), and before it
// is sent too (Reads::both_ends).
Cost raw_zmq(std::size_t bytes, int members, int per_member, Reads reads) {
  const bool read = reads != Reads::none;
  const int gather = fields_per_message(bytes);
  const int messages = (per_member + gather - 1) / gather;
  zmq::context_t ctx(1);
  zmq::socket_t pull(ctx, zmq::socket_type::pull);
  pull.set(zmq::sockopt::rcvhwm, kHwm);
  pull.bind("tcp://127.0.0.1:*");
  const std::string endpoint = pull.get(zmq::sockopt::last_endpoint);
  Latch ready(members + 1);
  std::vector<std::thread> senders;
  for (int m = 0; m < members; ++m) {
    senders.emplace_back([&] {
      zmq::context_t c(1);
      zmq::socket_t push(c, zmq::socket_type::push);
      push.set(zmq::sockopt::sndhwm, kHwm);
      push.set(zmq::sockopt::linger, -1);
      push.connect(endpoint);
      std::vector<double> field(gather * bytes / sizeof(double), 1.0);
      std::uint64_t sent = 0;
      ready.arrive_and_wait();
      for (int i = 0; i < messages; ++i) {
        if (reads == Reads::both_ends) sent += xxh3(field.data(), field.size() * sizeof(double), 1);
        push.send(zmq::buffer(field));  // one copy
      }
      if (sent == 1) std::printf(" ");  // keeps the hashes
    });
  }
  ready.arrive_and_wait();
  const double t0 = now_seconds(), c0 = cpu_seconds();
  zmq::message_t msg;
  std::uint64_t sum = 0;
  for (long i = 0, n = long(members) * messages; i < n; ++i) {
    (void)pull.recv(msg);
    if (read) sum += xxh3(msg.data(), msg.size(), 1);
  }
  const Cost cost{now_seconds() - t0, cpu_seconds() - c0};
  if (sum == 1) std::printf(" ");  // keeps the hashes
  for (auto& s : senders) s.join();
  return cost;
}

// Seconds for `members` surge clients (one rank each) to stream `per_member` whole fields
// of `bytes` each until the receiver has handed all of them on.
Cost surge_ingest(std::size_t bytes, int members, int per_member) {
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
  const std::uint64_t n = bytes / sizeof(double);
  Latch ready(members + 1);
  std::vector<std::thread> senders;
  for (int k = 0; k < members; ++k) {
    senders.emplace_back([&, k] {
      ClientConfig cc;
      cc.front_endpoint = front.endpoint();
      cc.hwm = kHwm;
      cc.heartbeat_interval_ms = 0;
      MemberIdentity id;
      id.experiment = "bench";
      id.simulation = static_cast<std::uint64_t>(k);
      id.fields = {{"u", {n}}};
      id.parameters = {1.0, 2.0};
      Client client(cc, id);
      std::vector<double> field(n, 1.0);
      ready.arrive_and_wait();
      for (int i = 0; i < per_member; ++i) client.send("u", i, 0.0, Span<const double>(field));
      client.finish();
    });
  }
  ready.arrive_and_wait();
  const double t0 = now_seconds(), c0 = cpu_seconds();
  {
    std::unique_lock<std::mutex> lock(m);
    done.wait(lock, [&] { return fields.load() == total; });
  }
  const Cost cost{now_seconds() - t0, cpu_seconds() - c0};
  for (auto& s : senders) s.join();
  const IngestStats stats = receiver.stats();
  SURGE_REQUIRE(stats.rejected_total() == 0, ProtocolError, "rejections in benchmark");
  zero_copy_share = double(stats.zero_copy_fields) / double(stats.fields);
  return cost;
}
// One peer alone ("surge" or "raw"), for profiling: its best of kRounds runs and its CPU
// per field, no bound.
void report_one_peer(const std::string& peer, const char* name, std::size_t bytes, int members,
                     int per_member) {
  Cost best = kNoRun;
  for (int r = 0; r < kRounds; ++r) {
    best = best_of(best, peer == "raw" ? raw_zmq(bytes, members, per_member, Reads::none)
                                       : surge_ingest(bytes, members, per_member));
  }
  const double fields = double(per_member) * members;
  std::printf("%-7s %d member(s), %s alone: %.2f GB/s, CPU per field %.1f us\n", name, members,
              peer.c_str(), fields * double(bytes) / best.wall / 1e9, 1e6 * best.cpu / fields);
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
Result measure_case(const char* name, std::size_t field_bytes, int members, int per_member) {
  const double fields = double(per_member) * members;
  const double bytes = double(field_bytes) * fields;
  Cost raw = kNoRun, surge = kNoRun;
  double read = 1e300, verified = 1e300;
  std::vector<double> round_ratios;
  for (int r = 0; r < kRounds; ++r) {
    Cost a{}, b{};
    if (r % 2 == 0) {
      a = raw_zmq(field_bytes, members, per_member, Reads::none);
      b = surge_ingest(field_bytes, members, per_member);
    } else {
      b = surge_ingest(field_bytes, members, per_member);
      a = raw_zmq(field_bytes, members, per_member, Reads::none);
    }
    read = std::min(read, raw_zmq(field_bytes, members, per_member, Reads::receiver).wall);
    verified = std::min(verified, raw_zmq(field_bytes, members, per_member, Reads::both_ends).wall);
    raw = best_of(raw, a);
    surge = best_of(surge, b);
    round_ratios.push_back(a.wall / b.wall);
  }
  std::sort(round_ratios.begin(), round_ratios.end());
  const double median = round_ratios[round_ratios.size() / 2];
  const double gbs = bytes / surge.wall / 1e9, raw_gbs = bytes / raw.wall / 1e9;
  std::printf(
      "%-7s %d member(s): surge %8.0f fields/s %6.2f GB/s | raw zmq %8.0f fields/s %6.2f "
      "GB/s (%d a message, as surge's batches)"
      " | %3.0f%% handed on uncopied | per CPU second: surge %.2f GB, raw %.2f GB"
      " | CPU per field: surge %.1f us, raw %.1f us | round ratios %.2f-%.2f, median "
      "%.2f\n",
      name, members, fields / surge.wall, gbs, fields / raw.wall, raw_gbs,
      fields_per_message(field_bytes), 100 * zero_copy_share, bytes / surge.cpu / 1e9,
      bytes / raw.cpu / 1e9, 1e6 * surge.cpu / fields, 1e6 * raw.cpu / fields, round_ratios.front(),
      round_ratios.back(), median);
  std::fflush(stdout);
  return {std::string(name) + "_" + std::to_string(members) + "m",
          gbs,
          raw_gbs,
          bytes / surge.cpu / 1e9,
          bytes / raw.cpu / 1e9,
          bytes / read / 1e9,
          bytes / verified / 1e9};
}
}  // namespace

int main(int argc, char** argv) {
  try {
    std::printf("allocator: %s\n", SURGE_BENCH_ALLOCATOR);
    const std::string only_size = argc > 1 ? argv[1] : "";
    const int only_members = argc > 2 ? std::atoi(argv[2]) : 0;
    const std::string only_peer = argc > 3 ? argv[3] : "";
    if (!only_peer.empty() && only_peer != "surge" && only_peer != "raw") {
      std::fprintf(stderr, "bench_streaming: the third argument is surge or raw, not '%s'\n",
                   only_peer.c_str());
      return 2;
    }
    // The checksum alone, for scale.
    std::vector<unsigned char> buf(4 << 20, 7);
    std::uint64_t sink = 0;
    const double th = surge::bench::best_time(5, [&] { sink += xxh3(buf.data(), buf.size(), 1); });
    std::printf("xxh3 over 4 MiB: %.2f GB/s (%llu)\n", buf.size() / th / 1e9,
                static_cast<unsigned long long>(sink & 1));

    struct Case {
      const char* name;
      std::size_t bytes;
      int messages;  // per case, split over the members
    };
    const Case cases[] = {
        {"16KiB", 16 << 10, 16384}, {"256KiB", 256 << 10, 2048}, {"4MiB", 4 << 20, 160}};
    std::vector<Result> results;
    for (const Case& c : cases) {
      if (!only_size.empty() && only_size != c.name) continue;
      for (int members : {1, 4}) {
        if (only_members && members != only_members) continue;
        const int per = c.messages / members;
        if (only_peer.empty()) {
          results.push_back(measure_case(c.name, c.bytes, members, per));
        } else {
          report_one_peer(only_peer, c.name, c.bytes, members, per);
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
