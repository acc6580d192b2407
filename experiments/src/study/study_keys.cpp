#include "study/study_keys.hpp"

#include <mpi.h>
#include <sys/stat.h>
#include <zmq.h>

#include "study/server_mpi.hpp"
#include "surge/core/error.hpp"
#include "surge/core/mpi.hpp"
#include "surge/streaming/curve.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

namespace {

// Rank 0's `text` on every rank.
void bcast_text(std::string& text) {
  std::vector<std::int64_t> n = {static_cast<std::int64_t>(text.size())};
  bcast_vector(n);
  text.resize(static_cast<std::size_t>(n.at(0)));
  MPI_Request request;
  SURGE_MPI_CHECK(MPI_Ibcast(text.data(), static_cast<int>(text.size()), MPI_CHAR, 0,
                             MPI_COMM_WORLD, &request));
  wait_request(request);
}

// The keys of a pair's files, the public one checked against the secret one (whose mode is
// checked on reading).
streaming::CurveKeyPair verified_pair(const std::string& public_file,
                                      const std::string& secret_file) {
  streaming::CurveKeyPair pair{streaming::read_curve_key(public_file),
                               streaming::read_curve_secret_key(secret_file)};
  char derived[41];
  SURGE_REQUIRE(zmq_curve_public(derived, pair.secret_key.c_str()) == 0 &&
                    pair.public_key == std::string(derived, 40),
                ConfigError,
                "CURVE key file '" << public_file << "' does not hold the public key of '"
                                   << secret_file << "'");
  return pair;
}

// Makes the key pairs the experiment does not name; returns the four keys (server public,
// server secret, client public, client secret).
std::vector<std::string> streaming_keys(const Study& study) {
  const streaming::CurveConfig& c = study.cfg.streaming.curve;
  check_key_files(c);
  const StudyKeyFiles f = study_key_files(study);
  const bool make_server = c.server_public_key_file.empty();
  const bool make_client = c.client_public_key_file.empty();
  if (make_server || make_client) {
    const fs::path dir = study.out_dir / "keys";
    fs::create_directories(dir);
    ::chmod(dir.c_str(), 0700);
    if (make_server) (void)streaming::write_curve_keypair(f.server_public, f.server_secret);
    if (make_client) (void)streaming::write_curve_keypair(f.client_public, f.client_secret);
  }
  const streaming::CurveKeyPair server = verified_pair(f.server_public, f.server_secret);
  const streaming::CurveKeyPair client = verified_pair(f.client_public, f.client_secret);
  return {server.public_key, server.secret_key, client.public_key, client.secret_key};
}

}  // namespace

void check_key_files(const streaming::CurveConfig& c) {
  auto pair = [](const std::string& public_file, const std::string& secret_file,
                 const char* public_key, const char* secret_key) {
    SURGE_REQUIRE(public_file.empty() == secret_file.empty(), ConfigError,
                  "streaming.curve." << (public_file.empty() ? secret_key : public_key)
                                     << " is set without streaming.curve."
                                     << (public_file.empty() ? public_key : secret_key)
                                     << ": name both files of the pair, or neither (the study "
                                        "then makes the pair in <output_dir>/keys)");
    if (!public_file.empty()) (void)verified_pair(public_file, secret_file);
  };
  pair(c.server_public_key_file, c.server_secret_key_file, "server_public_key_file",
       "server_secret_key_file");
  pair(c.client_public_key_file, c.client_secret_key_file, "client_public_key_file",
       "client_secret_key_file");
}

StudyKeyFiles study_key_files(const Study& study) {
  const streaming::CurveConfig& c = study.cfg.streaming.curve;
  StudyKeyFiles f;
  if (!c.on()) return f;
  const fs::path dir = study.out_dir / "keys";
  auto file = [&](const std::string& given, const char* name) {
    return given.empty() ? (dir / name).string() : fs::absolute(given).string();
  };
  f.server_public = file(c.server_public_key_file, kServerPublicKeyName);
  f.server_secret = file(c.server_secret_key_file, kServerSecretKeyName);
  f.client_public = file(c.client_public_key_file, kClientPublicKeyName);
  f.client_secret = file(c.client_secret_key_file, kClientSecretKeyName);
  return f;
}

ServerKeys share_server_keys(const Study& study) {
  const bool curve = study.cfg.streaming.curve.on();
  // "ok" and 40 characters per key (streaming pairs first when on, then the control pairs),
  // or "error" and rank 0's message.
  std::string text;
  if (core::comm_rank(MPI_COMM_WORLD) == 0) {
    try {
      std::vector<std::string> keys;
      if (curve) keys = streaming_keys(study);
      for (int k = 0; k < 2; ++k) {
        streaming::CurveKeyPair p = streaming::make_curve_keypair();
        keys.push_back(p.public_key);
        keys.push_back(p.secret_key);
      }
      text = "ok";
      for (const auto& key : keys) text += key;
    } catch (const core::Error& e) {
      text = "error" + e.message();
    } catch (const std::exception& e) {
      text = std::string("error") + e.what();
    }
  }
  bcast_text(text);
  SURGE_REQUIRE(text.rfind("ok", 0) == 0, ConfigError, text.substr(5));
  std::vector<std::string> keys;
  for (std::size_t at = 2; at + 40 <= text.size(); at += 40) keys.push_back(text.substr(at, 40));
  SURGE_REQUIRE(keys.size() == (curve ? 8u : 4u), MpiError, "surge run: truncated key broadcast");
  ServerKeys out;
  std::size_t k = 0;
  if (curve) {
    out.streaming.enabled = true;
    out.streaming.server_public_key = keys[k++];
    out.streaming.server_secret_key = keys[k++];
    out.streaming.client_public_key = keys[k++];
    ++k;  // the client secret: members read it from its file
  }
  out.control.server = {keys[k], keys[k + 1]};
  out.control.client = {keys[k + 2], keys[k + 3]};
  return out;
}

std::vector<std::string> member_key_options(const Study& study) {
  const StudyKeyFiles f = study_key_files(study);
  if (f.server_public.empty()) return {};
  return {"--server-public-key", f.server_public,       "--client-public-key",
          f.client_public,       "--client-secret-key", f.client_secret};
}

}  // namespace surge::experiments
