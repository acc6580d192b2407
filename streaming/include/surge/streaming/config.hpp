#pragma once
// Configuration of the streaming layer: the server side (front + receivers, the `streaming:`
// section of an experiment) and the client side (a solver member). Every key is listed once
// in visit(), which reads, validates, documents and dumps it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "surge/core/config.hpp"
#include "surge/streaming/protocol.hpp"

namespace surge::streaming {

// ZeroMQ CURVE: encryption, and authentication of both ends. Keys are Z85 text files of 40
// characters (`surge keys DIR` writes a server and a client pair). The server holds the
// server pair and admits only clients holding the client pair (a ZAP handler checks the
// client's public key); a client holds the server's public key and the client pair.
struct CurveConfig {
  bool enabled = false;
  std::string server_public_key_file;  // clients and server
  std::string server_secret_key_file;  // server only
  std::string client_public_key_file;  // server: the key it admits; client: its own
  std::string client_secret_key_file;  // client only
  // Keys a program holds in memory rather than in files (surge run shares them between its
  // server ranks this way); a non-empty one takes the place of its file. Not config keys.
  std::string server_public_key, server_secret_key, client_public_key, client_secret_key;

  template <class V>
  void visit(V& v) {
    v("enabled", enabled,
      "turn CURVE on; under `surge run` with no key files the study makes its own server and "
      "client key pairs in <output_dir>/keys and hands members what they need");
    v("server_public_key_file", server_public_key_file,
      "file with the server's CURVE public key (Z85); setting it also turns CURVE on");
    v("server_secret_key_file", server_secret_key_file,
      "server only: file with the server's CURVE secret key (Z85; mode 0600, checked)");
    v("client_public_key_file", client_public_key_file,
      "the client key pair's public key (Z85): the only key the server admits, and the key a "
      "client presents; empty on the server: any client holding the server's public key");
    v("client_secret_key_file", client_secret_key_file,
      "client only (surge run hands it to members): the client key pair's secret key (Z85; "
      "mode 0600, checked); empty: a client makes a throwaway pair");
  }
  [[nodiscard]] bool on() const noexcept {
    return enabled || !server_public_key_file.empty() || !server_public_key.empty();
  }
};

// What a study knows of its members before any of them starts (not read from YAML: `surge
// run` fills it in from the probed solver). The front refuses an announcement that differs.
struct MemberExpectations {
  std::vector<FieldSpec> fields;  // every field with its global shape, in any order
  DType dtype = DType::none;      // none: float32 or float64
  std::uint32_t parameter_count = 0;
  // The study's order of the parameters (SURGE_PARAMETER_NAMES): a member that names its
  // parameters must name these, in this order. Empty: names are not checked.
  std::vector<std::string> parameter_names;
  std::uint32_t member_size = 1;  // solver.ranks
  std::int64_t steps = 0;         // a member sends steps 0 .. steps-1; 0: any step >= 0
};

// The server side: one front (handshakes) and one receiver per server rank.
struct ReceiverConfig {
  std::string experiment = "default";
  std::vector<std::string> fields;  // empty: any field name is accepted
  std::string front_endpoint = "tcp://127.0.0.1:*";
  std::string data_endpoint = "tcp://127.0.0.1:*";
  int hwm = 64;
  std::int64_t max_message_bytes = std::int64_t{256} << 20;
  std::int64_t max_field_bytes = std::int64_t{1} << 30;
  int queue_capacity = 16;
  int max_pending_fields = 4096;
  std::int64_t max_pending_bytes = std::int64_t{1} << 30;
  std::int64_t max_pending_bytes_per_member = std::int64_t{256} << 20;
  int reject_log_interval_ms = 1000;
  int io_threads = 1;
  double server_timeout_s = 60.0;
  CurveConfig curve;
  // Not keys of the experiment file: `surge run` sets them. With `require_tickets`, the front
  // admits only simulations registered with Front::expect() and their ticket (a standalone
  // front, as in tests and bench_streaming, admits any). With `expected`, announcements must
  // match it.
  bool require_tickets = false;
  std::optional<MemberExpectations> expected;

  template <class V>
  void visit(V& v) {
    v("experiment", experiment, "experiment id a member must announce to be accepted");
    v("fields", fields, "field names accepted at the handshake; empty accepts any");
    v("front_endpoint", front_endpoint,
      "ZeroMQ endpoint the handshake (ROUTER) socket binds; port * = chosen by the kernel; "
      "loopback by default, tcp://<interface>:* (e.g. tcp://ib0:*) or tcp://*:* (every "
      "interface, members told this host's name) for members on other nodes");
    v("data_endpoint", data_endpoint,
      "ZeroMQ endpoint each receiver's data (PULL) socket binds; port * = chosen by the "
      "kernel; its host also binds the server ranks' control sockets (as front_endpoint)");
    v("hwm", hwm,
      "high-water mark of the data sockets, in messages: how much is buffered before senders "
      "block",
      core::at_least(1));
    v("max_message_bytes", max_message_bytes,
      "largest data message accepted (header + parameters + payload); larger ones are "
      "rejected as oversized",
      core::at_least(std::int64_t{4096}));
    v("max_field_bytes", max_field_bytes,
      "largest global field a member may announce; larger ones are refused as too large",
      core::at_least(std::int64_t{1}));
    v("queue_capacity", queue_capacity,
      "complete fields a receiver holds for a consumer that pops them; when full, reading "
      "stops (back-pressure)",
      core::at_least(1));
    v("max_pending_fields", max_pending_fields,
      "partially assembled fields a receiver holds at most (guards against a misbehaving "
      "sender)",
      core::at_least(1));
    v("max_pending_bytes", max_pending_bytes,
      "bytes of partially assembled fields a receiver holds at most; a block that would start "
      "a field beyond it is rejected (pending_bytes)",
      core::at_least(std::int64_t{1}));
    v("max_pending_bytes_per_member", max_pending_bytes_per_member,
      "bytes of partially assembled fields one member may hold on its receiver at most; a "
      "block that would start a field beyond it is rejected (pending_bytes)",
      core::at_least(std::int64_t{1}));
    v("reject_log_interval_ms", reject_log_interval_ms,
      "at most one log line per rejection kind in this interval (the rest are counted)",
      core::at_least(0));
    v("io_threads", io_threads, "ZeroMQ I/O threads per receiver", core::in_range(1, 16));
    v("server_timeout_s", server_timeout_s,
      "a member that has lost its connection to the server for this long exits with an "
      "error (so no member outlives a dead server)",
      core::at_least(0.1));
    v.section("curve", curve, "optional ZeroMQ CURVE encryption and authentication");
  }
};

// The solver side.
// How many messages of `message_bytes` a client batch of at most `batch_limit` bytes holds
// (ClientConfig::batch_bytes): 1 for a message larger than half the limit, which goes alone.
[[nodiscard]] constexpr std::size_t messages_per_batch(std::size_t message_bytes,
                                                       std::size_t batch_limit) noexcept {
  return message_bytes == 0 || batch_limit < 2 * message_bytes ? 1 : batch_limit / message_bytes;
}

struct ClientConfig {
  std::string front_endpoint;  // the server's handshake endpoint, e.g. tcp://127.0.0.1:5555
  int hwm = 64;
  int handshake_timeout_ms = 10000;
  int heartbeat_interval_ms = 1000;
  int send_timeout_ms = -1;
  int linger_ms = -1;
  int server_timeout_ms = -1;
  std::int64_t zero_copy_bytes = std::int64_t{1} << 16;
  std::int64_t batch_bytes = std::int64_t{256} << 10;
  int batch_ms = 50;
  CurveConfig curve;
  // Not a key: the member ticket `surge run` gave this member (SURGE_MEMBER_TICKET), sent in
  // HELLO; "" for a server that does not ask for one.
  std::string member_ticket;

  template <class V>
  void visit(V& v) {
    v("front_endpoint", front_endpoint, "the server's handshake endpoint");
    v("hwm", hwm, "send high-water mark, in messages; send() blocks beyond it", core::at_least(1));
    v("handshake_timeout_ms", handshake_timeout_ms,
      "how long to wait for the server's answer to the handshake", core::at_least(1));
    v("heartbeat_interval_ms", heartbeat_interval_ms,
      "interval between heartbeats; 0 turns them off", core::at_least(0));
    v("send_timeout_ms", send_timeout_ms,
      "how long send() may block on back-pressure before failing; -1 = forever",
      core::at_least(-1));
    v("linger_ms", linger_ms,
      "how long finish() waits for queued messages to leave; -1 = until delivered",
      core::at_least(-1));
    v("server_timeout_ms", server_timeout_ms,
      "a send that finds the connection to the server down for this long fails (the server "
      "is gone); also bounds linger_ms = -1 at finish(); -1 = wait forever",
      core::at_least(-1));
    v("zero_copy_bytes", zero_copy_bytes,
      "send_owned() payloads at least this large go out without any copy",
      core::at_least(std::int64_t{0}));
    v("batch_bytes", batch_bytes,
      "send() gathers blocks (copied, not send_owned() ones of zero_copy_bytes or more) into "
      "one message of at most this many bytes, or the server's max_message_bytes if smaller: "
      "one message per block costs the member and the server a wake-up each; a block larger "
      "than half of it goes alone; 0 = one message per block",
      core::at_least(std::int64_t{0}));
    v("batch_ms", batch_ms,
      "a gathered block waits at most about this long (the next send(), or the heartbeat "
      "thread, sends the batch; finish() always does)",
      core::at_least(1));
    v.section("curve", curve,
              "CURVE: the server's public key file and the client key pair (see PROTOCOL.md)");
  }
};

}  // namespace surge::streaming
