#pragma once
// ZeroMQ CURVE keys: a key is 40 Z85 characters on one line, as zmq_curve_keypair writes
// them. A study has a server pair and a client pair; the server admits only clients that
// hold the client pair (a ZAP handler checks the client's public key).

#include <string>

namespace surge::streaming {

// A CURVE key pair, each key as its 40 Z85 characters.
struct CurveKeyPair {
  std::string public_key;
  std::string secret_key;
};

// True when the linked libzmq supports CURVE (zmq_has("curve")).
[[nodiscard]] bool curve_available() noexcept;

// A fresh key pair from libsodium's random source. Throws ConfigError if CURVE is unavailable.
[[nodiscard]] CurveKeyPair make_curve_keypair();

// Makes a new key pair and writes it: the public file with mode 0644, the secret file
// created with mode 0600 (never readable by others, not even while it is written). Both
// appear whole (a temporary file renamed). Throws ConfigError if CURVE is unavailable,
// IoError if a file cannot be written. Returns the pair.
CurveKeyPair write_curve_keypair(const std::string& public_key_file,
                                 const std::string& secret_key_file);

// Writes one key file (mode 0600 for a secret key, 0644 for a public one), as above.
void write_curve_key(const std::string& path, const std::string& key, bool secret);

// Reads a public key file; returns its 40 Z85 characters. Throws IoError if unreadable and
// ConfigError if it does not hold exactly one Z85 key of 40 characters.
[[nodiscard]] std::string read_curve_key(const std::string& path);

// Reads a secret key file as read_curve_key() does, after checking that neither its group
// nor others may access it: ConfigError "... run `chmod 600 <file>`" otherwise.
[[nodiscard]] std::string read_curve_secret_key(const std::string& path);

// True when `key` is 40 characters that decode as Z85.
[[nodiscard]] bool is_z85_key(const std::string& key) noexcept;

}  // namespace surge::streaming
