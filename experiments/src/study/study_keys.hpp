#pragma once
// The CURVE keys of a study (experiments/README.md, "Security"). Rank 0 makes them before any
// member starts: with streaming.curve on, a server and a client pair as files in
// <output_dir>/keys (unless the experiment names its own files), which members read; always,
// the server ranks' control channel pairs, in memory only. The other ranks get them over MPI.

#include <string>
#include <vector>

#include "study/study.hpp"
#include "surge/streaming/config.hpp"
#include "surge/streaming/curve.hpp"

namespace surge::experiments {

// The control channel's CURVE keys, the same on every rank.
struct ControlKeys {
  streaming::CurveKeyPair server;  // every rank's PULL socket
  streaming::CurveKeyPair client;  // every rank's PUSH sockets: the only key admitted
};

// The four key files of a study with streaming.curve on (absolute paths): those the
// experiment names, the others in <output_dir>/keys under the names `surge keys` uses. All
// empty with CURVE off.
struct StudyKeyFiles {
  std::string server_public, server_secret, client_public, client_secret;
};
[[nodiscard]] StudyKeyFiles study_key_files(const Study& study);

// Checks the key files an experiment names (before anything starts): both files of a pair
// or neither, public keys matching their secret ones, secret files of mode 0600. Throws
// ConfigError (IoError for a file that cannot be read) naming the file.
void check_key_files(const streaming::CurveConfig& curve);

// Names of the files `surge keys DIR` and a study write (zmq's zcert convention).
inline constexpr const char* kServerPublicKeyName = "server.key";
inline constexpr const char* kServerSecretKeyName = "server.key_secret";
inline constexpr const char* kClientPublicKeyName = "client.key";
inline constexpr const char* kClientSecretKeyName = "client.key_secret";

// What the server ranks hold: the front's and receivers' CURVE settings (keys in memory,
// admitting the study's client key only; off with streaming.curve off) and the control
// channel's keys.
struct ServerKeys {
  streaming::CurveConfig streaming;
  ControlKeys control;
};

// Collective over MPI_COMM_WORLD: rank 0 writes the missing key files, reads and checks every
// key file (secret ones: mode 0600), makes the control channel's pairs, and broadcasts all.
// Throws ConfigError on every rank, naming the file, if rank 0 could not.
[[nodiscard]] ServerKeys share_server_keys(const Study& study);

// The command-line options that hand a built-in member (`surge-solve`) the study's key files
// (--server-public-key, --client-public-key, --client-secret-key); none with CURVE off.
[[nodiscard]] std::vector<std::string> member_key_options(const Study& study);

}  // namespace surge::experiments
