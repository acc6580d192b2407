// The environment `surge run` gives a member of an external solver: written by the launcher,
// read back by the client (C++ and C API), with one clear error per missing or ill-formed
// variable.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>

#include "surge/core/error.hpp"
#include "surge/streaming/client.h"
#include "surge/streaming/member_environment.hpp"

namespace st = surge::streaming;

namespace {

// Sets the variables of `env` (and unsets the optional ones it lacks).
void apply(const st::MemberEnvironment& env) {
  for (const char* name :
       {st::kEndpointVariable, st::kExperimentVariable, st::kSimulationIdVariable,
        st::kServerTimeoutVariable, st::kPublicKeyFileVariable, st::kMemberTicketVariable,
        st::kParameterNamesVariable}) {
    unsetenv(name);
  }
  for (const auto& entry : st::to_environment(env)) {
    const auto eq = entry.find('=');
    setenv(entry.substr(0, eq).c_str(), entry.substr(eq + 1).c_str(), 1);
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const surge::core::ConfigError& e) {
    return e.message();
  }
  return "";
}

st::MemberEnvironment sample() {
  st::MemberEnvironment env;
  env.endpoint = "tcp://127.0.0.1:5555";
  env.experiment = "study";
  env.simulation = 42;
  env.server_timeout_s = 2.5;
  env.server_public_key_file = "/keys/server.pub";
  env.member_ticket = "0123456789abcdef0123456789abcdef";
  env.parameter_names = {"amp", "tb", "alpha"};
  return env;
}

}  // namespace

TEST(MemberEnvironment, WhatTheLauncherWritesTheClientReads) {
  apply(sample());
  const st::MemberEnvironment env = st::read_member_environment();
  EXPECT_EQ(env.endpoint, "tcp://127.0.0.1:5555");
  EXPECT_EQ(env.experiment, "study");
  EXPECT_EQ(env.simulation, 42u);
  EXPECT_DOUBLE_EQ(env.server_timeout_s, 2.5);
  EXPECT_EQ(env.server_public_key_file, "/keys/server.pub");
  EXPECT_EQ(std::string(std::getenv(st::kParameterNamesVariable)), "amp,tb,alpha");
  EXPECT_EQ(env.parameter_names, (std::vector<std::string>{"amp", "tb", "alpha"}));
  const st::ClientConfig config = st::client_config(env);
  EXPECT_EQ(config.front_endpoint, env.endpoint);
  EXPECT_EQ(config.server_timeout_ms, 2500);
  EXPECT_EQ(config.handshake_timeout_ms, 2500);  // a server that never answers is gone too
  EXPECT_EQ(config.curve.server_public_key_file, "/keys/server.pub");
  EXPECT_EQ(config.member_ticket, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(st::member_ticket_from_environment(), config.member_ticket);
}

TEST(MemberEnvironment, OptionalVariablesMayBeAbsent) {
  st::MemberEnvironment plain = sample();
  plain.server_timeout_s = -1;
  plain.server_public_key_file.clear();
  plain.member_ticket.clear();
  plain.parameter_names.clear();
  apply(plain);
  EXPECT_EQ(st::to_environment(plain).size(), 3u);
  EXPECT_TRUE(st::read_member_environment().parameter_names.empty());
  const st::ClientConfig config = st::client_config(st::read_member_environment());
  EXPECT_EQ(config.server_timeout_ms, -1);
  EXPECT_FALSE(config.curve.on());
  EXPECT_EQ(config.member_ticket, "");
}

TEST(MemberEnvironment, EachMissingOrIllFormedVariableIsNamed) {
  for (const char* name :
       {st::kEndpointVariable, st::kExperimentVariable, st::kSimulationIdVariable}) {
    apply(sample());
    unsetenv(name);
    const std::string e = error_of([] { (void)st::read_member_environment(); });
    EXPECT_EQ(e.rfind(std::string(name) + " is not set: ", 0), 0u) << e;
    EXPECT_NE(e.find("surge run"), std::string::npos) << e;
  }
  for (const char* id : {"12a", "-3", "1.5", "99999999999999999999999"}) {
    apply(sample());
    setenv(st::kSimulationIdVariable, id, 1);
    EXPECT_NE(error_of([] {
                (void)st::read_member_environment();
              }).find(std::string("SURGE_SIMULATION_ID='") + id + "' is not a simulation id"),
              std::string::npos)
        << id;
  }
  for (const char* timeout : {"abc", "0", "-1", "2s"}) {
    apply(sample());
    setenv(st::kServerTimeoutVariable, timeout, 1);
    EXPECT_NE(error_of([] {
                (void)st::read_member_environment();
              }).find(std::string("SURGE_SERVER_TIMEOUT_S='") + timeout + "'"),
              std::string::npos)
        << timeout;
  }
  for (const char* names : {"amp,,tb", "amp,tb,amp", "amp,", ",amp"}) {
    apply(sample());
    setenv(st::kParameterNamesVariable, names, 1);
    EXPECT_EQ(error_of([] { (void)st::read_member_environment(); }),
              std::string("SURGE_PARAMETER_NAMES='") + names +
                  "' is not a list of distinct names (a,b,c)")
        << names;
  }
}

TEST(MemberEnvironment, TheCApiReportsTheVariable) {
  apply(sample());
  unsetenv(st::kExperimentVariable);
  const char* names[] = {"u"};
  const uint64_t shape[] = {4, 4};
  surge_client* client = reinterpret_cast<surge_client*>(1);
  EXPECT_EQ(
      surge_client_init_from_env(&client, 0, 1, SURGE_FLOAT64, 1, names, 2, shape, 0, nullptr),
      SURGE_ERROR_ARGUMENT);
  EXPECT_EQ(client, nullptr);
  EXPECT_EQ(std::string(surge_client_last_error()).rfind("SURGE_EXPERIMENT is not set", 0), 0u)
      << surge_client_last_error();
  // Bad arguments are caught before the environment is read.
  EXPECT_EQ(surge_client_init_from_env(&client, 0, 1, 7, 1, names, 2, shape, 0, nullptr),
            SURGE_ERROR_ARGUMENT);
  EXPECT_NE(std::string(surge_client_last_error()).find("dtype"), std::string::npos);
  // Named parameters: a NULL name is the caller's error, named before the environment is read.
  const int ndims[] = {2};
  const double values[] = {1.0, 2.0};
  const char* bad_names[] = {"amp", nullptr};
  EXPECT_EQ(surge_client_init_named_from_env(&client, 0, 1, SURGE_FLOAT64, 1, names, ndims, shape,
                                             2, bad_names, values),
            SURGE_ERROR_ARGUMENT);
  EXPECT_EQ(std::string(surge_client_last_error()),
            "surge_client_init_named_from_env: parameter name 1 is NULL");
  const char* good_names[] = {"amp", "tb"};
  EXPECT_EQ(surge_client_init_named_from_env(&client, 0, 1, SURGE_FLOAT64, 1, names, ndims, shape,
                                             2, good_names, values),
            SURGE_ERROR_ARGUMENT);
  EXPECT_EQ(std::string(surge_client_last_error()).rfind("SURGE_EXPERIMENT is not set", 0), 0u)
      << surge_client_last_error();
}

TEST(MemberEnvironment, NoServerMeansAProtocolErrorWithinTheTimeout) {
  st::MemberEnvironment env = sample();
  env.endpoint = "tcp://127.0.0.1:1";  // nothing listens there
  env.server_timeout_s = 0.2;
  env.server_public_key_file.clear();
  apply(env);
  const char* names[] = {"u"};
  const uint64_t shape[] = {4, 4};
  surge_client* client = nullptr;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(
      surge_client_init_from_env(&client, 0, 1, SURGE_FLOAT64, 1, names, 2, shape, 0, nullptr),
      SURGE_ERROR_PROTOCOL);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  EXPECT_NE(std::string(surge_client_last_error()).find("no answer"), std::string::npos);
}
