// Front, receivers and clients over loopback TCP: concurrent multi-rank members, handshake
// refusals, heartbeats and liveness, duplicate suppression across a relaunch, CURVE, bad
// frames on the wire, a slow consumer, several server ranks, the C API, and a server bound to
// every interface.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "surge/streaming/client.hpp"
#include "surge/streaming/curve.hpp"
#include "surge/streaming/front.hpp"
#include "surge/streaming/member_environment.hpp"
#include "surge/streaming/receiver.hpp"
#include "test_util.hpp"

using namespace surge::streaming;
namespace fs = std::filesystem;

namespace {
using Key = std::tuple<std::uint64_t, std::uint32_t, std::int64_t>;

using test::eventually;

// Collects deliveries from a handler, and lets a test wait for a number of them.
struct Collector {
  std::mutex mutex;
  std::condition_variable cv;
  std::map<Key, Field> fields;
  std::uint64_t duplicates = 0, ends = 0;
  Receiver::Handler handler() {
    return [this](Delivery&& d) {
      std::lock_guard<std::mutex> lock(mutex);
      if (d.kind == DeliveryKind::simulation_end) {
        ++ends;
      } else {
        const Field& f = d.field;
        if (!fields.emplace(Key{f.simulation, f.field_id, f.step}, std::move(d.field)).second) {
          ++duplicates;
        }
      }
      cv.notify_all();
    };
  }
  bool wait_for_ends(std::uint64_t n) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, std::chrono::seconds(60), [&] { return ends >= n; });
  }
};

ReceiverConfig server_config() {
  ReceiverConfig c;
  c.experiment = "loopback";
  return c;
}

MemberIdentity identity(std::uint64_t sim, std::uint32_t rank, std::uint32_t size, std::uint64_t ny,
                        std::uint64_t nx) {
  MemberIdentity id;
  id.experiment = "loopback";
  id.simulation = sim;
  id.member_rank = rank;
  id.member_size = size;
  id.fields = {{"u", {ny, nx}}, {"v", {ny, nx}}};
  id.parameters = {static_cast<double>(sim), 0.5};
  return id;
}

ClientConfig client_config(const std::string& front) {
  ClientConfig c;
  c.front_endpoint = front;
  c.heartbeat_interval_ms = 0;
  return c;
}

// One member rank streaming rows [rank*ny/size, ...) of both fields for `steps` steps.
void run_rank(const std::string& front, std::uint64_t sim, std::uint32_t rank, std::uint32_t size,
              std::int64_t first, std::int64_t steps, std::uint64_t ny, std::uint64_t nx,
              bool owned) {
  Client client(client_config(front), identity(sim, rank, size, ny, nx));
  const std::uint64_t rows = ny / size, row0 = rank * rows;
  for (std::int64_t step = first; step < first + steps; ++step) {
    for (std::uint32_t f = 0; f < 2; ++f) {
      std::vector<double> block = test::row_block(sim, step, f, row0, rows, nx);
      const Block b{{row0, 0}, {rows, nx}};
      const char* name = f == 0 ? "u" : "v";
      if (owned) {
        client.send_owned(name, step, 0.5 * step, std::move(block), b);
      } else {
        client.send(name, step, 0.5 * step, Span<const double>(block), b);
      }
    }
  }
  client.finish();
}
}  // namespace

TEST(StreamingLoopback, FourTwoRankMembersDeliverEveryFieldBitForBitExactlyOnce) {
  constexpr int kMembers = 4, kRanks = 2, kSteps = 300;
  constexpr std::uint64_t kNy = 16, kNx = 40;  // 5 KiB fields, 2.5 KiB blocks
  Collector got;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(server_config(), key, 0, got.handler());
  Front front(server_config(), key, {receiver.endpoint()});
  std::vector<std::thread> ranks;
  for (int m = 0; m < kMembers; ++m) {
    for (int r = 0; r < kRanks; ++r) {
      // Members 0 and 2 use zero-copy sends (the client config's threshold is 64 KiB, so
      // these small blocks take the copy path inside send_owned as well).
      ranks.emplace_back(run_rank, front.endpoint(), 100 + m, r, kRanks, 0, kSteps, kNy, kNx,
                         m % 2 == 0);
    }
  }
  for (auto& t : ranks) t.join();
  ASSERT_TRUE(got.wait_for_ends(kMembers));
  receiver.stop();
  std::lock_guard<std::mutex> lock(got.mutex);
  ASSERT_EQ(got.fields.size(), static_cast<std::size_t>(kMembers * kSteps * 2));
  EXPECT_EQ(got.duplicates, 0u);
  for (const auto& [k, f] : got.fields) {
    const auto& [sim, field, step] = k;
    ASSERT_TRUE(test::bit_equal(f.data, test::global_field(sim, step, field, kNy, kNx)))
        << "sim " << sim << " field " << field << " step " << step;
    EXPECT_EQ(f.time, 0.5 * step);
    EXPECT_EQ(f.parameters, (std::vector<double>{static_cast<double>(sim), 0.5}));
  }
  const IngestStats s = receiver.stats();
  EXPECT_EQ(s.blocks, static_cast<std::uint64_t>(kMembers * kRanks * kSteps * 2));
  EXPECT_EQ(s.fields, static_cast<std::uint64_t>(kMembers * kSteps * 2));
  EXPECT_EQ(s.declarations, static_cast<std::uint64_t>(kMembers * kRanks));
  EXPECT_EQ(s.ends, static_cast<std::uint64_t>(kMembers * kRanks));
  EXPECT_EQ(s.simulations_ended, static_cast<std::uint64_t>(kMembers));
  EXPECT_EQ(s.rejected_total(), 0u);
  EXPECT_EQ(s.incomplete_fields, 0u);
  EXPECT_EQ(s.messages, s.accepted);
  EXPECT_EQ(front.stats().accepted, static_cast<std::uint64_t>(kMembers * kRanks));
}

TEST(StreamingLoopback, ZeroCopySendsOfLargeFields) {
  Collector got;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(server_config(), key, 0, got.handler());
  Front front(server_config(), key, {receiver.endpoint()});
  run_rank(front.endpoint(), 7, 0, 1, 0, 20, 256, 64, true);  // 128 KiB, above the threshold
  ASSERT_TRUE(got.wait_for_ends(1));
  std::lock_guard<std::mutex> lock(got.mutex);
  ASSERT_EQ(got.fields.size(), 40u);
  for (const auto& [k, f] : got.fields) {
    const auto& [sim, field, step] = k;
    EXPECT_TRUE(test::bit_equal(f.data, test::global_field(sim, step, field, 256, 64)));
  }
}

TEST(StreamingLoopback, HandshakeRefusalsNameTheirReason) {
  ReceiverConfig config = server_config();
  config.fields = {"u", "v"};
  config.max_field_bytes = 1 << 20;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(config, key);
  Front front(config, key, {receiver.endpoint()});
  auto refusal = [&](MemberIdentity id) {
    try {
      Client c(client_config(front.endpoint()), std::move(id));
    } catch (const HandshakeRefused& e) {
      return e.reason();
    }
    ADD_FAILURE() << "not refused";
    return RefusalReason::malformed;
  };
  MemberIdentity id = identity(1, 0, 1, 4, 4);
  id.experiment = "other";
  EXPECT_EQ(refusal(id), RefusalReason::wrong_experiment);
  id = identity(1, 0, 1, 4, 4);
  id.fields.push_back({"w", {4, 4}});
  EXPECT_EQ(refusal(id), RefusalReason::unknown_field);
  id = identity(1, 0, 1, 1024, 1024);  // 8 MiB > 1 MiB
  EXPECT_EQ(refusal(id), RefusalReason::too_large);

  // Raw HELLOs: another protocol version, and garbage.
  zmq::context_t ctx;
  auto ask = [&](std::vector<std::byte> hello) {
    zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    dealer.connect(front.endpoint());
    dealer.send(zmq::buffer(hello));
    zmq::message_t answer;
    EXPECT_TRUE(dealer.recv(answer));
    ByteReader r(Bytes(static_cast<const std::byte*>(answer.data()) + kHeaderBytes,
                       answer.size() - kHeaderBytes));
    EXPECT_EQ(static_cast<MessageKind>(static_cast<const std::uint8_t*>(answer.data())[6]),
              MessageKind::refuse);
    return static_cast<RefusalReason>(r.u32());
  };
  Announcement a;
  a.experiment = "loopback";
  a.fields = {{"u", {4, 4}}};
  const auto ann = encode_announcement(a);
  Header h;
  h.kind = MessageKind::hello;
  std::vector<std::byte> hello =
      encode_message(h, {}, Bytes(ann.data(), ann.size()), kChecksumSeed);
  hello[4] = std::byte{9};  // version 9
  EXPECT_EQ(ask(hello), RefusalReason::wrong_version);
  hello[4] = std::byte{2};  // version 2: its DATA would carry the public checksum seed
  EXPECT_EQ(ask(hello), RefusalReason::wrong_version);
  EXPECT_EQ(ask(std::vector<std::byte>(200, std::byte{0x53})), RefusalReason::malformed);

  const FrontStats s = front.stats();
  EXPECT_EQ(s.accepted, 0u);
  EXPECT_EQ(s.refused_of(RefusalReason::wrong_experiment), 1u);
  EXPECT_EQ(s.refused_of(RefusalReason::unknown_field), 1u);
  EXPECT_EQ(s.refused_of(RefusalReason::too_large), 1u);
  EXPECT_EQ(s.refused_of(RefusalReason::wrong_version), 2u);
  EXPECT_EQ(s.refused_of(RefusalReason::malformed), 1u);
}

// Issue 14: with tickets on, the front admits only the simulations registered with expect()
// and their ticket, and only announcements that match the study's members; every refusal is
// counted by reason.
TEST(StreamingLoopback, TicketsAndExpectationsAdmitOnlyLaunchedMembers) {
  ReceiverConfig config = server_config();
  config.require_tickets = true;
  MemberExpectations e;
  e.fields = {{"u", {4, 4}}, {"v", {4, 4}}};
  e.dtype = DType::float64;
  e.parameter_count = 2;
  e.member_size = 1;
  config.expected = e;
  const std::uint64_t key = make_admission_key();
  Collector got;
  Receiver receiver(config, key, 0, got.handler());
  Front front(config, key, {receiver.endpoint()});
  const std::string ticket = make_member_ticket();
  EXPECT_EQ(ticket.size(), 32u);
  EXPECT_NE(ticket, make_member_ticket());
  front.expect(3, ticket);
  auto refusal = [&](MemberIdentity id, const std::string& with_ticket) -> std::string {
    ClientConfig c = client_config(front.endpoint());
    c.member_ticket = with_ticket;
    try {
      Client client(c, std::move(id));
    } catch (const HandshakeRefused& err) {
      return std::string(key_of(err.reason())) + ": " + err.message();
    }
    return "admitted";
  };
  EXPECT_EQ(refusal(identity(4, 0, 1, 4, 4), ticket).rfind("unknown_simulation: ", 0), 0u);
  // Without a ticket nothing else is checked: no word of what the study expects.
  EXPECT_EQ(refusal(identity(4, 0, 1, 4, 5), ""),
            "unknown_simulation: streaming server refused "
            "simulation 4 rank 0: unknown simulation: "
            "simulation 4 was not started by this study "
            "(or no longer runs)");
  EXPECT_EQ(refusal(identity(3, 0, 1, 4, 4), "").rfind("bad_ticket: ", 0), 0u);
  EXPECT_EQ(refusal(identity(3, 0, 1, 4, 4), ticket + "0").rfind("bad_ticket: ", 0), 0u);
  const std::string shape = refusal(identity(3, 0, 1, 4, 5), ticket);
  EXPECT_NE(shape.find("wrong_announcement: "), std::string::npos) << shape;
  EXPECT_NE(shape.find("field 'u' of shape [4, 5], the study expects [4, 4]"), std::string::npos)
      << shape;
  EXPECT_NE(refusal(identity(3, 0, 2, 4, 4), ticket).find("member of 2 rank(s)"),
            std::string::npos);
  MemberIdentity f32 = identity(3, 0, 1, 4, 4);
  f32.dtype = DType::float32;
  EXPECT_NE(
      refusal(f32, ticket).find("fields 'u', 'v' in dtype float32, the study expects float64"),
      std::string::npos)
      << refusal(f32, ticket);
  MemberIdentity three = identity(3, 0, 1, 4, 4);
  three.parameters.push_back(1.0);
  EXPECT_NE(refusal(three, ticket).find("3 parameter(s)"), std::string::npos);
  MemberIdentity one_field = identity(3, 0, 1, 4, 4);
  one_field.fields.pop_back();
  EXPECT_NE(refusal(one_field, ticket).find("field 'v' is not announced"), std::string::npos);
  EXPECT_EQ(refusal(identity(3, 0, 1, 4, 4), ticket), "admitted");
  front.revoke(3);
  EXPECT_EQ(refusal(identity(3, 0, 1, 4, 4), ticket).rfind("unknown_simulation: ", 0), 0u);
  const FrontStats s = front.stats();
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.refused_of(RefusalReason::unknown_simulation), 3u);
  EXPECT_EQ(s.refused_of(RefusalReason::bad_ticket), 2u);
  EXPECT_EQ(s.refused_of(RefusalReason::wrong_announcement), 5u);
}

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

TEST(StreamingLoopback, NoServerMeansATimeoutNotAHang) {
  ClientConfig c = client_config("tcp://127.0.0.1:1");  // nothing listens on port 1
  c.handshake_timeout_ms = 200;
  EXPECT_THROW(Client(c, identity(1, 0, 1, 4, 4)), surge::core::ProtocolError);
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

TEST(StreamingLoopback, RelaunchedMemberRepeatingStepsIsSuppressed) {
  Collector got;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(server_config(), key, 0, got.handler());
  Front front(server_config(), key, {receiver.endpoint()});
  {
    // First launch sends steps 0..9 (its destructor sends END).
    Client first(client_config(front.endpoint()), identity(8, 0, 1, 4, 4));
    for (int step = 0; step < 10; ++step) {
      auto v = test::global_field(8, step, 0, 4, 4);
      first.send("u", step, 0.5 * step, Span<const double>(v));
    }
    ASSERT_TRUE(eventually([&] { return receiver.stats().fields == 10; }));
  }
  run_rank(front.endpoint(), 8, 0, 1, 5, 10, 4, 4, false);  // relaunch: steps 5..14
  ASSERT_TRUE(eventually([&] { return receiver.stats().ends == 2; }));
  std::lock_guard<std::mutex> lock(got.mutex);
  // Field u: steps 0..14 once each; field v: steps 5..14.
  EXPECT_EQ(got.fields.size(), 15u + 10u);
  EXPECT_EQ(got.duplicates, 0u);
  EXPECT_EQ(receiver.stats().rejected_of(Rejection::duplicate), 5u);
  EXPECT_EQ(receiver.stats().declarations, 2u);
  EXPECT_EQ(front.assigned_rank(8), 0);
}

TEST(StreamingLoopback, BadFramesOnTheWireAreCountedByKindAndHarmless) {
  Collector got;
  const std::uint64_t key = make_admission_key();
  ReceiverConfig config = server_config();
  config.max_message_bytes = 64 << 10;
  Receiver receiver(config, key, 0, got.handler());
  Front front(config, key, {receiver.endpoint()});
  const std::vector<double> params = {8.0, 0.5};
  const Announcement member{"loopback", 8, 0, 1, DType::float64, 2, {{"u", {4, 4}}, {"v", {4, 4}}}};
  const std::uint64_t seed = test::seed_of(key, 0, member);
  auto good = test::data_message(8, 0, 0, 0, 0, 4, 4, params, seed);
  std::vector<std::vector<std::byte>> bad;
  bad.push_back({std::byte{1}, std::byte{2}});  // truncated
  auto m = good;
  m[1] = std::byte{'X'};
  bad.push_back(m);  // wrong magic
  m = good;
  m[4] = std::byte{7};
  bad.push_back(m);                                                     // wrong version
  bad.push_back(std::vector<std::byte>(good.begin(), good.end() - 3));  // truncated
  m = test::declaration(key, 0, member);
  m[kHeaderBytes + 20] ^= std::byte{4};
  bad.push_back(m);                                                      // bad checksum
  bad.push_back(test::data_message(8, 0, 0, 0, 0, 4, 4, params, seed));  // unknown simulation
  bad.push_back(test::declaration(key, 0, member));                      // (a valid declaration)
  bad.push_back(test::data_message(8, 0, 0, 0, 2, 4, 4, params, seed));  // outside shape
  // Issue 14 part B: a stranger's well-formed DATA (the public seed) for the running
  // simulation, and the member's DATA corrupted on the way: neither has the rank's key.
  bad.push_back(test::data_message(8, 0, 0, 1, 0, 4, 4, params, kChecksumSeed));
  m = good;
  m[kHeaderBytes + 20] ^= std::byte{4};
  bad.push_back(m);
  bad.push_back(good);  // accepted
  bad.push_back(good);  // duplicate
  m = good;
  m.resize(70 << 10);
  bad.push_back(m);  // oversized
  zmq::context_t ctx;
  zmq::socket_t push(ctx, zmq::socket_type::push);
  push.connect(receiver.endpoint());
  for (const auto& b : bad) push.send(zmq::buffer(b));
  push.send(zmq::buffer(good), zmq::send_flags::sndmore);  // three frames: malformed
  push.send(zmq::str_buffer("x"), zmq::send_flags::sndmore);
  push.send(zmq::str_buffer("y"));
  ASSERT_TRUE(eventually([&] { return receiver.stats().messages == bad.size() + 1; }));
  const IngestStats s = receiver.stats();
  EXPECT_EQ(s.rejected_of(Rejection::truncated), 2u);
  EXPECT_EQ(s.rejected_of(Rejection::wrong_magic), 1u);
  EXPECT_EQ(s.rejected_of(Rejection::wrong_version), 1u);
  EXPECT_EQ(s.rejected_of(Rejection::bad_checksum), 1u);
  EXPECT_EQ(s.rejected_of(Rejection::unknown_simulation), 1u);
  EXPECT_EQ(s.rejected_of(Rejection::outside_shape), 1u);
  EXPECT_EQ(s.rejected_of(Rejection::duplicate), 1u);
  EXPECT_EQ(s.rejected_of(Rejection::oversized), 1u);
  EXPECT_EQ(s.rejected_of(Rejection::malformed), 1u);
  EXPECT_EQ(s.rejected_of(Rejection::unauthenticated), 2u);
  EXPECT_EQ(s.accepted, 2u);
  std::lock_guard<std::mutex> lock(got.mutex);
  ASSERT_EQ(got.fields.size(), 1u);
  EXPECT_TRUE(test::bit_equal(got.fields.begin()->second.data, test::global_field(8, 0, 0, 4, 4)));
}

TEST(StreamingLoopback, SlowConsumerLosesNothing) {
  ReceiverConfig config = server_config();
  config.hwm = 2;
  config.queue_capacity = 2;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(config, key);  // queue mode
  Front front(config, key, {receiver.endpoint()});
  constexpr int kSteps = 150;
  std::thread sender([&] {
    ClientConfig c = client_config(front.endpoint());
    c.hwm = 2;
    Client client(c, identity(11, 0, 1, 64, 128));  // 64 KiB per field
    for (int step = 0; step < kSteps; ++step) {
      auto v = test::global_field(11, step, 0, 64, 128);
      client.send("u", step, 0.0, Span<const double>(v));
    }
    client.finish();
  });
  std::set<std::int64_t> steps;
  std::size_t max_queued = 0;
  bool ended = false;
  while (!ended) {
    std::optional<Delivery> d = receiver.pop(std::chrono::seconds(30));
    ASSERT_TRUE(d) << "timed out after " << steps.size() << " fields";
    max_queued = std::max(max_queued, receiver.queued());
    if (d->kind == DeliveryKind::simulation_end) {
      ended = true;
      continue;
    }
    EXPECT_TRUE(steps.insert(d->field.step).second) << "step " << d->field.step << " twice";
    EXPECT_TRUE(test::bit_equal(d->field.data, test::global_field(11, d->field.step, 0, 64, 128)));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the slow consumer
  }
  sender.join();
  EXPECT_EQ(steps.size(), static_cast<std::size_t>(kSteps));
  EXPECT_LE(max_queued, 2u);
  EXPECT_EQ(receiver.stats().rejected_total(), 0u);
}

TEST(StreamingLoopback, ServerRanksGetWholeSimulationsRoundRobin) {
  constexpr int kServerRanks = 3, kMembers = 6;
  const std::uint64_t key = make_admission_key();
  std::vector<std::unique_ptr<Collector>> got;
  std::vector<std::unique_ptr<Receiver>> receivers;
  std::vector<std::string> endpoints;
  for (int r = 0; r < kServerRanks; ++r) {
    got.push_back(std::make_unique<Collector>());
    receivers.push_back(std::make_unique<Receiver>(server_config(), key, r, got.back()->handler()));
    endpoints.push_back(receivers.back()->endpoint());
  }
  Front front(server_config(), key, endpoints);
  std::vector<std::thread> ranks;
  for (int m = 0; m < kMembers; ++m) {
    for (std::uint32_t r = 0; r < 2; ++r) {
      ranks.emplace_back(run_rank, front.endpoint(), 50 + m, r, 2u, 0, 20, 8, 8, false);
    }
  }
  for (auto& t : ranks) t.join();
  std::vector<int> per_rank(kServerRanks, 0);
  for (int m = 0; m < kMembers; ++m) {
    const int r = front.assigned_rank(50 + m);
    ASSERT_GE(r, 0);
    ++per_rank[r];
  }
  for (int r = 0; r < kServerRanks; ++r) {
    EXPECT_EQ(per_rank[r], kMembers / kServerRanks);  // round-robin
    ASSERT_TRUE(got[r]->wait_for_ends(per_rank[r]));
    std::lock_guard<std::mutex> lock(got[r]->mutex);
    EXPECT_EQ(got[r]->fields.size(), static_cast<std::size_t>(per_rank[r] * 20 * 2));
    for (const auto& [k, f] : got[r]->fields) {
      EXPECT_EQ(front.assigned_rank(std::get<0>(k)), r);  // whole simulations per rank
    }
    EXPECT_EQ(receivers[r]->stats().rejected_total(), 0u);
  }
}

TEST(StreamingLoopback, CurveRefusesClientsWithoutTheServerKey) {
  if (!curve_available()) GTEST_SKIP() << "libzmq without CURVE";
  const fs::path dir = fs::temp_directory_path() / ("surge-curve-" + std::to_string(getpid()));
  fs::create_directories(dir);
  write_curve_keypair((dir / "server.pub").string(), (dir / "server.key").string());
  write_curve_keypair((dir / "other.pub").string(), (dir / "other.key").string());
  ReceiverConfig config = server_config();
  config.curve.server_public_key_file = (dir / "server.pub").string();
  config.curve.server_secret_key_file = (dir / "server.key").string();
  Collector got;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(config, key, 0, got.handler());
  Front front(config, key, {receiver.endpoint()});

  ClientConfig good = client_config(front.endpoint());
  good.curve.server_public_key_file = (dir / "server.pub").string();
  {
    Client c(good, identity(21, 0, 1, 4, 4));
    auto v = test::global_field(21, 0, 0, 4, 4);
    c.send("u", 0, 0.0, Span<const double>(v));
  }
  ASSERT_TRUE(got.wait_for_ends(1));

  ClientConfig wrong = good;
  wrong.curve.server_public_key_file = (dir / "other.pub").string();
  wrong.handshake_timeout_ms = 300;
  EXPECT_THROW(Client(wrong, identity(22, 0, 1, 4, 4)), surge::core::ProtocolError);
  ClientConfig plain = client_config(front.endpoint());
  plain.handshake_timeout_ms = 300;
  EXPECT_THROW(Client(plain, identity(23, 0, 1, 4, 4)), surge::core::ProtocolError);
  ASSERT_TRUE(eventually([&] { return front.stats().handshake_failures >= 2; }));
  EXPECT_EQ(front.stats().accepted, 1u);
  // A raw client without CURVE on the data socket is refused there too.
  zmq::context_t ctx;
  zmq::socket_t push(ctx, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 0);
  push.connect(receiver.endpoint());
  (void)push.send(zmq::str_buffer("hello"), zmq::send_flags::dontwait);
  ASSERT_TRUE(eventually([&] { return receiver.handshake_failures() >= 1; }));
  EXPECT_EQ(receiver.stats().messages, receiver.stats().accepted);  // nothing reached it
  fs::remove_all(dir);
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
