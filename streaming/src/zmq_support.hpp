#pragma once
// Internal ZeroMQ helpers shared by the front, the receiver and the client: CURVE options
// and endpoint reporting.

#include <string>
#include <vector>
#include <zmq.hpp>

#include "surge/streaming/authentication.hpp"
#include "surge/streaming/config.hpp"

namespace surge::streaming::detail {

// The public keys (Z85) a CURVE server admits: curve.client_public_key, or the key in
// curve.client_public_key_file; empty when neither is set (any client holding the server's
// public key is then admitted). Throws ConfigError/IoError.
[[nodiscard]] std::vector<std::string> admitted_client_keys(const CurveConfig& curve);
// Makes `s` a CURVE server with the secret key from `curve` (in memory, or its file, whose
// permissions are checked). Throws ConfigError/IoError.
void make_curve_server(zmq::socket_t& s, const CurveConfig& curve);
// Makes `s` a CURVE client of the server whose public key is in `curve`, with the client
// pair of `curve` (in memory or files), or a fresh one when none is given. Throws
// ConfigError/IoError.
void make_curve_client(zmq::socket_t& s, const CurveConfig& curve);
// The endpoint `s` is bound to, with the kernel-chosen port.
[[nodiscard]] std::string bound_endpoint(zmq::socket_t& s);
// Binds `s` to `endpoint`; throws ConfigError naming the endpoint.
void bind(zmq::socket_t& s, const std::string& endpoint, const char* what);

// The authentication helpers live in the public header (the server ranks' control channel
// uses them too); the front and the receiver name them as before.
using streaming::HandshakeMonitor;
using streaming::ZapHandler;

}  // namespace surge::streaming::detail
