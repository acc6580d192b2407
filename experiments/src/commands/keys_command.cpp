// `surge keys DIR [--force]`: a CURVE server and client key pair for streaming.curve, for a
// study that uses its own keys rather than the ones `surge run` makes in <output_dir>/keys.
#include <cstdio>
#include <filesystem>

#include "study/study_keys.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/experiments/cli.hpp"
#include "surge/streaming/curve.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

namespace {

void print_help() {
  std::printf(
      "usage: surge keys DIR [--force]\n"
      "\nMakes a CURVE server key pair and client key pair for streaming.curve in DIR (made if\n"
      "absent): %s and %s (the server's), %s and %s (the client's, which the\n"
      "server admits and members present). Secret keys are written with mode 0600, public ones\n"
      "with 0644. Then prints the experiment keys that use them. Without keys of its own a\n"
      "study with streaming.curve.enabled: true makes a fresh set in <output_dir>/keys.\n"
      "\noptions:\n"
      "  --force   replace key files that exist (default: refuse)\n"
      "  --help    this text\n",
      kServerPublicKeyName, kServerSecretKeyName, kClientPublicKeyName, kClientSecretKeyName);
}

}  // namespace

int keys_command(const std::vector<std::string>& args) {
  std::string dir;
  bool force = false;
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      if (core::Logger::rank() == 0) print_help();
      return 0;
    }
    if (a == "--force") {
      force = true;
    } else if (a.rfind("--", 0) == 0) {
      SURGE_THROW(ConfigError, "unknown option '" << a << "' (see surge keys --help)");
    } else {
      SURGE_REQUIRE(dir.empty(), ConfigError,
                    "unexpected argument '" << a << "' (usage: surge keys DIR [--force])");
      dir = a;
    }
  }
  SURGE_REQUIRE(!dir.empty(), ConfigError, "no directory named (usage: surge keys DIR [--force])");
  if (core::Logger::rank() != 0) return 0;
  const fs::path d = fs::absolute(dir);
  const std::string files[4] = {
      (d / kServerPublicKeyName).string(), (d / kServerSecretKeyName).string(),
      (d / kClientPublicKeyName).string(), (d / kClientSecretKeyName).string()};
  if (!force) {
    for (const auto& f : files) {
      SURGE_REQUIRE(!fs::exists(f), ConfigError,
                    "'" << f << "' exists: surge keys does not replace keys (use --force)");
    }
  }
  std::error_code ec;
  fs::create_directories(d, ec);
  SURGE_REQUIRE(!ec, IoError, "cannot create '" << d.string() << "': " << ec.message());
  (void)streaming::write_curve_keypair(files[0], files[1]);
  (void)streaming::write_curve_keypair(files[2], files[3]);
  std::printf(
      "surge keys: wrote\n  %s  (server public key, 0644)\n  %s  (server secret key, 0600)\n"
      "  %s  (client public key, 0644)\n  %s  (client secret key, 0600)\n"
      "\nIn the experiment file:\n"
      "streaming:\n"
      "  curve:\n"
      "    server_public_key_file: %s\n"
      "    server_secret_key_file: %s\n"
      "    client_public_key_file: %s\n"
      "    client_secret_key_file: %s\n",
      files[0].c_str(), files[1].c_str(), files[2].c_str(), files[3].c_str(), files[0].c_str(),
      files[1].c_str(), files[2].c_str(), files[3].c_str());
  return 0;
}

}  // namespace surge::experiments
