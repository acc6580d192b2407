#include "surge/streaming/curve.hpp"

#include <sys/stat.h>
#include <zmq.h>

#include <fstream>

#include "surge/core/error.hpp"

namespace surge::streaming {

bool curve_available() noexcept { return zmq_has("curve") != 0; }

void write_curve_keypair(const std::string& public_key_file, const std::string& secret_key_file) {
  SURGE_REQUIRE(curve_available(), ConfigError,
                "this libzmq has no CURVE support (zmq_has(\"curve\") is false); build libzmq "
                "with libsodium");
  char pub[41], sec[41];
  SURGE_REQUIRE(zmq_curve_keypair(pub, sec) == 0, ConfigError,
                "zmq_curve_keypair failed: " << zmq_strerror(zmq_errno()));
  for (auto [path, key] : {std::pair{public_key_file, pub}, std::pair{secret_key_file, sec}}) {
    std::ofstream out(path, std::ios::trunc);
    SURGE_REQUIRE(out, IoError, "cannot write CURVE key file '" << path << "'");
    out << key << "\n";
    SURGE_REQUIRE(out.good(), IoError, "cannot write CURVE key file '" << path << "'");
  }
  chmod(secret_key_file.c_str(), S_IRUSR | S_IWUSR);
}

std::string read_curve_key(const std::string& path) {
  std::ifstream in(path);
  SURGE_REQUIRE(in, IoError, "cannot read CURVE key file '" << path << "'");
  std::string key;
  in >> key;
  SURGE_REQUIRE(
      key.size() == 40, ConfigError,
      "CURVE key file '" << path << "' must hold 40 Z85 characters, found " << key.size());
  unsigned char binary[32];
  SURGE_REQUIRE(zmq_z85_decode(binary, key.c_str()) != nullptr, ConfigError,
                "CURVE key file '" << path << "' does not hold a Z85 key");
  return key;
}

}  // namespace surge::streaming
