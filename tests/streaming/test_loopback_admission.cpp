// Front, receivers and clients over loopback TCP, who gets in: handshake refusals, tickets and
// the study's expectations, no server at all, CURVE, and bad frames on the wire.
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <zmq.hpp>

#include "loopback_support.hpp"
#include "surge/streaming/curve.hpp"
#include "surge/streaming/member_environment.hpp"

using namespace surge::streaming;
using namespace surge::streaming::test;
namespace fs = std::filesystem;

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
  std::string last_text;
  auto ask = [&](std::vector<std::byte> hello) {
    zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    dealer.connect(front.endpoint());
    dealer.send(zmq::buffer(hello));
    zmq::message_t answer;
    EXPECT_TRUE(dealer.recv(answer));
    ByteReader r(Bytes(static_cast<const std::byte*>(answer.data()) + kHeaderBytes,
                       answer.size() - kHeaderBytes));
    const auto* bytes = static_cast<const std::uint8_t*>(answer.data());
    EXPECT_EQ(static_cast<MessageKind>(bytes[6]), MessageKind::refuse);
    // Written in the server's version, which an older client reads from bytes 4..5.
    EXPECT_EQ(bytes[4] | bytes[5] << 8, kProtocolVersion);
    const auto reason = static_cast<RefusalReason>(r.u32());
    last_text = r.string(1 << 16);
    return reason;
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
  hello[4] = std::byte{3};  // version 3: XXH64 checksums, refused before its checksum is read
  EXPECT_EQ(ask(hello), RefusalReason::wrong_version);
  hello[4] = std::byte{4};  // version 4: an announcement without parameter names
  EXPECT_EQ(ask(hello), RefusalReason::wrong_version);
  hello[4] = std::byte{5};  // version 5: a client that cannot read the batch limit in WELCOME
  EXPECT_EQ(ask(hello), RefusalReason::wrong_version);
  EXPECT_EQ(last_text, "server speaks protocol version 6");
  EXPECT_EQ(ask(std::vector<std::byte>(200, std::byte{0x53})), RefusalReason::malformed);

  const FrontStats s = front.stats();
  EXPECT_EQ(s.accepted, 0u);
  EXPECT_EQ(s.refused_of(RefusalReason::wrong_experiment), 1u);
  EXPECT_EQ(s.refused_of(RefusalReason::unknown_field), 1u);
  EXPECT_EQ(s.refused_of(RefusalReason::too_large), 1u);
  EXPECT_EQ(s.refused_of(RefusalReason::wrong_version), 5u);
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
  e.parameter_names = {"amp", "tb"};
  e.member_size = 1;
  e.steps = 3;
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
  // Issue 32: named parameters in another order are refused, naming both orders.
  MemberIdentity swapped = identity(3, 0, 1, 4, 4);
  swapped.parameter_names = {"tb", "amp"};
  EXPECT_EQ(refusal(swapped, ticket),
            "wrong_announcement: streaming server refused simulation 3 rank 0: announcement "
            "does not match the study: parameters [tb, amp], the study's are [amp, tb] in this "
            "order (SURGE_PARAMETER_NAMES)");
  MemberIdentity named = identity(3, 0, 1, 4, 4);
  named.parameter_names = {"amp", "tb"};
  EXPECT_EQ(refusal(named, ticket), "admitted");
  EXPECT_EQ(refusal(identity(3, 0, 1, 4, 4), ticket), "admitted");  // unnamed: not checked
  {
    // A step the server would drop is the member's error, at its send (issue 32).
    ClientConfig c = client_config(front.endpoint());
    c.member_ticket = ticket;
    Client client(c, identity(3, 0, 1, 4, 4));
    const std::vector<double> u(16, 1.0);
    client.send("u", 2, 0.2, Span<const double>(u.data(), u.size()));
    for (const std::int64_t step : {std::int64_t{3}, std::int64_t{-1}}) {
      try {
        client.send("u", step, 0.3, Span<const double>(u.data(), u.size()));
        ADD_FAILURE() << "step " << step << " was sent";
      } catch (const surge::core::ProtocolError& err) {
        EXPECT_EQ(err.message(), "streaming client: step " + std::to_string(step) +
                                     " of field 'u' is not one the server takes: steps 0..2 (3 "
                                     "per member)");
      }
    }
  }
  front.revoke(3);
  EXPECT_EQ(refusal(identity(3, 0, 1, 4, 4), ticket).rfind("unknown_simulation: ", 0), 0u);
  const FrontStats s = front.stats();
  EXPECT_EQ(s.accepted, 3u);
  EXPECT_EQ(s.refused_of(RefusalReason::unknown_simulation), 3u);
  EXPECT_EQ(s.refused_of(RefusalReason::bad_ticket), 2u);
  EXPECT_EQ(s.refused_of(RefusalReason::wrong_announcement), 6u);
}

TEST(StreamingLoopback, NoServerMeansATimeoutNotAHang) {
  ClientConfig c = client_config("tcp://127.0.0.1:1");  // nothing listens on port 1
  c.handshake_timeout_ms = 200;
  EXPECT_THROW(Client(c, identity(1, 0, 1, 4, 4)), surge::core::ProtocolError);
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

TEST(StreamingLoopback, BadFramesOnTheWireAreCountedByKindAndHarmless) {
  Collector got;
  const std::uint64_t key = make_admission_key();
  ReceiverConfig config = server_config();
  config.max_message_bytes = 64 << 10;
  Receiver receiver(config, key, 0, got.handler());
  Front front(config, key, {receiver.endpoint()});
  const std::vector<double> params = {8.0, 0.5};
  const Announcement member{"loopback", 8, 0, 1, DType::float64, 2, {{"u", {4, 4}}, {"v", {4, 4}}},
                            {}};
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

// Issue 24: a batch (frames back to back in one message) is read frame by frame. A frame
// rejected after its checksum verified (a duplicate) does not stop the batch; one whose
// checksum fails does, as its header placed the next frame: the rest is one malformed
// rejection, and what came before it stays accepted.
TEST(StreamingLoopback, ABatchIsReadUntilAFrameThatCannotBeTrusted) {
  Collector got;
  const std::uint64_t key = make_admission_key();
  Receiver receiver(server_config(), key, 0, got.handler());
  const std::vector<double> params = {9.0, 0.5};
  const Announcement member{"loopback", 9, 0, 1, DType::float64, 2, {{"u", {4, 4}}, {"v", {4, 4}}},
                            {}};
  const std::uint64_t seed = test::seed_of(key, 0, member);
  std::vector<std::byte> batch;
  auto append = [&batch](const std::vector<std::byte>& frame) {
    batch.insert(batch.end(), frame.begin(), frame.end());
  };
  append(test::declaration(key, 0, member));
  append(test::data_message(9, 0, 0, 0, 0, 4, 4, params, seed));
  append(test::data_message(9, 0, 0, 0, 0, 4, 4, params, seed));  // duplicate: read on
  append(test::data_message(9, 0, 1, 0, 0, 4, 4, params, seed));
  auto corrupted = test::data_message(9, 0, 0, 1, 0, 4, 4, params, seed);
  corrupted[kHeaderBytes + 20] ^= std::byte{4};
  append(corrupted);                                              // unauthenticated: stop
  append(test::data_message(9, 0, 1, 1, 0, 4, 4, params, seed));  // never read
  zmq::context_t ctx;
  zmq::socket_t push(ctx, zmq::socket_type::push);
  push.connect(receiver.endpoint());
  push.send(zmq::buffer(batch));
  ASSERT_TRUE(eventually([&] { return receiver.stats().messages == 6; }));
  const IngestStats s = receiver.stats();
  EXPECT_EQ(s.accepted, 3u);  // the declaration and two blocks
  EXPECT_EQ(s.rejected_of(Rejection::duplicate), 1u);
  EXPECT_EQ(s.rejected_of(Rejection::unauthenticated), 1u);
  EXPECT_EQ(s.rejected_of(Rejection::malformed), 1u);
  EXPECT_EQ(receiver.wire_messages(), 1u);
  std::lock_guard<std::mutex> lock(got.mutex);
  EXPECT_EQ(got.fields.size(), 2u);
  EXPECT_EQ(got.fields.count({9, 0, 0}), 1u);
  EXPECT_EQ(got.fields.count({9, 1, 0}), 1u);
}
