#pragma once
// The sending side of bench_streaming's two peers, shared by its sender threads and by
// streaming_bench_member (one sender in a process of its own, as a solver's rank is): both
// run a sender from the same arguments (run_sender).
#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "surge/core/error.hpp"
#include "surge/streaming/checksum.hpp"
#include "surge/streaming/client.hpp"

namespace surge::bench {

constexpr int kStreamingHwm = 64;

// CPU seconds (user + system) of every thread of this process so far.
inline double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return double(t.tv_sec) + 1e-6 * double(t.tv_usec); };
  return s(u.ru_utime) + s(u.ru_stime);
}

// How many fields of `bytes` a surge client gathers into one message (ClientConfig's
// batch_bytes rule): raw ZeroMQ sends the same messages, so that it stays a bound.
inline int fields_per_message(std::size_t bytes) {
  using namespace surge::streaming;
  return static_cast<int>(messages_per_batch(kHeaderBytes + 2 * sizeof(double) + bytes,
                                             static_cast<std::size_t>(ClientConfig{}.batch_bytes)));
}

// Raw ZeroMQ's sender: a PUSH socket connected to `endpoint` sends `messages` messages of
// `gather` fields of `bytes` each (one copy each, into ZeroMQ's message), hashing each first
// when `hash`. `ready()` is called once connected; sending starts when it returns. Returns
// once every message has left (linger -1).
template <class Ready>
void raw_sender(const std::string& endpoint, std::size_t bytes, int messages, int gather, bool hash,
                Ready&& ready) {
  zmq::context_t c(1);
  zmq::socket_t push(c, zmq::socket_type::push);
  push.set(zmq::sockopt::sndhwm, kStreamingHwm);
  push.set(zmq::sockopt::linger, -1);
  push.connect(endpoint);
  std::vector<double> field(gather * bytes / sizeof(double), 1.0);
  std::uint64_t sent = 0;
  ready();
  for (int i = 0; i < messages; ++i) {
    if (hash) sent += surge::streaming::xxh3(field.data(), field.size() * sizeof(double), 1);
    push.send(zmq::buffer(field));
  }
  if (sent == 1) std::printf(" ");  // keeps the hashes
}

// A surge member: a client of simulation `simulation` (one rank) streams `per_member` whole
// fields "u" of `bytes` each through the front at `front_endpoint`, then finishes. `ready()`
// is called once the handshake is done; sending starts when it returns.
template <class Ready>
void surge_sender(const std::string& front_endpoint, std::uint64_t simulation, std::size_t bytes,
                  int per_member, Ready&& ready) {
  using namespace surge::streaming;
  const std::uint64_t n = bytes / sizeof(double);
  ClientConfig cc;
  cc.front_endpoint = front_endpoint;
  cc.hwm = kStreamingHwm;
  cc.heartbeat_interval_ms = 0;
  MemberIdentity id;
  id.experiment = "bench";
  id.simulation = simulation;
  id.fields = {{"u", {n}}};
  id.parameters = {1.0, 2.0};
  Client client(cc, id);
  std::vector<double> field(n, 1.0);
  ready();
  for (int i = 0; i < per_member; ++i) client.send("u", i, 0.0, Span<const double>(field));
  client.finish();
}

// How a sender is named: its arguments, as streaming_bench_member takes them.
inline constexpr const char* kSenderUsage =
    "raw <endpoint> <field bytes> <messages> <fields a message> <hash 0|1> | "
    "surge <front endpoint> <simulation> <field bytes> <fields>";

// Runs the sender `args` name (kSenderUsage): raw_sender or surge_sender. Throws ConfigError
// for arguments that name none, naming the one that is wrong.
template <class Ready>
void run_sender(const std::vector<std::string>& args, Ready&& ready) {
  auto number = [&](std::size_t i, const char* what) {
    char* end = nullptr;
    const long long v = std::strtoll(args[i].c_str(), &end, 10);
    SURGE_REQUIRE(end != args[i].c_str() && *end == '\0' && v >= 0, ConfigError,
                  what << " '" << args[i] << "' is not a whole number >= 0");
    return v;
  };
  const std::string peer = args.empty() ? "" : args[0];
  if (peer == "raw" && args.size() == 6) {
    raw_sender(args[1], static_cast<std::size_t>(number(2, "field bytes")),
               static_cast<int>(number(3, "messages")),
               static_cast<int>(number(4, "fields a message")), number(5, "hash") != 0, ready);
  } else if (peer == "surge" && args.size() == 5) {
    surge_sender(args[1], static_cast<std::uint64_t>(number(2, "simulation")),
                 static_cast<std::size_t>(number(3, "field bytes")),
                 static_cast<int>(number(4, "fields")), ready);
  } else {
    SURGE_THROW(ConfigError, "a sender's arguments are " << kSenderUsage);
  }
}

}  // namespace surge::bench
