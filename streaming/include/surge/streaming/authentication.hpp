#pragma once
// Who may talk to a ZeroMQ server socket: the ZAP handler (RFC 27) that admits CURVE clients
// by their public key, and a socket monitor that counts failed handshakes. The front, the
// receivers and the server ranks' control channel use both.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

namespace surge::streaming {

// Watches a socket for failed ZeroMQ handshakes (wrong or missing CURVE keys, bad greeting).
class HandshakeMonitor {
 public:
  HandshakeMonitor(zmq::context_t& context, zmq::socket_t& watched);
  [[nodiscard]] zmq::socket_t& socket() noexcept { return pair_; }
  // Reads pending events; returns how many were handshake failures.
  std::uint64_t drain();

 private:
  zmq::socket_t pair_;
};

// The ZeroMQ authentication handler (ZAP, RFC 27) of one context: a REP socket bound to
// inproc://zeromq.zap.01, on its own thread, answering every CURVE handshake of the
// context's server sockets: 200 for a client whose public key is admitted, 400 otherwise
// (counted, and logged at most once per interval). Made before any CURVE socket of the
// context binds, destroyed before the context. If its thread failed, handshakes would wait
// for an answer that never comes: it fails closed.
class ZapHandler {
 public:
  // `admitted`: Z85 public keys; empty admits every key. `what` names the socket in logs.
  // Throws ConfigError for a key that is not Z85, zmq::error_t if the endpoint is taken.
  ZapHandler(zmq::context_t& context, const std::vector<std::string>& admitted, std::string what,
             std::chrono::milliseconds log_interval);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;
  // Handshakes refused so far.
  [[nodiscard]] std::uint64_t refused() const noexcept { return refused_; }

 private:
  void run() noexcept;
  void answer();

  zmq::socket_t rep_, control_in_, control_out_;
  std::vector<std::string> admitted_;  // 32-byte binary keys
  std::string what_;
  std::chrono::milliseconds log_interval_;
  std::chrono::steady_clock::time_point last_logged_{};
  std::uint64_t unlogged_ = 0;
  std::atomic<std::uint64_t> refused_{0};
  std::thread thread_;
};

}  // namespace surge::streaming
