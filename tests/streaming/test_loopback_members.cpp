// Front, receivers and clients over loopback TCP, the members' side: a server bound to every
// interface, heartbeats and liveness, a plain C program through the C API, and a member that
// joins from the environment surge run gives it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "loopback_support.hpp"
#include "surge/streaming/member_environment.hpp"

using namespace surge::streaming;
using namespace surge::streaming::test;

// A server bound to every interface (members on other nodes) is advertised by this host's
// name, to members by the front and to the front by the receivers; a member streams through it.
TEST(StreamingLoopback, EveryInterfaceIsAdvertisedByTheHostName) {
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(connectable_endpoint("tcp://0.0.0.0:5555"), "tcp://" + std::string(host) + ":5555");
  EXPECT_EQ(connectable_endpoint("tcp://10.1.2.3:5555"), "tcp://10.1.2.3:5555");
  ReceiverConfig config = server_config();
  config.front_endpoint = config.data_endpoint = "tcp://*:*";
  Collector got;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(config, key, 0, got.handler());
  Front front(config, key, {receiver.endpoint()});
  const std::string prefix = "tcp://" + std::string(host) + ":";
  EXPECT_EQ(front.endpoint().rfind(prefix, 0), 0u) << front.endpoint();
  EXPECT_EQ(receiver.endpoint().rfind(prefix, 0), 0u) << receiver.endpoint();
  std::thread rank(run_rank, front.endpoint(), 7, 0, 1, 0, 3, 4, 4, false);
  rank.join();
  ASSERT_TRUE(got.wait_for_ends(1));
  receiver.stop();
  std::lock_guard<std::mutex> lock(got.mutex);
  EXPECT_EQ(got.fields.size(), 6u);  // 3 steps of 2 fields
}

TEST(StreamingLoopback, HeartbeatsKeepASilentMemberVisible) {
  const std::uint64_t key = make_admission_key();
  Receiver receiver(server_config(), key);
  Front front(server_config(), key, {receiver.endpoint()});
  ClientConfig c = client_config(front.endpoint());
  c.heartbeat_interval_ms = 10;
  Client client(c, identity(3, 0, 1, 4, 4));
  ASSERT_TRUE(eventually([&] { return receiver.stats().heartbeats >= 3; }));
  const auto members = receiver.members();
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].simulation, 3u);
  EXPECT_FALSE(members[0].ended);
  // Heartbeats keep last_seen fresh although no data was sent.
  const auto before = members[0].last_seen;
  ASSERT_TRUE(eventually([&] { return receiver.members()[0].last_seen > before; }));
  EXPECT_TRUE(receiver.silent_members(std::chrono::minutes(1)).empty());
  client.finish();
  ASSERT_TRUE(eventually([&] { return receiver.members()[0].ended; }));
  EXPECT_TRUE(receiver.silent_members(Clock::duration::zero()).empty());  // ended: not silent
  EXPECT_GE(client.heartbeats_sent(), 3u);
  EXPECT_EQ(receiver.stats().rejected_total(), 0u);

  // Without heartbeats a member that stops talking shows up as silent.
  Client quiet(client_config(front.endpoint()), identity(4, 0, 1, 4, 4));
  ASSERT_TRUE(eventually([&] { return receiver.members().size() == 2; }));
  const auto silent = receiver.silent_members(Clock::duration::zero());
  ASSERT_EQ(silent.size(), 1u);
  EXPECT_EQ(silent[0].simulation, 4u);
}

TEST(StreamingLoopback, PlainCProgramStreamsThroughTheCApi) {
  ReceiverConfig config = server_config();
  config.experiment = "c-test";
  Collector got;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(config, key, 0, got.handler());
  Front front(config, key, {receiver.endpoint()});
  const std::string cmd = std::string(SURGE_C_CLIENT) + " " + front.endpoint() + " 31 25";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  ASSERT_TRUE(got.wait_for_ends(1));
  std::lock_guard<std::mutex> lock(got.mutex);
  ASSERT_EQ(got.fields.size(), 25u);
  for (const auto& [k, f] : got.fields) {
    const auto v = f.data.view<double>();
    ASSERT_EQ(v.size(), 24u);
    for (std::size_t i = 0; i < 24; ++i) EXPECT_EQ(v[i], 1000.0 * std::get<2>(k) + i);
    EXPECT_EQ(f.parameters, (std::vector<double>{0.5, 2.0}));
  }
}

TEST(StreamingLoopback, AMemberStartedBySurgeRunJoinsFromItsEnvironment) {
  ReceiverConfig config = server_config();
  Collector got;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(config, key, 0, got.handler());
  Front front(config, key, {receiver.endpoint()});
  MemberEnvironment env;
  env.endpoint = front.endpoint();
  env.experiment = "loopback";
  env.simulation = 77;
  env.server_timeout_s = 30;
  for (const auto& entry : to_environment(env)) {
    const auto eq = entry.find('=');
    setenv(entry.substr(0, eq).c_str(), entry.substr(eq + 1).c_str(), 1);
  }
  unsetenv(kPublicKeyFileVariable);
  // The identity's experiment and simulation are the environment's, whatever it says.
  MemberIdentity id = identity(1, 0, 1, 4, 6);
  id.experiment = "not-this-one";
  const std::unique_ptr<Client> client = client_from_environment(id);
  const std::vector<double> u = test::global_field(77, 0, 0, 4, 6);
  client->send("u", 0, 0.0, Span<const double>(u));
  client->send("v", 0, 0.0, Span<const double>(u));
  client->finish();
  ASSERT_TRUE(got.wait_for_ends(1));
  std::lock_guard<std::mutex> lock(got.mutex);
  ASSERT_EQ(got.fields.size(), 2u);
  for (const auto& [k, f] : got.fields) {
    EXPECT_EQ(f.simulation, 77u);
    const auto v = f.data.view<double>();
    EXPECT_EQ(std::vector<double>(v.begin(), v.end()), u);
  }
}
