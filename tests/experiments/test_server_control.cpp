// The server ranks' control channel (experiments/src/online/server_control.hpp) with two ranks in
// one process: what the ranks tell each other arrives; a stranger without CURVE or with its own
// pair is refused and counted; a message that does not parse, even from a peer holding the
// ranks' key, is dropped without effect and counted.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <zmq.hpp>

#include "online/server_control.hpp"
#include "surge/streaming/curve.hpp"
#include "test_util.hpp"

using namespace surge::experiments;
using surge::streaming::CurveKeyPair;
using surge::streaming::make_curve_keypair;

namespace {

using surge::streaming::test::eventually;

// A PUSH socket that tries once (no reconnection), with `pair` as its CURVE pair if given.
zmq::socket_t pusher(zmq::context_t& ctx, const std::string& endpoint,
                     const std::string& server_key = {}, const CurveKeyPair* pair = nullptr) {
  zmq::socket_t s(ctx, zmq::socket_type::push);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::reconnect_ivl, -1);
  if (pair) {
    s.set(zmq::sockopt::curve_serverkey, server_key);
    s.set(zmq::sockopt::curve_publickey, pair->public_key);
    s.set(zmq::sockopt::curve_secretkey, pair->secret_key);
  }
  s.connect(endpoint);
  return s;
}

}  // namespace

TEST(ServerControl, OnlyTheRanksAreObeyedAndEverythingElseIsCounted) {
  if (!surge::streaming::curve_available()) GTEST_SKIP() << "libzmq without CURVE";
  const ControlKeys keys{make_curve_keypair(), make_curve_keypair()};
  ServerControl rank0(0, 2, "tcp://127.0.0.1:*", keys), rank1(1, 2, "tcp://127.0.0.1:*", keys);
  const std::vector<std::string> endpoints = {rank0.endpoint(), rank1.endpoint()};
  std::atomic<bool> publish{false}, never{false};
  ServerControl::Hooks hooks0, hooks1;
  hooks0.final_lists = [&]() -> std::optional<std::vector<std::vector<std::uint64_t>>> {
    if (!publish) return std::nullopt;
    return std::vector<std::vector<std::uint64_t>>{{1}, {2, 3}};
  };
  hooks1.deliveries = [] { return std::map<std::uint64_t, std::int64_t>{{2, 11}}; };
  std::mutex forgotten_mutex;
  std::vector<std::uint64_t> forgotten;  // what rank 1 was told to free, in order
  hooks1.forget = [&](std::uint64_t id) {
    std::lock_guard<std::mutex> lock(forgotten_mutex);
    forgotten.push_back(id);
  };
  auto forgotten_now = [&] {
    std::lock_guard<std::mutex> lock(forgotten_mutex);
    return forgotten;
  };
  rank0.start(endpoints, std::move(hooks0));
  rank1.start(endpoints, std::move(hooks1));

  // A redraw: the failed simulation is forgotten, then its successor's role arrives.
  rank0.announce_forget(6);
  rank0.announce_role(7, MemberRole::validation);
  EXPECT_EQ(rank1.role_of(7, never), MemberRole::validation);
  EXPECT_EQ(forgotten_now(), std::vector<std::uint64_t>{6});
  ASSERT_TRUE(eventually([&] { return rank0.remote_delivered(2) == 11; }));

  // Strangers: no CURVE; its own pair with the right server key (refused by the ZAP handler).
  zmq::context_t ctx;
  const CurveKeyPair own = make_curve_keypair();
  zmq::socket_t plain = pusher(ctx, rank1.endpoint());
  zmq::socket_t stranger = pusher(ctx, rank1.endpoint(), keys.server.public_key, &own);
  for (auto* s : {&plain, &stranger}) {
    (void)s->send(zmq::str_buffer("final"), zmq::send_flags::dontwait);
    (void)s->send(zmq::str_buffer("role 7 1"), zmq::send_flags::dontwait);
  }
  ASSERT_TRUE(eventually([&] { return rank1.refusals().handshake_failures >= 2; }));
  EXPECT_EQ(rank1.refusals().curve_refused, 1u);

  // A peer with the ranks' key that sends what does not parse, or what this rank does not
  // take (liveness goes to rank 0): dropped, counted, nothing changed.
  zmq::socket_t peer = pusher(ctx, rank1.endpoint(), keys.server.public_key, &keys.client);
  for (const char* text : {"final 1 x", "role 7 2", "role 7 1 9", "role -7 1", "live 1 0", "bogus",
                           "role 7 0.5", "forget", "forget 5 6", "forget -5"}) {
    (void)peer.send(zmq::buffer(std::string(text)), zmq::send_flags::none);
  }
  (void)peer.send(zmq::str_buffer("role 8 1"), zmq::send_flags::none);  // after them, in order
  EXPECT_EQ(rank1.role_of(8, never), MemberRole::train);
  EXPECT_EQ(rank1.refusals().malformed, 10u);
  EXPECT_EQ(forgotten_now(), std::vector<std::uint64_t>{6});
  EXPECT_EQ(rank1.role_of(7, never), MemberRole::validation);
  EXPECT_FALSE(rank1.expected_ends().has_value());

  publish = true;
  ASSERT_TRUE(eventually([&] { return rank1.expected_ends().has_value(); }));
  EXPECT_EQ(*rank1.expected_ends(), (std::set<std::uint64_t>{2, 3}));
  EXPECT_EQ(*rank0.expected_ends(), (std::set<std::uint64_t>{1}));
  EXPECT_EQ(rank0.refusals().total(), 0u);
  EXPECT_EQ(rank1.refusals().total(), 2u + 10u);
  rank0.stop();
  rank1.stop();
  EXPECT_EQ(rank0.error(), "");
  EXPECT_EQ(rank1.error(), "");
}
