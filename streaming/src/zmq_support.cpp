#include "zmq_support.hpp"

#include <unistd.h>

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

namespace {
// A key held in memory by the program, or else the one in `file` ("" when neither is set).
std::string key_of(const std::string& memory, const std::string& file, bool secret) {
  if (!memory.empty()) {
    SURGE_REQUIRE(is_z85_key(memory), ConfigError, "a CURVE key given in memory is not Z85");
    return memory;
  }
  if (file.empty()) return {};
  return secret ? read_curve_secret_key(file) : read_curve_key(file);
}
void require_curve() {
  SURGE_REQUIRE(curve_available(), ConfigError,
                "curve is on but this libzmq has no CURVE support (zmq_has(\"curve\") is "
                "false); build libzmq with libsodium");
}
}  // namespace

std::vector<std::string> admitted_client_keys(const CurveConfig& curve) {
  const std::string key = key_of(curve.client_public_key, curve.client_public_key_file, false);
  if (key.empty()) return {};
  return {key};
}

void make_curve_server(zmq::socket_t& s, const CurveConfig& curve) {
  require_curve();
  const std::string secret = key_of(curve.server_secret_key, curve.server_secret_key_file, true);
  SURGE_REQUIRE(!secret.empty(), ConfigError,
                "curve.server_secret_key_file must be set when CURVE is on (surge run makes "
                "the study's keys itself; `surge keys DIR` makes a pair)");
  s.set(zmq::sockopt::curve_server, 1);
  s.set(zmq::sockopt::curve_secretkey, secret);
}

void make_curve_client(zmq::socket_t& s, const CurveConfig& curve) {
  require_curve();
  const std::string server = key_of(curve.server_public_key, curve.server_public_key_file, false);
  SURGE_REQUIRE(!server.empty(), ConfigError,
                "curve.server_public_key_file must be set when CURVE is on");
  std::string pub = key_of(curve.client_public_key, curve.client_public_key_file, false);
  std::string sec = key_of(curve.client_secret_key, curve.client_secret_key_file, true);
  SURGE_REQUIRE(pub.empty() == sec.empty(), ConfigError,
                "curve.client_public_key_file and curve.client_secret_key_file go together: set "
                "both or neither");
  if (pub.empty()) {
    // No client pair: an ephemeral one, which only a server admitting every key accepts.
    CurveKeyPair pair = make_curve_keypair();
    pub = std::move(pair.public_key);
    sec = std::move(pair.secret_key);
  }
  s.set(zmq::sockopt::curve_serverkey, server);
  s.set(zmq::sockopt::curve_publickey, pub);
  s.set(zmq::sockopt::curve_secretkey, sec);
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

}  // namespace surge::streaming::detail
