// The stateful decoder (Assembler) without sockets: assembly of multi-rank fields,
// exactly-once delivery, the stateful rejections, the per-rank keys of DATA and END,
// heartbeats, and a relaunched member.
#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <vector>

#include "assembler_support.hpp"

using namespace surge::streaming;
using namespace surge::streaming::test;

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

namespace {
// DATA of rank `rank` of member(3, rank, 3) for field u, step 0: rows [row0, row0 + rows) x
// columns [col0, col0 + cols) of the 6 x 5 global field.
std::vector<std::byte> block_message(std::uint32_t rank, std::uint64_t row0, std::uint64_t rows,
                                     std::uint64_t col0, std::uint64_t cols) {
  const std::vector<double> global = global_field(3, 0, 0, 6, 5);
  std::vector<double> block;
  for (std::uint64_t i = row0; i < row0 + rows; ++i)
    for (std::uint64_t j = col0; j < col0 + cols; ++j) block.push_back(global[i * 5 + j]);
  Header h;
  h.kind = MessageKind::data;
  h.dtype = DType::float64;
  h.simulation = 3;
  h.member_rank = rank;
  h.ndim = 2;
  h.offset = {row0, col0, 0, 0};
  h.extent = {rows, cols, 0, 0};
  const std::vector<double> params = {0.25, 4.0};
  return encode_message(h, Span<const double>(params), as_bytes(Span<const double>(block)),
                        seed(3, rank, 3));
}

// The field a list of blocks (row0, rows, col0, cols) assembles to, written in order into a
// zero-filled 6 x 5 array: what the receiver delivered before it skipped the zero-fill.
std::vector<double> zero_filled(const std::vector<std::array<std::uint64_t, 4>>& blocks) {
  const std::vector<double> global = global_field(3, 0, 0, 6, 5);
  std::vector<double> out(30, 0.0);
  for (const auto& [row0, rows, col0, cols] : blocks)
    for (std::uint64_t i = row0; i < row0 + rows; ++i)
      for (std::uint64_t j = col0; j < col0 + cols; ++j) out[i * 5 + j] = global[i * 5 + j];
  return out;
}
}  // namespace

// Slabs of rows are copied whole into a buffer that is not zero-filled first; a field is
// delivered exactly as if it had been, whatever the order and layout of its blocks: slabs in
// any order, a slab then column blocks, and blocks that overlap (the element count completes
// the field, the cells no block wrote stay zero).
TEST(StreamingAssembler, SlabsAndOtherBlocksAssembleAsIntoAZeroFilledField) {
  using Blocks = std::vector<std::array<std::uint64_t, 4>>;
  const Blocks cases[] = {
      {{4, 2, 0, 5}, {0, 2, 0, 5}, {2, 2, 0, 5}},  // three slabs, out of order
      {{0, 3, 0, 5}, {3, 3, 0, 3}, {3, 3, 3, 2}},  // a slab, then two column blocks
      {{0, 3, 0, 5}, {2, 3, 0, 5}},                // overlapping slabs: row 5 never written
      {{0, 3, 0, 5}, {2, 4, 0, 3}, {3, 3, 4, 1}},  // a slab, an overlapping block: gaps stay 0
      {{3, 3, 0, 2}, {0, 3, 0, 5}, {3, 3, 2, 3}},  // a column block first: zero-filled
  };
  for (const Blocks& blocks : cases) {
    Assembler as({1 << 20, 64}, kKey, 0);
    for (std::uint32_t r = 0; r < 3; ++r)
      ASSERT_TRUE(as.ingest(raw(declaration(kKey, 0, member(3, r, 3))), Clock::now()).accepted());
    std::optional<Delivery> delivered;
    for (std::uint32_t r = 0; r < blocks.size(); ++r) {
      const auto& [row0, rows, col0, cols] = blocks[r];
      IngestResult result = as.ingest(raw(block_message(r, row0, rows, col0, cols)), Clock::now());
      ASSERT_TRUE(result.accepted()) << "block " << r;
      EXPECT_EQ(result.delivery.has_value(), r + 1 == blocks.size()) << "block " << r;
      if (result.delivery) delivered = std::move(result.delivery);
    }
    ASSERT_TRUE(delivered);
    EXPECT_TRUE(bit_equal(delivered->field.data, zero_filled(blocks)))
        << "blocks starting at row " << blocks[0][0] << ", column " << blocks[0][2];
  }
}
