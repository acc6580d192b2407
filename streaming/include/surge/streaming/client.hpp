#pragma once
// The solver side of streaming: one Client per MPI rank of a member. It shakes hands with
// the server's front, then pushes its blocks of each field to the server rank it was given.
// send() copies the data once into the message (send_owned() not at all) and blocks while
// the server applies back-pressure.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "surge/core/error.hpp"
#include "surge/streaming/config.hpp"
#include "surge/streaming/protocol.hpp"
#include "surge/streaming/span.hpp"

namespace zmq {
class message_t;
}

namespace surge::streaming {

// Who is sending: the member, this rank, what it streams.
struct MemberIdentity {
  std::string experiment;
  std::uint64_t simulation = 0;
  std::uint32_t member_rank = 0;
  std::uint32_t member_size = 1;
  DType dtype = DType::float64;
  std::vector<FieldSpec> fields;   // names and global shapes
  std::vector<double> parameters;  // sent with every block
  // Their names, in the same order: empty, or one per parameter. A study's server refuses a
  // member whose names or order differ from the study's (SURGE_PARAMETER_NAMES).
  std::vector<std::string> parameter_names;
};

// This rank's block of a field: global offsets and extents per dimension. Empty = the whole
// field.
struct Block {
  std::vector<std::uint64_t> offset;
  std::vector<std::uint64_t> extent;
};

// The server refused the handshake; reason() says why.
class HandshakeRefused : public core::ProtocolError {
 public:
  HandshakeRefused(RefusalReason reason, const std::string& message, const char* file, int line)
      : core::ProtocolError(message, file, line), reason_(reason) {}
  [[nodiscard]] RefusalReason reason() const noexcept { return reason_; }

 private:
  RefusalReason reason_;
};

class Client {
 public:
  // Shakes hands with config.front_endpoint and connects to the assigned data endpoint.
  // Throws HandshakeRefused (refused, with the reason), ProtocolError (no answer within
  // handshake_timeout_ms, unreadable answer), ConfigError (bad identity, a malformed
  // front_endpoint, CURVE keys), IoError (key files).
  Client(const ClientConfig& config, MemberIdentity identity);
  // Sends END unless finish() was called, then closes (waiting up to linger_ms).
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends this rank's block of `field` at `step`: one copy into the message. `data` holds
  // prod(block.extent) elements row-major and must match the member's dtype. Blocks while
  // the server applies back-pressure. Throws ProtocolError (unknown field, block outside the
  // shape, wrong size or dtype, after finish(), send timeout, no connection to the server for
  // server_timeout_ms).
  void send(std::string_view field, std::int64_t step, double time, Span<const double> data,
            const Block& block = {});
  void send(std::string_view field, std::int64_t step, double time, Span<const float> data,
            const Block& block = {});
  // As send(), but takes ownership of `data` and, when it is at least zero_copy_bytes, hands
  // it to ZeroMQ without any copy. Throws as send().
  void send_owned(std::string_view field, std::int64_t step, double time,
                  std::vector<double>&& data, const Block& block = {});
  void send_owned(std::string_view field, std::int64_t step, double time, std::vector<float>&& data,
                  const Block& block = {});

  // Sends END (after every block sent before) and stops heartbeats; idempotent. Throws
  // ProtocolError if END cannot be sent within send_timeout_ms.
  void finish();

  // The server rank and data endpoint the front assigned.
  [[nodiscard]] std::uint32_t server_rank() const noexcept { return server_rank_; }
  [[nodiscard]] const std::string& data_endpoint() const noexcept { return data_endpoint_; }
  [[nodiscard]] const MemberIdentity& identity() const noexcept { return identity_; }
  // Data messages sent so far, and heartbeats.
  [[nodiscard]] std::uint64_t blocks_sent() const noexcept { return blocks_sent_; }
  [[nodiscard]] std::uint64_t heartbeats_sent() const noexcept { return heartbeats_sent_; }

 private:
  Header block_header(std::string_view field, std::int64_t step, double time, DType dtype,
                      std::size_t elements, const Block& block) const;
  void send_copy(const Header& h, Bytes payload);
  // Sends the gathered blocks as one message; the caller holds data_mutex_. Throws as
  // send(). With `wait` false it never blocks and returns false if the socket is full.
  bool flush_batch(bool wait);
  template <class T>
  void send_vector(std::string_view field, std::int64_t step, double time, std::vector<T>&& data,
                   const Block& block);
  void send_control(MessageKind kind, std::int64_t step);
  // Sends one frame on the data socket: blocks on back-pressure up to send_timeout_ms (-1:
  // forever), then throws ProtocolError ("could not send ... within"); also throws once the
  // connection to the server has been down for server_timeout_ms.
  void send_frame(zmq::message_t& message, bool more);
  // Reads the data socket's connection events; throws ProtocolError if the server is lost.
  void check_server();
  // check_server(), at most every 10 ms.
  void check_server_now_and_then();
  void heartbeat_loop();

  struct Zmq;
  ClientConfig config_;
  MemberIdentity identity_;
  std::unique_ptr<Zmq> zmq_;
  std::uint32_t server_rank_ = 0;
  // The checksum seed of DATA and END: member_seed(the ticket of the WELCOME), a secret of
  // this rank and the server (PROTOCOL.md, "Checksum").
  std::uint64_t seed_ = kChecksumSeed;
  std::string data_endpoint_;
  std::int64_t last_step_ = -1;
  // The steps the server takes (WELCOME): 0 .. steps_-1; 0: any step >= 0.
  std::int64_t steps_ = 0;
  bool finished_ = false;
  // Data socket connection, from its monitor: whether connected, and since when not.
  bool connected_ = false;
  std::chrono::steady_clock::time_point disconnected_since_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_server_check_{};
  std::atomic<std::uint64_t> blocks_sent_{0}, heartbeats_sent_{0};

  // Blocks gathered for one message (ClientConfig::batch_bytes), and when the first came.
  // data_mutex_ guards them and the data socket: the heartbeat thread sends a batch that has
  // waited batch_ms.
  std::mutex data_mutex_;
  std::unique_ptr<std::byte[]> batch_;
  std::size_t batch_size_ = 0;
  std::size_t batch_limit_ = 0;  // min(batch_bytes, the server's max_message_bytes)
  std::chrono::steady_clock::time_point batch_since_;

  std::mutex heartbeat_mutex_;
  std::condition_variable heartbeat_cv_;
  bool heartbeat_stop_ = false;
  std::thread heartbeat_thread_;
};

}  // namespace surge::streaming
