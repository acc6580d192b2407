// The wire format and the stateful decoder (Assembler), without sockets: checksum vectors,
// header byte offsets, every rejection kind, assembly, exactly-once, and a seeded mutation
// test of 100 000+ corrupted messages.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>

#include "surge/streaming/assembler.hpp"
#include "surge/streaming/checksum.hpp"
#include "surge/streaming/config.hpp"
#include "surge/streaming/protocol.hpp"
#include "test_util.hpp"

using namespace surge::streaming;
using surge::streaming::test::control_message;
using surge::streaming::test::data_message;
using surge::streaming::test::declaration;
using surge::streaming::test::raw;

namespace {
constexpr std::uint64_t kKey = 0x1234567890ABCDEFULL;

Announcement member(std::uint64_t sim, std::uint32_t rank, std::uint32_t size, std::uint64_t ny = 6,
                    std::uint64_t nx = 5, std::uint32_t nparams = 2) {
  Announcement a;
  a.experiment = "exp";
  a.simulation = sim;
  a.member_rank = rank;
  a.member_size = size;
  a.dtype = DType::float64;
  a.parameter_count = nparams;
  a.fields = {{"u", {ny, nx}}, {"v", {ny, nx}}};
  return a;
}

// The checksum seed of the DATA and END of rank `rank` of `member(sim, rank, size)`.
std::uint64_t seed(std::uint64_t sim, std::uint32_t rank, std::uint32_t size) {
  return test::seed_of(kKey, 0, member(sim, rank, size));
}

Rejection rejection_of(Assembler& as, const std::vector<std::byte>& m) {
  IngestResult r = as.ingest(raw(m), Clock::now());
  EXPECT_FALSE(r.accepted());
  return r.rejection.value_or(Rejection::malformed);
}
}  // namespace

TEST(StreamingChecksum, KnownXxh64Vectors) {
  EXPECT_EQ(xxh64("", 0, 0), 0xEF46DB3751D8E999ULL);
  EXPECT_EQ(xxh64("a", 1, 0), 0xD24EC4F1A98C6E5BULL);
  EXPECT_EQ(xxh64("abc", 3, 0), 0x44BC2CF5AD770999ULL);
  EXPECT_EQ(xxh64("Hello, World!", 13, 0), 0xC49AACF8080FE47FULL);
  const std::string s = "Nobody inspects the spammish repetition";  // 39 bytes: one stripe
  EXPECT_EQ(xxh64(s.data(), s.size(), 0), 0xFBCEA83C8A378BF1ULL);
}

TEST(StreamingChecksum, IncrementalEqualsOneShotForEverySplit) {
  std::mt19937_64 rng(7);
  std::vector<unsigned char> data(1000);
  for (auto& b : data) b = static_cast<unsigned char>(rng());
  for (std::size_t len : {0, 1, 31, 32, 33, 63, 64, 100, 1000}) {
    const std::uint64_t want = xxh64(data.data(), len, 99);
    for (std::size_t cut = 0; cut <= len; cut += 7) {
      Xxh64 h(99);
      h.update(data.data(), cut);
      h.update(data.data() + cut, len - cut);
      EXPECT_EQ(h.digest(), want) << "len " << len << " cut " << cut;
    }
  }
}

TEST(StreamingProtocol, HeaderFieldsSitAtTheDocumentedOffsets) {
  Header h;
  h.kind = MessageKind::data;
  h.dtype = DType::float32;
  h.simulation = 0x0102030405060708ULL;
  h.member_rank = 0x11121314;
  h.field_id = 0x21222324;
  h.step = -2;
  h.time = 1.5;
  h.ndim = 3;
  h.parameter_count = 9;
  h.offset = {1, 2, 3, 0};
  h.extent = {4, 5, 6, 0};
  h.payload_bytes = 480;
  std::vector<std::byte> b(kHeaderBytes);
  write_header(h, b.data());
  auto u64_at = [&](std::size_t o) {
    std::uint64_t v;
    std::memcpy(&v, b.data() + o, 8);
    return v;
  };
  auto u32_at = [&](std::size_t o) {
    std::uint32_t v;
    std::memcpy(&v, b.data() + o, 4);
    return v;
  };
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data()), 4), "SRGE");
  EXPECT_EQ(static_cast<int>(b[4]), kProtocolVersion);  // little-endian u16
  EXPECT_EQ(static_cast<int>(b[5]), 0);
  EXPECT_EQ(static_cast<int>(b[6]), 5);
  EXPECT_EQ(static_cast<int>(b[7]), 1);
  EXPECT_EQ(static_cast<int>(b[8]), 0x08);  // little-endian
  EXPECT_EQ(u64_at(8), h.simulation);
  EXPECT_EQ(u32_at(16), h.member_rank);
  EXPECT_EQ(u32_at(20), h.field_id);
  EXPECT_EQ(static_cast<std::int64_t>(u64_at(24)), -2);
  double t;
  std::memcpy(&t, b.data() + 32, 8);
  EXPECT_EQ(t, 1.5);
  EXPECT_EQ(u32_at(40), 3u);
  EXPECT_EQ(u32_at(44), 9u);
  EXPECT_EQ(u64_at(48 + 16), 3u);
  EXPECT_EQ(u64_at(80 + 8), 5u);
  EXPECT_EQ(u64_at(112), 480u);
  EXPECT_EQ(u64_at(120), 0u);
  const Header back = read_header(b.data());
  EXPECT_EQ(back.simulation, h.simulation);
  EXPECT_EQ(back.extent, h.extent);
  EXPECT_EQ(back.time, h.time);
}

TEST(StreamingProtocol, AnnouncementRoundTripsAndRejectsBadInput) {
  const Announcement a = member(3, 1, 4);
  const std::vector<std::byte> b = encode_announcement(a);
  auto back = decode_announcement(Bytes(b.data(), b.size()));
  ASSERT_TRUE(back);
  EXPECT_TRUE(*back == a);
  for (std::size_t n = 0; n < b.size(); ++n) {  // every truncation is refused
    EXPECT_FALSE(decode_announcement(Bytes(b.data(), n))) << n;
  }
  Announcement bad = a;
  bad.member_rank = 4;  // rank >= size
  auto eb = encode_announcement(bad);
  EXPECT_FALSE(decode_announcement(Bytes(eb.data(), eb.size())));
  bad = a;
  bad.fields[1].name = "u";  // duplicate name
  eb = encode_announcement(bad);
  EXPECT_FALSE(decode_announcement(Bytes(eb.data(), eb.size())));
  bad = a;
  bad.fields[0].shape = {3, 0};
  eb = encode_announcement(bad);
  EXPECT_FALSE(decode_announcement(Bytes(eb.data(), eb.size())));
}

TEST(StreamingProtocol, DecodeFrameNamesEveryStatelessRejection) {
  const std::vector<double> params = {1.0, 2.0};
  constexpr std::uint64_t kSeed = 0xC0FFEE;
  const auto good = data_message(1, 0, 0, 0, 0, 3, 5, params, kSeed);
  const Bytes g(good.data(), good.size());
  EXPECT_TRUE(decode_frame(g, {}, 1 << 20, kSeed).ok());
  // Checksummed with another seed (the public one, another rank's key): only the layout
  // stage passes.
  EXPECT_EQ(decode_frame(g, {}, 1 << 20, kChecksumSeed).rejection, Rejection::bad_checksum);
  EXPECT_EQ(decode_frame(g, {}, 1 << 20, kSeed ^ 1).rejection, Rejection::bad_checksum);
  ASSERT_TRUE(frame_layout(g, {}, 1 << 20).ok());
  EXPECT_EQ(frame_layout(g, {}, 1 << 20).frame->header.simulation, 1u);

  EXPECT_EQ(decode_frame(Bytes(good.data(), 3), {}, 1 << 20, kSeed).rejection,
            Rejection::truncated);
  EXPECT_EQ(decode_frame(Bytes(good.data(), 100), {}, 1 << 20, kSeed).rejection,
            Rejection::truncated);
  EXPECT_EQ(decode_frame(Bytes(good.data(), good.size() - 1), {}, 1 << 20, kSeed).rejection,
            Rejection::truncated);
  auto m = good;
  m[0] = std::byte{'X'};
  EXPECT_EQ(decode_frame(Bytes(m.data(), m.size()), {}, 1 << 20, kSeed).rejection,
            Rejection::wrong_magic);
  m = good;
  m[4] = std::byte{kProtocolVersion + 1};
  EXPECT_EQ(decode_frame(Bytes(m.data(), m.size()), {}, 1 << 20, kSeed).rejection,
            Rejection::wrong_version);
  EXPECT_EQ(decode_frame(g, {}, 200, kSeed).rejection, Rejection::oversized);
  m = good;
  m.back() ^= std::byte{1};
  EXPECT_EQ(decode_frame(Bytes(m.data(), m.size()), {}, 1 << 20, kSeed).rejection,
            Rejection::bad_checksum);
  m = good;
  m.push_back(std::byte{0});  // trailing byte
  EXPECT_EQ(decode_frame(Bytes(m.data(), m.size()), {}, 1 << 20, kSeed).rejection,
            Rejection::malformed);
  // A header that checksums but lies about the payload size is malformed.
  Header h = read_header(good.data());
  h.extent[1] = 4;
  std::vector<std::byte> payload(good.begin() + kHeaderBytes + 16, good.end());
  m = encode_message(h, Span<const double>(params), Bytes(payload.data(), payload.size()), kSeed);
  EXPECT_EQ(decode_frame(Bytes(m.data(), m.size()), {}, 1 << 20, kSeed).rejection,
            Rejection::malformed);
  // Two frames split exactly after the parameters decode; any other split is malformed.
  const std::size_t split = kHeaderBytes + 16;
  EXPECT_TRUE(decode_frame(Bytes(good.data(), split),
                           Bytes(good.data() + split, good.size() - split), 1 << 20, kSeed)
                  .ok());
  EXPECT_EQ(decode_frame(Bytes(good.data(), split + 8),
                         Bytes(good.data() + split + 8, good.size() - split - 8), 1 << 20, kSeed)
                .rejection,
            Rejection::malformed);
}

TEST(StreamingAssembler, AssemblesTwoRankFieldsAndDropsDuplicates) {
  Assembler as({1 << 20, 64}, kKey, 0);
  const std::vector<double> params = {0.25, 4.0};
  for (std::uint32_t r = 0; r < 2; ++r) {
    ASSERT_TRUE(as.ingest(raw(declaration(kKey, 0, member(5, r, 2))), Clock::now()).accepted());
  }
  // Rank 1 first: blocks of different ranks and steps interleave freely.
  auto r1 = as.ingest(raw(data_message(5, 1, 0, 0, 3, 3, 5, params, seed(5, 1, 2))), Clock::now());
  ASSERT_TRUE(r1.accepted());
  EXPECT_FALSE(r1.delivery);
  auto other_step =
      as.ingest(raw(data_message(5, 0, 0, 1, 0, 3, 5, params, seed(5, 0, 2))), Clock::now());
  EXPECT_TRUE(other_step.accepted());
  EXPECT_EQ(rejection_of(as, data_message(5, 1, 0, 0, 3, 3, 5, params, seed(5, 1, 2))),
            Rejection::duplicate);
  auto r0 = as.ingest(raw(data_message(5, 0, 0, 0, 0, 3, 5, params, seed(5, 0, 2))), Clock::now());
  ASSERT_TRUE(r0.accepted());
  ASSERT_TRUE(r0.delivery);
  const Field& f = r0.delivery->field;
  EXPECT_EQ(f.simulation, 5u);
  EXPECT_EQ(f.name, "u");
  EXPECT_EQ(f.step, 0);
  EXPECT_EQ(f.shape, (std::vector<std::uint64_t>{6, 5}));
  EXPECT_EQ(f.parameters, params);
  EXPECT_TRUE(test::bit_equal(f.data, test::global_field(5, 0, 0, 6, 5)));
  // Once handed on, any block of that (simulation, field, step) is a duplicate.
  EXPECT_EQ(rejection_of(as, data_message(5, 0, 0, 0, 0, 3, 5, params, seed(5, 0, 2))),
            Rejection::duplicate);
  EXPECT_EQ(as.stats().fields, 1u);
  EXPECT_EQ(as.stats().rejected_of(Rejection::duplicate), 2u);
  EXPECT_EQ(as.pending_fields(), 1u);  // step 1 still waits for rank 1

  // END from both ranks frees the partial field and yields a simulation end.
  EXPECT_FALSE(
      as.ingest(raw(control_message(MessageKind::end, 5, 0, seed(5, 0, 2), 1)), Clock::now())
          .delivery);
  auto end =
      as.ingest(raw(control_message(MessageKind::end, 5, 1, seed(5, 1, 2), 1)), Clock::now());
  ASSERT_TRUE(end.delivery);
  EXPECT_EQ(end.delivery->kind, DeliveryKind::simulation_end);
  EXPECT_EQ(as.stats().incomplete_fields, 1u);
  EXPECT_EQ(as.pending_fields(), 0u);
  EXPECT_EQ(as.stats().messages, as.stats().accepted + as.stats().rejected_total());
}

TEST(StreamingAssembler, StatefulRejections) {
  Assembler as({1 << 20, 2}, kKey, 0);
  const std::vector<double> params = {0.25, 4.0};
  // Unknown simulation (no DECLARE yet), for data, heartbeat-free control and END.
  EXPECT_EQ(rejection_of(as, data_message(9, 0, 0, 0, 0, 6, 5, params, seed(9, 0, 2))),
            Rejection::unknown_simulation);
  EXPECT_EQ(rejection_of(as, control_message(MessageKind::end, 9, 0, seed(9, 0, 2))),
            Rejection::unknown_simulation);
  // A ticket made with another key, or for another server rank.
  EXPECT_EQ(rejection_of(as, declaration(kKey + 1, 0, member(9, 0, 2))), Rejection::bad_ticket);
  EXPECT_EQ(rejection_of(as, declaration(kKey, 1, member(9, 0, 2))), Rejection::bad_ticket);
  ASSERT_TRUE(as.ingest(raw(declaration(kKey, 0, member(9, 0, 2))), Clock::now()).accepted());
  // Rank 1 never declared.
  EXPECT_EQ(rejection_of(as, data_message(9, 1, 0, 0, 3, 3, 5, params, seed(9, 1, 2))),
            Rejection::unknown_simulation);
  // A declaration of the same simulation with another shape conflicts.
  EXPECT_EQ(rejection_of(as, declaration(kKey, 0, member(9, 1, 2, 7, 5))),
            Rejection::conflicting_declaration);
  ASSERT_TRUE(as.ingest(raw(declaration(kKey, 0, member(9, 1, 2))), Clock::now()).accepted());
  // Outside the global shape: rows 4..6 of 6.
  EXPECT_EQ(rejection_of(as, data_message(9, 0, 0, 0, 4, 3, 5, params, seed(9, 0, 2))),
            Rejection::outside_shape);
  // Unknown field id, wrong parameter count: malformed.
  EXPECT_EQ(rejection_of(as, data_message(9, 0, 7, 0, 0, 3, 5, params, seed(9, 0, 2))),
            Rejection::malformed);
  EXPECT_EQ(rejection_of(as, data_message(9, 0, 0, 0, 0, 3, 5, {1.0}, seed(9, 0, 2))),
            Rejection::malformed);
  // Overlap: rank 0 sends rows 0..4, rank 1 rows 2..5 -> more than what is left.
  ASSERT_TRUE(as.ingest(raw(data_message(9, 0, 0, 0, 0, 4, 5, params, seed(9, 0, 2))), Clock::now())
                  .accepted());
  EXPECT_EQ(rejection_of(as, data_message(9, 1, 0, 0, 2, 4, 5, params, seed(9, 1, 2))),
            Rejection::outside_shape);
  // The pending limit (2): a third partial field is refused, a whole field still passes.
  ASSERT_TRUE(as.ingest(raw(data_message(9, 0, 0, 1, 0, 3, 5, params, seed(9, 0, 2))), Clock::now())
                  .accepted());
  EXPECT_EQ(rejection_of(as, data_message(9, 0, 0, 2, 0, 3, 5, params, seed(9, 0, 2))),
            Rejection::too_many_pending);
  auto whole =
      as.ingest(raw(data_message(9, 0, 1, 2, 0, 6, 5, params, seed(9, 0, 2))), Clock::now());
  ASSERT_TRUE(whole.accepted());
  EXPECT_TRUE(whole.delivery);
  // Handshake kinds do not belong on the data socket.
  EXPECT_EQ(rejection_of(as, control_message(MessageKind::hello, 9, 0, kChecksumSeed)),
            Rejection::malformed);
  const IngestStats& s = as.stats();
  EXPECT_EQ(s.rejected_of(Rejection::unknown_simulation), 3u);
  EXPECT_EQ(s.rejected_of(Rejection::bad_ticket), 2u);
  EXPECT_EQ(s.rejected_of(Rejection::conflicting_declaration), 1u);
  EXPECT_EQ(s.rejected_of(Rejection::outside_shape), 2u);
  EXPECT_EQ(s.rejected_of(Rejection::malformed), 3u);
  EXPECT_EQ(s.rejected_of(Rejection::too_many_pending), 1u);
  EXPECT_EQ(s.messages, s.accepted + s.rejected_total());
}

// Issue 14 part B: DATA and END of a declared rank must be checksummed with that rank's key
// (its admission ticket). A well-formed message with the public seed (what any local process
// can make) or with another rank's key is counted as unauthenticated and changes nothing; so
// is a heartbeat of a declared rank that does not carry its ticket (bad_ticket).
TEST(StreamingAssembler, DataAndEndNeedTheSenderRanksKey) {
  Assembler as({1 << 20, 8}, kKey, 0);
  const std::vector<double> params = {0.25, 4.0};
  for (std::uint32_t r = 0; r < 2; ++r) {
    ASSERT_TRUE(as.ingest(raw(declaration(kKey, 0, member(3, r, 2))), Clock::now()).accepted());
  }
  ASSERT_NE(seed(3, 0, 2), seed(3, 1, 2));
  // Rank 0's rows with the public seed, with rank 1's key, with a key of another server's
  // admission key: no.
  const std::uint64_t other_key = test::seed_of(kKey + 1, 0, member(3, 0, 2));
  for (const std::uint64_t wrong : {kChecksumSeed, seed(3, 1, 2), other_key}) {
    EXPECT_EQ(rejection_of(as, data_message(3, 0, 0, 0, 0, 3, 5, params, wrong)),
              Rejection::unauthenticated);
    EXPECT_EQ(rejection_of(as, control_message(MessageKind::end, 3, 0, wrong)),
              Rejection::unauthenticated);
  }
  // A heartbeat of declared rank 0 carrying rank 1's ticket (a valid one, but not its own).
  {
    std::vector<std::byte> hb = declaration(kKey, 0, member(3, 1, 2), MessageKind::heartbeat);
    Header h = read_header(hb.data());
    h.member_rank = 0;
    write_header(h, hb.data());
    store_checksum(
        hb.data(),
        frame_checksum(hb.data(), {}, Bytes(hb.data() + kHeaderBytes, hb.size() - kHeaderBytes),
                       kChecksumSeed));
    EXPECT_EQ(rejection_of(as, hb), Rejection::bad_ticket);
  }
  EXPECT_EQ(as.stats().blocks, 0u);
  EXPECT_EQ(as.stats().ends, 0u);
  EXPECT_EQ(as.stats().heartbeats, 0u);
  // With the right key the same messages pass: the forged ones left no trace.
  EXPECT_TRUE(as.ingest(raw(data_message(3, 0, 0, 0, 0, 3, 5, params, seed(3, 0, 2))), Clock::now())
                  .accepted());
  auto field =
      as.ingest(raw(data_message(3, 1, 0, 0, 3, 3, 5, params, seed(3, 1, 2))), Clock::now());
  ASSERT_TRUE(field.delivery);
  EXPECT_TRUE(test::bit_equal(field.delivery->field.data, test::global_field(3, 0, 0, 6, 5)));
  EXPECT_TRUE(
      as.ingest(raw(declaration(kKey, 0, member(3, 0, 2), MessageKind::heartbeat)), Clock::now())
          .accepted());
  EXPECT_TRUE(as.ingest(raw(control_message(MessageKind::end, 3, 0, seed(3, 0, 2))), Clock::now())
                  .accepted());
  EXPECT_TRUE(as.ingest(raw(control_message(MessageKind::end, 3, 1, seed(3, 1, 2))), Clock::now())
                  .delivery);
  const IngestStats& s = as.stats();
  EXPECT_EQ(s.rejected_of(Rejection::unauthenticated), 6u);
  EXPECT_EQ(s.rejected_of(Rejection::bad_ticket), 1u);
  EXPECT_EQ(s.rejected_total(), 7u);
  EXPECT_EQ(s.fields, 1u);
  EXPECT_EQ(s.simulations_ended, 1u);
  EXPECT_EQ(s.messages, s.accepted + s.rejected_total());
}

TEST(StreamingAssembler, HeartbeatAdmitsLikeADeclarationAndNeverReopens) {
  Assembler as({1 << 20, 8}, kKey, 0);
  const auto t0 = Clock::now();
  auto hb = as.ingest(raw(declaration(kKey, 0, member(4, 0, 1), MessageKind::heartbeat)), t0);
  ASSERT_TRUE(hb.accepted());
  EXPECT_EQ(as.stats().heartbeats, 1u);
  EXPECT_EQ(as.stats().declarations, 0u);
  ASSERT_EQ(as.members().size(), 1u);
  EXPECT_EQ(as.members()[0].last_seen, t0);
  auto end = as.ingest(raw(control_message(MessageKind::end, 4, 0, seed(4, 0, 1))),
                       t0 + std::chrono::seconds(1));
  ASSERT_TRUE(end.delivery);
  const auto t2 = t0 + std::chrono::seconds(2);
  ASSERT_TRUE(
      as.ingest(raw(declaration(kKey, 0, member(4, 0, 1), MessageKind::heartbeat)), t2).accepted());
  EXPECT_TRUE(as.members()[0].ended);  // a late heartbeat does not reopen the rank
  EXPECT_EQ(as.members()[0].last_seen, t2);
}

TEST(StreamingAssembler, RelaunchedMemberRepeatingStepsIsDeliveredExactlyOnce) {
  Assembler as({1 << 20, 64}, kKey, 0);
  const std::vector<double> params = {1.0, 2.0};
  int delivered = 0;
  auto feed = [&](const std::vector<std::byte>& m) {
    auto r = as.ingest(raw(m), Clock::now());
    if (r.delivery && r.delivery->kind == DeliveryKind::field) ++delivered;
  };
  feed(declaration(kKey, 0, member(2, 0, 1)));
  for (int step = 0; step < 10; ++step)
    feed(data_message(2, 0, 0, step, 0, 6, 5, params, seed(2, 0, 1)));
  // Relaunch: declare again, restart from step 5 (steps 5..9 repeat), go on to 14.
  feed(declaration(kKey, 0, member(2, 0, 1)));
  for (int step = 5; step < 15; ++step)
    feed(data_message(2, 0, 0, step, 0, 6, 5, params, seed(2, 0, 1)));
  EXPECT_EQ(delivered, 15);
  EXPECT_EQ(as.stats().rejected_of(Rejection::duplicate), 5u);
  EXPECT_EQ(as.stats().declarations, 2u);
}

// Issue 14: partial fields are bounded in bytes before anything is allocated, member tables
// only exist for the study's member size, steps without a successor are refused, and a
// simulation whose ranks all ended keeps only its declaration and delivered steps (a
// forgotten one only its id): its late messages are counted as after_end.
TEST(StreamingAssembler, BoundsPendingBytesAndFreesEndedSimulations) {
  AssemblerLimits limits;
  limits.max_message_bytes = 1 << 20;
  limits.max_pending_fields = 64;
  limits.max_pending_bytes = 400;             // one partial 6x5 float64 field (240 bytes)
  limits.max_pending_bytes_per_member = 300;  // the same, per member
  limits.member_size = 2;
  limits.steps = 100;
  Assembler as(limits, kKey, 0);
  const std::vector<double> params = {0.25, 4.0};
  EXPECT_EQ(rejection_of(as, declaration(kKey, 0, member(5, 0, 3))), Rejection::malformed);
  for (std::uint32_t r = 0; r < 2; ++r) {
    ASSERT_TRUE(as.ingest(raw(declaration(kKey, 0, member(5, r, 2))), Clock::now()).accepted());
    ASSERT_TRUE(as.ingest(raw(declaration(kKey, 0, member(6, r, 2))), Clock::now()).accepted());
  }
  EXPECT_EQ(rejection_of(as, data_message(5, 0, 0, -1, 0, 3, 5, params, seed(5, 0, 2))),
            Rejection::bad_step);
  EXPECT_EQ(rejection_of(as, data_message(5, 0, 0, INT64_MAX, 0, 3, 5, params, seed(5, 0, 2))),
            Rejection::bad_step);
  EXPECT_EQ(rejection_of(as, data_message(5, 0, 0, 100, 0, 3, 5, params, seed(5, 0, 2))),
            Rejection::bad_step);
  ASSERT_TRUE(as.ingest(raw(data_message(5, 0, 0, 0, 0, 3, 5, params, seed(5, 0, 2))), Clock::now())
                  .accepted());
  EXPECT_EQ(as.pending_bytes(), 240u);
  // A second partial field: over the member's bound, then (another member) over the total.
  EXPECT_EQ(rejection_of(as, data_message(5, 0, 0, 1, 0, 3, 5, params, seed(5, 0, 2))),
            Rejection::pending_bytes);
  EXPECT_EQ(rejection_of(as, data_message(6, 0, 0, 0, 0, 3, 5, params, seed(6, 0, 2))),
            Rejection::pending_bytes);
  // A whole field needs no pending buffer.
  EXPECT_TRUE(as.ingest(raw(data_message(6, 0, 1, 0, 0, 6, 5, params, seed(6, 0, 2))), Clock::now())
                  .delivery);
  // Rank 0 ends; its later data is after_end while rank 1 still sends.
  ASSERT_TRUE(
      as.ingest(raw(control_message(MessageKind::end, 5, 0, seed(5, 0, 2), 0)), Clock::now())
          .accepted());
  EXPECT_EQ(rejection_of(as, data_message(5, 0, 0, 2, 0, 3, 5, params, seed(5, 0, 2))),
            Rejection::after_end);
  auto done =
      as.ingest(raw(data_message(5, 1, 0, 0, 3, 3, 5, params, seed(5, 1, 2))), Clock::now());
  ASSERT_TRUE(done.delivery);
  EXPECT_EQ(as.pending_bytes(), 0u);
  ASSERT_TRUE(
      as.ingest(raw(control_message(MessageKind::end, 5, 1, seed(5, 1, 2), 0)), Clock::now())
          .delivery);
  EXPECT_EQ(as.open_simulations(), 1u);  // simulation 5 is only a record now
  EXPECT_EQ(rejection_of(as, data_message(5, 1, 0, 3, 3, 3, 5, params, seed(5, 1, 2))),
            Rejection::after_end);
  EXPECT_EQ(rejection_of(as, control_message(MessageKind::end, 5, 0, seed(5, 0, 2))),
            Rejection::after_end);
  // A heartbeat that outlives its member's END is harmless.
  EXPECT_TRUE(
      as.ingest(raw(declaration(kKey, 0, member(5, 0, 2), MessageKind::heartbeat)), Clock::now())
          .accepted());
  // A relaunch the front admitted declares again: what was delivered stays delivered.
  ASSERT_TRUE(as.ingest(raw(declaration(kKey, 0, member(5, 0, 2))), Clock::now()).accepted());
  EXPECT_EQ(as.open_simulations(), 2u);
  EXPECT_EQ(rejection_of(as, data_message(5, 0, 0, 0, 0, 3, 5, params, seed(5, 0, 2))),
            Rejection::duplicate);
  // Forgetting a member (redrawn) frees its partial fields.
  ASSERT_TRUE(as.ingest(raw(data_message(6, 0, 0, 0, 0, 3, 5, params, seed(6, 0, 2))), Clock::now())
                  .accepted());
  EXPECT_EQ(as.pending_bytes(), 240u);
  EXPECT_EQ(as.forget(6), 1u);
  EXPECT_EQ(as.pending_bytes(), 0u);
  EXPECT_EQ(as.open_simulations(), 1u);
  EXPECT_EQ(rejection_of(as, data_message(6, 1, 0, 0, 3, 3, 5, params, seed(6, 1, 2))),
            Rejection::after_end);
  EXPECT_EQ(rejection_of(as, declaration(kKey, 0, member(6, 0, 2))), Rejection::after_end);
  const IngestStats& s = as.stats();
  EXPECT_EQ(s.rejected_of(Rejection::bad_step), 3u);
  EXPECT_EQ(s.rejected_of(Rejection::pending_bytes), 2u);
  EXPECT_EQ(s.rejected_of(Rejection::after_end), 5u);
  EXPECT_EQ(s.rejected_of(Rejection::duplicate), 1u);
  EXPECT_EQ(s.rejected_of(Rejection::malformed), 1u);
  EXPECT_EQ(s.messages, s.accepted + s.rejected_total());
}

// Seeded mutation test: >= 100 000 corrupted copies of valid messages go through the
// decoder. Nothing crashes, every message is either accepted or rejected with a counted
// kind, and the fields accepted beforehand stay exactly as sent.
TEST(StreamingAssembler, SeededMutationsNeverCrashNorDisturbAcceptedData) {
  constexpr int kMutants = 120000;
  constexpr std::int64_t kSteps = 20;
  Assembler as({1 << 16, 8}, kKey, 0);
  const std::vector<double> params = {0.5, -3.0};
  std::vector<std::vector<std::byte>> pool;
  std::vector<std::uint64_t> seeds;  // of each pool message, for structured mutants
  for (const Announcement& a : {member(1, 0, 2), member(1, 1, 2), member(2, 0, 1)}) {
    pool.push_back(declaration(kKey, 0, a));
    seeds.push_back(kChecksumSeed);
  }
  for (std::int64_t s = 0; s < kSteps; ++s) {
    for (std::uint32_t f = 0; f < 2; ++f) {
      pool.push_back(data_message(1, 0, f, s, 0, 3, 5, params, seed(1, 0, 2)));
      pool.push_back(data_message(1, 1, f, s, 3, 3, 5, params, seed(1, 1, 2)));
      pool.push_back(data_message(2, 0, f, s, 0, 6, 5, params, seed(2, 0, 1)));
      seeds.insert(seeds.end(), {seed(1, 0, 2), seed(1, 1, 2), seed(2, 0, 1)});
    }
  }
  // Phase 1: the genuine messages, all accepted, 2 * kSteps fields per simulation.
  std::map<std::tuple<std::uint64_t, std::uint32_t, std::int64_t>, Field> genuine;
  for (const auto& m : pool) {
    IngestResult r = as.ingest(raw(m), Clock::now());
    ASSERT_TRUE(r.accepted());
    if (r.delivery) {
      const Field& f = r.delivery->field;
      ASSERT_TRUE(genuine.emplace(std::tuple{f.simulation, f.field_id, f.step}, f).second);
    }
  }
  ASSERT_EQ(genuine.size(), static_cast<std::size_t>(4 * kSteps));

  // Phase 2: mutants.
  std::mt19937_64 rng(20240611);
  std::array<std::uint64_t, kRejectionKinds> seen{};
  std::uint64_t accepted = 0, new_fields = 0;
  auto pick = [&](std::uint64_t n) { return static_cast<std::size_t>(rng() % n); };
  for (int i = 0; i < kMutants; ++i) {
    const std::size_t original = pick(pool.size());
    std::vector<std::byte> m = pool[original];
    std::size_t split = 0;  // > 0: deliver as two frames
    switch (pick(8)) {
      case 0:  // flip a few bits anywhere
        for (int k = 0, n = 1 + pick(4); k < n; ++k) m[pick(m.size())] ^= std::byte(1u << pick(8));
        break;
      case 1:  // truncate
        m.resize(pick(m.size()));
        break;
      case 2:  // append bytes
        for (int k = 0, n = 1 + pick(64); k < n; ++k) m.push_back(std::byte(rng()));
        break;
      case 3: {  // overwrite a run with random bytes
        const std::size_t at = pick(m.size()), n = 1 + pick(32);
        for (std::size_t k = at; k < std::min(m.size(), at + n); ++k) m[k] = std::byte(rng());
        break;
      }
      case 4:  // magic or version
        m[pick(6)] = std::byte(rng());
        break;
      case 5:  // a huge announced payload
        m.resize(m.size() + (1 << 16));
        break;
      case 6:  // split into two frames anywhere
        split = 1 + pick(m.size() - 1);
        break;
      default: {  // structured: change a header field and re-checksum with the sender's seed,
                  // so deeper checks run
        Header h = read_header(m.data());
        std::vector<std::byte> rest(m.begin() + kHeaderBytes, m.end());
        switch (pick(11)) {
          case 0:
            h.step = static_cast<std::int64_t>(rng() % 4096) - 8;
            break;
          case 1:
            h.field_id = static_cast<std::uint32_t>(pick(4));
            break;
          case 2:
            h.member_rank = static_cast<std::uint32_t>(pick(4));
            break;
          case 3:
            h.offset[pick(4)] = rng() % 8;
            break;
          case 4:
            h.extent[pick(4)] = rng() % 8;
            break;
          case 5:
            h.ndim = static_cast<std::uint32_t>(pick(6));
            break;
          case 6:
            h.dtype = static_cast<DType>(pick(4));
            break;
          case 7:
            h.simulation = pick(4);
            break;
          case 8:
            h.kind = static_cast<MessageKind>(pick(9));
            break;
          case 9:
            h.offset[pick(2)] = rng();
            break;  // overflow bait
          default:  // a payload byte (a DECLARE's ticket or announcement, a DATA value)
            if (!rest.empty()) rest[pick(rest.size())] ^= std::byte(1 + pick(255));
        }
        const std::size_t pbytes = std::min<std::size_t>(h.parameter_count * 8, rest.size());
        h.payload_bytes = rest.size() - pbytes;
        std::vector<std::byte> out(kHeaderBytes);
        write_header(h, out.data());
        out.insert(out.end(), rest.begin(), rest.end());
        store_checksum(
            out.data(),
            frame_checksum(out.data(), Bytes(out.data() + kHeaderBytes, pbytes),
                           Bytes(out.data() + kHeaderBytes + pbytes, rest.size() - pbytes),
                           seeds[original]));
        m = std::move(out);
      }
    }
    RawMessage rm;
    if (split > 0 && split < m.size()) {
      rm.head = Bytes(m.data(), split);
      rm.body = Bytes(m.data() + split, m.size() - split);
    } else {
      rm.head = Bytes(m.data(), m.size());
    }
    IngestResult r = as.ingest(rm, Clock::now());
    if (r.accepted()) {
      ++accepted;
      if (r.delivery && r.delivery->kind == DeliveryKind::field) {
        const Field& f = r.delivery->field;
        // A mutant may complete a field of a step never sent, never one already handed on.
        ASSERT_EQ(genuine.count({f.simulation, f.field_id, f.step}), 0u)
            << "mutant " << i << " re-delivered an accepted field";
        ++new_fields;
      }
    } else {
      ++seen[static_cast<std::size_t>(*r.rejection)];
    }
  }
  const IngestStats& s = as.stats();
  EXPECT_EQ(s.messages, pool.size() + kMutants);
  EXPECT_EQ(s.messages, s.accepted + s.rejected_total());
  EXPECT_EQ(s.accepted, pool.size() + accepted);
  for (std::size_t k = 0; k < kRejectionKinds; ++k) {
    EXPECT_EQ(s.rejected[k], seen[k]) << to_string(static_cast<Rejection>(k));
  }
  // Every kind the decoder can see in this setting occurs. (Mutant ENDs close simulations
  // early, after which their messages are after_end: too_many_pending need not occur.)
  for (Rejection k :
       {Rejection::truncated, Rejection::wrong_magic, Rejection::wrong_version,
        Rejection::oversized, Rejection::bad_checksum, Rejection::malformed, Rejection::bad_ticket,
        Rejection::unknown_simulation, Rejection::outside_shape, Rejection::duplicate,
        Rejection::after_end, Rejection::unauthenticated}) {
    EXPECT_GT(seen[static_cast<std::size_t>(k)], 0u) << to_string(k);
  }
  // The fields accepted before the mutants are unchanged, bit for bit.
  for (const auto& [key, f] : genuine) {
    const auto& [sim, field, step] = key;
    EXPECT_TRUE(test::bit_equal(f.data, test::global_field(sim, step, field, 6, 5)));
    EXPECT_EQ(f.parameters, params);
  }
  // And the genuine messages are still recognised as already delivered (or as coming after
  // their simulation's end when a mutant END closed it, or from a rank not declared again
  // when a mutant DECLARE reopened it): never delivered twice.
  for (std::size_t i = 3; i < pool.size(); ++i) {
    const Rejection r = rejection_of(as, pool[i]);
    EXPECT_TRUE(r == Rejection::duplicate || r == Rejection::after_end ||
                r == Rejection::unknown_simulation)
        << to_string(r);
  }
  RecordProperty("accepted_mutants", static_cast<int>(accepted));
  RecordProperty("new_fields", static_cast<int>(new_fields));
}

TEST(StreamingConfig, EveryKeyIsDocumentedAndRoundTrips) {
  for (const auto& k : surge::core::describe_config<ReceiverConfig>()) {
    EXPECT_FALSE(k.doc.empty()) << k.key;
  }
  for (const auto& k : surge::core::describe_config<ClientConfig>()) {
    EXPECT_FALSE(k.doc.empty()) << k.key;
  }
  ReceiverConfig c;
  c.hwm = 7;
  c.fields = {"u", "v"};
  const auto back = surge::core::read_config<ReceiverConfig>(surge::core::dump_config(c), {});
  EXPECT_EQ(back.hwm, 7);
  EXPECT_EQ(back.fields, c.fields);
  YAML::Node bad = YAML::Load("hwm: 0");
  EXPECT_THROW((void)surge::core::read_config<ReceiverConfig>(bad, {}), surge::core::ConfigError);
  bad = YAML::Load("no_such_key: 1");
  EXPECT_THROW((void)surge::core::read_config<ReceiverConfig>(bad, {}), surge::core::ConfigError);
}
