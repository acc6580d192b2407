#pragma once
// ZeroMQ CURVE key files: a key is 40 Z85 characters on one line, as zmq_curve_keypair
// writes them. The server reads its pair from files; clients need the server's public key.

#include <string>

namespace surge::streaming {

// True when the linked libzmq supports CURVE (zmq_has("curve")).
[[nodiscard]] bool curve_available() noexcept;

// Makes a new key pair and writes it to the two files (the secret one with mode 0600).
// Throws ConfigError if CURVE is unavailable, IoError if a file cannot be written.
void write_curve_keypair(const std::string& public_key_file, const std::string& secret_key_file);

// Reads a key file; returns its 40 Z85 characters. Throws IoError if unreadable and
// ConfigError if it does not hold a Z85 key.
[[nodiscard]] std::string read_curve_key(const std::string& path);

}  // namespace surge::streaming
