// The Assembler against hostile input: partial fields bounded in bytes before anything is
// allocated, ended and forgotten simulations, and a seeded mutation test of 100 000+
// corrupted messages.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "assembler_support.hpp"

using namespace surge::streaming;
using namespace surge::streaming::test;

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
  // Issue 32: the receiver's warning names the member, field and step, and the range.
  const IngestResult past =
      as.ingest(raw(data_message(5, 0, 0, 100, 0, 3, 5, params, seed(5, 0, 2))), Clock::now());
  EXPECT_EQ(past.rejection, Rejection::bad_step);
  EXPECT_EQ(past.detail, "simulation 5 rank 0, field 'u', step 100; steps 0..99 (100 per member)");
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
