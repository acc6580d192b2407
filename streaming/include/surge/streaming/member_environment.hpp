#pragma once
// How `surge run` tells a member of an external solver (the user's own program) where to
// stream: a few environment variables, written by the launcher and read back by the client
// (surge_client_init_from_env in C, Fortran and Python; client_from_environment in C++).
// Both sides use this header, so the names are spelled once.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "surge/streaming/client.hpp"
#include "surge/streaming/config.hpp"

namespace surge::streaming {

inline constexpr const char* kEndpointVariable = "SURGE_ENDPOINT";
inline constexpr const char* kExperimentVariable = "SURGE_EXPERIMENT";
inline constexpr const char* kSimulationIdVariable = "SURGE_SIMULATION_ID";
inline constexpr const char* kServerTimeoutVariable = "SURGE_SERVER_TIMEOUT_S";
inline constexpr const char* kPublicKeyFileVariable = "SURGE_SERVER_PUBLIC_KEY_FILE";
inline constexpr const char* kClientPublicKeyFileVariable = "SURGE_CLIENT_PUBLIC_KEY_FILE";
inline constexpr const char* kClientSecretKeyFileVariable = "SURGE_CLIENT_SECRET_KEY_FILE";
// The member's admission ticket: a secret per launch, in the environment because a command
// line is world-readable (/proc/<pid>/cmdline).
inline constexpr const char* kMemberTicketVariable = "SURGE_MEMBER_TICKET";
// The study's parameter names, comma-separated, in the order the member sends their values.
inline constexpr const char* kParameterNamesVariable = "SURGE_PARAMETER_NAMES";

// What a member is told. The first three are required; the others are set when the study
// uses them.
struct MemberEnvironment {
  std::string endpoint;                // the server's handshake (front) endpoint
  std::string experiment;              // the study's name
  std::uint64_t simulation = 0;        // this member's simulation id
  double server_timeout_s = -1.0;      // streaming.server_timeout_s; < 0: wait forever
  std::string server_public_key_file;  // CURVE; "": off
  std::string client_public_key_file;  // CURVE: the client pair the server admits
  std::string client_secret_key_file;
  std::string member_ticket;                 // "": the server asks for none
  std::vector<std::string> parameter_names;  // the study's order; empty: not told
};

// "SURGE_PARAMETER_NAMES=a,b,c": the entry that tells a member the study's parameter order.
[[nodiscard]] std::string parameter_names_entry(const std::vector<std::string>& names);
// The names of SURGE_PARAMETER_NAMES ("a,b,c"); empty when unset. Throws core::ConfigError
// for an empty or repeated name.
[[nodiscard]] std::vector<std::string> parameter_names_from_environment();

// A fresh member ticket: 128 random bits from the OS (/dev/urandom), as 32 hex digits.
// Throws core::IoError if there is no randomness to be had.
[[nodiscard]] std::string make_member_ticket();
// SURGE_MEMBER_TICKET of this process, or "" when unset. Throws core::ConfigError when it
// is longer than a ticket can be.
[[nodiscard]] std::string member_ticket_from_environment();

// The variables of `env` as "NAME=value" entries (the optional ones only when set).
[[nodiscard]] std::vector<std::string> to_environment(const MemberEnvironment& env);

// Reads this process's variables. Throws core::ConfigError naming the variable that is
// missing or ill-formed.
[[nodiscard]] MemberEnvironment read_member_environment();

// A server that does not answer for `seconds` is gone: sends and finish() fail after that
// long without a connection, and the handshake waits no longer (surge solve --server-timeout
// does the same).
void set_server_timeout(ClientConfig& config, double seconds);

// The client settings of `env`: its endpoint, server timeout, CURVE key files and member
// ticket on top of the defaults.
[[nodiscard]] ClientConfig client_config(const MemberEnvironment& env);

// Joins the study that started this process: a client for one rank of the member, with the
// endpoint, experiment and simulation id read from the environment (`identity`'s are
// replaced). Throws what read_member_environment() and Client's constructor throw.
[[nodiscard]] std::unique_ptr<Client> client_from_environment(MemberIdentity identity);

}  // namespace surge::streaming
