#include "surge/streaming/member_environment.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "surge/core/config.hpp"
#include "surge/core/error.hpp"

namespace surge::streaming {

namespace {

// The variable's value, or nullptr when it is unset or empty.
const char* value_of(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

const char* required(const char* name) {
  const char* v = value_of(name);
  SURGE_REQUIRE(v, ConfigError,
                name << " is not set: a member of an external solver is started by `surge run`, "
                     << "which sets " << kEndpointVariable << ", " << kExperimentVariable << " and "
                     << kSimulationIdVariable);
  return v;
}

}  // namespace

std::vector<std::string> to_environment(const MemberEnvironment& env) {
  std::vector<std::string> out = {
      std::string(kEndpointVariable) + "=" + env.endpoint,
      std::string(kExperimentVariable) + "=" + env.experiment,
      std::string(kSimulationIdVariable) + "=" + std::to_string(env.simulation)};
  if (env.server_timeout_s > 0) {
    out.push_back(std::string(kServerTimeoutVariable) + "=" +
                  core::detail::to_text(env.server_timeout_s));
  }
  if (!env.server_public_key_file.empty()) {
    out.push_back(std::string(kPublicKeyFileVariable) + "=" + env.server_public_key_file);
  }
  if (!env.client_public_key_file.empty()) {
    out.push_back(std::string(kClientPublicKeyFileVariable) + "=" + env.client_public_key_file);
  }
  if (!env.client_secret_key_file.empty()) {
    out.push_back(std::string(kClientSecretKeyFileVariable) + "=" + env.client_secret_key_file);
  }
  if (!env.member_ticket.empty()) {
    out.push_back(std::string(kMemberTicketVariable) + "=" + env.member_ticket);
  }
  if (!env.parameter_names.empty()) out.push_back(parameter_names_entry(env.parameter_names));
  return out;
}

std::string parameter_names_entry(const std::vector<std::string>& names) {
  std::string entry = std::string(kParameterNamesVariable) + "=";
  for (std::size_t k = 0; k < names.size(); ++k) entry += (k ? "," : "") + names[k];
  return entry;
}

std::vector<std::string> parameter_names_from_environment() {
  const char* v = value_of(kParameterNamesVariable);
  std::vector<std::string> names;
  if (!v) return names;
  const std::string text = v;
  for (std::size_t start = 0;;) {
    const std::size_t end = text.find(',', start);
    names.push_back(text.substr(start, end == std::string::npos ? end : end - start));
    SURGE_REQUIRE(
        !names.back().empty() && std::count(names.begin(), names.end(), names.back()) == 1,
        ConfigError,
        kParameterNamesVariable << "='" << text << "' is not a list of distinct names (a,b,c)");
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return names;
}

MemberEnvironment read_member_environment() {
  MemberEnvironment env;
  env.endpoint = required(kEndpointVariable);
  env.experiment = required(kExperimentVariable);
  const std::string id = required(kSimulationIdVariable);
  errno = 0;
  char* end = nullptr;
  const unsigned long long sim = std::strtoull(id.c_str(), &end, 10);
  SURGE_REQUIRE(
      std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
          errno == 0 && *end == '\0',
      ConfigError,
      kSimulationIdVariable << "='" << id << "' is not a simulation id (an unsigned integer)");
  env.simulation = sim;
  if (const char* timeout = value_of(kServerTimeoutVariable)) {
    end = nullptr;
    const double s = std::strtod(timeout, &end);
    SURGE_REQUIRE(
        *end == '\0' && std::isfinite(s) && s > 0, ConfigError,
        kServerTimeoutVariable << "='" << timeout << "' is not a number of seconds (> 0)");
    env.server_timeout_s = s;
  }
  if (const char* key = value_of(kPublicKeyFileVariable)) env.server_public_key_file = key;
  if (const char* key = value_of(kClientPublicKeyFileVariable)) env.client_public_key_file = key;
  if (const char* key = value_of(kClientSecretKeyFileVariable)) env.client_secret_key_file = key;
  SURGE_REQUIRE(env.client_public_key_file.empty() == env.client_secret_key_file.empty(),
                ConfigError,
                kClientPublicKeyFileVariable << " and " << kClientSecretKeyFileVariable
                                             << " go together: set both or neither");
  env.member_ticket = member_ticket_from_environment();
  env.parameter_names = parameter_names_from_environment();
  return env;
}

std::string make_member_ticket() {
  unsigned char bits[16];
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  urandom.read(reinterpret_cast<char*>(bits), sizeof bits);
  SURGE_REQUIRE(urandom.gcount() == static_cast<std::streamsize>(sizeof bits), IoError,
                "cannot read 16 random bytes from /dev/urandom for a member ticket");
  static const char* const kHex = "0123456789abcdef";
  std::string ticket;
  for (unsigned char b : bits) {
    ticket += kHex[b >> 4];
    ticket += kHex[b & 15];
  }
  return ticket;
}

std::string member_ticket_from_environment() {
  const char* t = value_of(kMemberTicketVariable);
  if (!t) return "";
  SURGE_REQUIRE(std::strlen(t) <= kMaxMemberTicketBytes, ConfigError,
                kMemberTicketVariable << " is longer than " << kMaxMemberTicketBytes
                                      << " bytes: not a ticket surge run made");
  return t;
}

void set_server_timeout(ClientConfig& config, double seconds) {
  if (seconds <= 0) return;
  config.server_timeout_ms = static_cast<int>(std::min(seconds * 1000.0, 2e9));
  config.handshake_timeout_ms = std::min(config.handshake_timeout_ms, config.server_timeout_ms);
}

ClientConfig client_config(const MemberEnvironment& env) {
  ClientConfig config;
  config.front_endpoint = env.endpoint;
  config.curve.server_public_key_file = env.server_public_key_file;
  config.curve.client_public_key_file = env.client_public_key_file;
  config.curve.client_secret_key_file = env.client_secret_key_file;
  set_server_timeout(config, env.server_timeout_s);
  config.member_ticket = env.member_ticket;
  return config;
}

std::unique_ptr<Client> client_from_environment(MemberIdentity identity) {
  const MemberEnvironment env = read_member_environment();
  identity.experiment = env.experiment;
  identity.simulation = env.simulation;
  return std::make_unique<Client>(client_config(env), std::move(identity));
}

}  // namespace surge::streaming
