#include "zmq_support.hpp"

#include <unistd.h>

#include <atomic>
#include <cstring>

#include "surge/core/error.hpp"
#include "surge/streaming/curve.hpp"
#include "surge/streaming/front.hpp"

namespace surge::streaming {

std::string connectable_endpoint(const std::string& bound) {
  for (const char* wildcard : {"tcp://0.0.0.0:", "tcp://[::]:", "tcp://*:"}) {
    const std::string prefix = wildcard;
    if (bound.rfind(prefix, 0) != 0) continue;
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return bound;
    return "tcp://" + std::string(host) + ":" + bound.substr(prefix.size());
  }
  return bound;
}

}  // namespace surge::streaming

namespace surge::streaming::detail {

void make_curve_server(zmq::socket_t& s, const CurveConfig& curve) {
  SURGE_REQUIRE(curve_available(), ConfigError,
                "curve.server_public_key_file is set but this libzmq has no CURVE support");
  SURGE_REQUIRE(!curve.server_secret_key_file.empty(), ConfigError,
                "curve.server_secret_key_file must be set when CURVE is on");
  const std::string secret = read_curve_key(curve.server_secret_key_file);
  s.set(zmq::sockopt::curve_server, 1);
  s.set(zmq::sockopt::curve_secretkey, secret);
}

void make_curve_client(zmq::socket_t& s, const CurveConfig& curve) {
  SURGE_REQUIRE(curve_available(), ConfigError,
                "curve.server_public_key_file is set but this libzmq has no CURVE support");
  const std::string server = read_curve_key(curve.server_public_key_file);
  char pub[41], sec[41];
  SURGE_REQUIRE(zmq_curve_keypair(pub, sec) == 0, ConfigError, "zmq_curve_keypair failed");
  s.set(zmq::sockopt::curve_serverkey, server);
  s.set(zmq::sockopt::curve_publickey, std::string(pub, 40));
  s.set(zmq::sockopt::curve_secretkey, std::string(sec, 40));
}

std::string bound_endpoint(zmq::socket_t& s) {
  return connectable_endpoint(s.get(zmq::sockopt::last_endpoint));
}

void bind(zmq::socket_t& s, const std::string& endpoint, const char* what) {
  try {
    s.bind(endpoint);
  } catch (const zmq::error_t& e) {
    SURGE_THROW(ConfigError,
                "cannot bind the " << what << " socket to '" << endpoint << "': " << e.what());
  }
}

HandshakeMonitor::HandshakeMonitor(zmq::context_t& context, zmq::socket_t& watched)
    : pair_(context, zmq::socket_type::pair) {
  static std::atomic<std::uint64_t> counter{0};
  const std::string address = "inproc://surge-monitor-" + std::to_string(counter++);
  const int events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
  if (zmq_socket_monitor(watched.handle(), address.c_str(), events) != 0) {
    throw zmq::error_t();
  }
  pair_.connect(address);
}

std::uint64_t HandshakeMonitor::drain() {
  std::uint64_t failures = 0;
  zmq::message_t event, address;
  while (pair_.recv(event, zmq::recv_flags::dontwait)) {
    if (event.more()) (void)pair_.recv(address);
    if (event.size() >= 2) {
      std::uint16_t id;
      std::memcpy(&id, event.data(), 2);
      if (id & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)) {
        ++failures;
      }
    }
  }
  return failures;
}

}  // namespace surge::streaming::detail
