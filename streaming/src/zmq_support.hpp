#pragma once
// Internal ZeroMQ helpers shared by the front, the receiver and the client: CURVE options,
// endpoint reporting, and a socket monitor that counts failed handshakes.

#include <atomic>
#include <cstdint>
#include <string>
#include <zmq.hpp>

#include "surge/streaming/config.hpp"

namespace surge::streaming::detail {

// Makes `s` a CURVE server with the secret key from `curve`. Throws ConfigError/IoError.
void make_curve_server(zmq::socket_t& s, const CurveConfig& curve);
// Makes `s` a CURVE client of the server whose public key is in `curve` (own key pair made
// here). Throws ConfigError/IoError.
void make_curve_client(zmq::socket_t& s, const CurveConfig& curve);
// The endpoint `s` is bound to, with the kernel-chosen port.
[[nodiscard]] std::string bound_endpoint(zmq::socket_t& s);
// Binds `s` to `endpoint`; throws ConfigError naming the endpoint.
void bind(zmq::socket_t& s, const std::string& endpoint, const char* what);

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

}  // namespace surge::streaming::detail
