#include "surge/streaming/curve.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "surge/core/atomic_file.hpp"
#include "surge/core/error.hpp"

namespace surge::streaming {

bool curve_available() noexcept { return zmq_has("curve") != 0; }

bool is_z85_key(const std::string& key) noexcept {
  unsigned char binary[32];
  return key.size() == 40 && zmq_z85_decode(binary, key.c_str()) != nullptr;
}

CurveKeyPair make_curve_keypair() {
  SURGE_REQUIRE(curve_available(), ConfigError,
                "this libzmq has no CURVE support (zmq_has(\"curve\") is false); build libzmq "
                "with libsodium");
  char pub[41], sec[41];
  SURGE_REQUIRE(zmq_curve_keypair(pub, sec) == 0, ConfigError,
                "zmq_curve_keypair failed: " << zmq_strerror(zmq_errno()));
  return {std::string(pub, 40), std::string(sec, 40)};
}

void write_curve_key(const std::string& path, const std::string& key, bool secret) {
  // The temporary is created with its final mode (O_EXCL: never an older file with wider
  // permissions), and fchmod sets it whatever the umask, so a secret key is never readable
  // by others, not even while it is written.
  const mode_t mode = secret ? 0600 : 0644;
  const std::string temporary = core::partial_path(path);
  ::unlink(temporary.c_str());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  SURGE_REQUIRE(fd >= 0, IoError, core::file_error("create", temporary, errno));
  core::RemoveGuard remove(temporary);
  const std::string text = key + "\n";
  const bool ok = ::fchmod(fd, mode) == 0 &&
                  ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int error = errno;
  ::close(fd);
  SURGE_REQUIRE(ok, IoError, core::file_error("write", temporary, error));
  core::commit_file(temporary, path);
  remove.release();
}

CurveKeyPair write_curve_keypair(const std::string& public_key_file,
                                 const std::string& secret_key_file) {
  CurveKeyPair pair = make_curve_keypair();
  write_curve_key(secret_key_file, pair.secret_key, true);
  write_curve_key(public_key_file, pair.public_key, false);
  return pair;
}

std::string read_curve_key(const std::string& path) {
  std::ifstream in(path);
  SURGE_REQUIRE(in, IoError, core::file_error("read CURVE key file", path, errno));
  std::ostringstream text;
  text << in.rdbuf();
  std::string key = text.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  SURGE_REQUIRE(key.size() == 40, ConfigError,
                "CURVE key file '" << path
                                   << "' must hold one key of 40 Z85 characters (as `surge keys` "
                                   << "writes), found " << key.size() << " characters");
  SURGE_REQUIRE(is_z85_key(key), ConfigError,
                "CURVE key file '" << path << "' does not hold a Z85 key (40 characters of "
                                   << "0-9a-zA-Z.-:+=^!/*?&<>()[]{}@%$#)");
  return key;
}

std::string read_curve_secret_key(const std::string& path) {
  struct stat st {};
  SURGE_REQUIRE(::stat(path.c_str(), &st) == 0, IoError,
                core::file_error("read CURVE secret key file", path, errno));
  SURGE_REQUIRE((st.st_mode & (S_IRWXG | S_IRWXO)) == 0, ConfigError,
                "CURVE secret key file '" << path << "' may be accessed by others (mode "
                                          << std::oct << (st.st_mode & 0777) << std::dec
                                          << "): run `chmod 600 " << path << "`");
  return read_curve_key(path);
}

}  // namespace surge::streaming
