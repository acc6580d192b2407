#pragma once
// One server rank's receiver: binds a ZeroMQ PULL socket, validates and assembles the blocks
// of the members the front assigned to it on its own I/O thread, and hands complete fields
// on to a callback or a bounded queue. A full queue stops reading, so senders block
// (back-pressure, never loss).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "surge/streaming/assembler.hpp"
#include "surge/streaming/config.hpp"
#include "surge/streaming/field.hpp"

namespace surge::streaming {

// A fresh random admission key, shared by a front and its receivers (PROTOCOL.md).
[[nodiscard]] std::uint64_t make_admission_key();
// The assembler's bounds from a receiver's configuration.
[[nodiscard]] AssemblerLimits assembler_limits(const ReceiverConfig& config);

class Receiver {
 public:
  // Called on the receiver's I/O thread for each delivery; while it runs, nothing is read.
  using Handler = std::function<void(Delivery&&)>;

  // Binds config.data_endpoint and starts the I/O thread. Without a handler, deliveries go
  // to a queue of config.queue_capacity read with pop(). Throws ConfigError (bad endpoint,
  // CURVE keys) or IoError (key files).
  Receiver(const ReceiverConfig& config, std::uint64_t admission_key, std::uint32_t server_rank = 0,
           Handler handler = {});
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  // The bound data endpoint, with the chosen port (what the front tells members).
  [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }
  [[nodiscard]] std::uint32_t server_rank() const noexcept { return server_rank_; }

  // Queue mode: the next delivery, or nothing if none came within `timeout` or the
  // receiver stopped. Throws ConfigError in handler mode.
  [[nodiscard]] std::optional<Delivery> pop(std::chrono::milliseconds timeout);

  // Stops the I/O thread (idempotent); queued deliveries stay poppable.
  void stop();

  // A snapshot of the counters.
  [[nodiscard]] IngestStats stats() const;
  // Failed ZeroMQ handshakes seen on the data socket (e.g. clients without the CURVE key).
  [[nodiscard]] std::uint64_t handshake_failures() const noexcept { return handshake_failures_; }
  // ZeroMQ messages read from the data socket: a batch of frames counts once (stats() counts
  // each frame).
  [[nodiscard]] std::uint64_t wire_messages() const noexcept { return wire_messages_; }
  // CURVE clients refused because their public key is not the admitted client key (ZAP).
  [[nodiscard]] std::uint64_t curve_refused() const noexcept;
  // Liveness of every member rank declared here.
  [[nodiscard]] std::vector<MemberStatus> members() const;
  // Member ranks not heard from (any message) for longer than `max_silence`, ended ones
  // excluded.
  [[nodiscard]] std::vector<MemberStatus> silent_members(Clock::duration max_silence) const;
  // Frees what is held for `simulation` (its member was redrawn or given up; thread-safe):
  // later messages of it are counted as after_end. Returns the partial fields dropped.
  std::size_t forget(std::uint64_t simulation);
  // Bytes of partially assembled fields held now.
  [[nodiscard]] std::uint64_t pending_bytes() const;
  // Deliveries waiting in the queue.
  [[nodiscard]] std::size_t queued() const;

 private:
  void run();
  void deliver(Delivery&& d);
  // Logs a dropped message (at most one line per kind per reject_log_interval_ms), with its
  // detail when the kind has one.
  void log_rejection(Rejection why, const std::string& detail = {});
  // Counts and logs a message dropped as malformed before it reached the assembler.
  void reject_malformed(const std::string& detail);
  // Ingests one frame and hands on what it completes; false when the frame was rejected
  // before its checksum verified (its size cannot place the next frame of a batch).
  bool ingest_and_deliver(const RawMessage& m);

  struct Zmq;  // sockets and context, kept out of this header
  ReceiverConfig config_;
  std::uint32_t server_rank_;
  Handler handler_;
  std::unique_ptr<Zmq> zmq_;
  std::string endpoint_;

  mutable std::mutex state_mutex_;  // guards assembler_
  Assembler assembler_;

  mutable std::mutex queue_mutex_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Delivery> queue_;

  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> handshake_failures_{0};
  std::atomic<std::uint64_t> wire_messages_{0};
  std::array<Clock::time_point, kRejectionKinds> last_logged_{};
  std::array<std::uint64_t, kRejectionKinds> unlogged_{};
  std::thread thread_;
};

}  // namespace surge::streaming
