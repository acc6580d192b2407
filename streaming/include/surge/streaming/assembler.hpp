#pragma once
// The receiver's state machine, separate from any socket: it validates each message
// (frame_layout, then the checksum with the seed the sender must use: its rank's key for
// DATA and END; then the checks that need state: declared simulations, global shapes,
// duplicates), assembles per-rank blocks into global fields, and counts every rejection by
// kind. The receiver's I/O thread drives it; the mutation tests and the fuzz target drive it
// directly.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "surge/streaming/field.hpp"
#include "surge/streaming/field_assembly.hpp"
#include "surge/streaming/protocol.hpp"

namespace surge::streaming {

// Counters of one receiver; every message ends up in exactly one of `accepted` or
// `rejected[kind]`.
struct IngestStats {
  std::uint64_t messages = 0;          // messages ingested
  std::uint64_t bytes = 0;             // their bytes
  std::uint64_t accepted = 0;          // messages accepted (any kind)
  std::uint64_t blocks = 0;            // DATA blocks accepted
  std::uint64_t fields = 0;            // complete fields handed on
  std::uint64_t zero_copy_fields = 0;  // of which handed on in the received buffer, uncopied
  std::uint64_t declarations = 0;      // DECLARE accepted (re-declarations included)
  std::uint64_t heartbeats = 0;        // HEARTBEAT accepted
  std::uint64_t ends = 0;              // END accepted
  std::uint64_t simulations_ended = 0;
  std::uint64_t incomplete_fields = 0;  // partial fields freed when their simulation ended
  std::array<std::uint64_t, kRejectionKinds> rejected{};

  [[nodiscard]] std::uint64_t rejected_total() const noexcept {
    std::uint64_t n = 0;
    for (std::uint64_t r : rejected) n += r;
    return n;
  }
  [[nodiscard]] std::uint64_t rejected_of(Rejection r) const noexcept {
    return rejected[static_cast<std::size_t>(r)];
  }
};

// One received ZeroMQ message: its first frame and optional second frame, with the objects
// that own their bytes (so a single-block field can be handed on without a copy).
struct RawMessage {
  Bytes head;
  Bytes body;
  std::shared_ptr<const void> head_owner;
  std::shared_ptr<const void> body_owner;
};

// The outcome of one ingest: accepted (maybe completing a delivery) or rejected.
struct IngestResult {
  MessageKind kind = MessageKind::data;  // meaningful when accepted
  std::optional<Rejection> rejection;
  // What the rejected message was, where the kind alone would not tell the user which member
  // to fix (bad_step: "simulation 3 rank 0, field 'u', step 10; steps 0..9").
  std::string detail;
  std::optional<Delivery> delivery;
  [[nodiscard]] bool accepted() const noexcept { return !rejection; }
};

struct AssemblerLimits {
  std::uint64_t max_message_bytes = std::uint64_t{256} << 20;
  std::uint32_t max_pending_fields = 4096;
  std::uint64_t max_pending_bytes = std::uint64_t{1} << 30;  // all partial fields
  std::uint64_t max_pending_bytes_per_member = std::uint64_t{256} << 20;
  std::uint32_t member_size = 0;  // ranks a member must declare; 0: any
  std::int64_t steps = 0;         // DATA steps must be below; 0: any (bounds the step sets)
};

// The ticket a front gives a member rank assigned to `server_rank` (PROTOCOL.md).
[[nodiscard]] std::uint64_t admission_ticket(std::uint64_t admission_key, std::uint32_t server_rank,
                                             Bytes announcement) noexcept;

class Assembler {
 public:
  // `admission_key` is the secret shared with the front; `server_rank` is this receiver's.
  Assembler(AssemblerLimits limits, std::uint64_t admission_key, std::uint32_t server_rank);

  // Validates and applies one DECLARE, DATA, HEARTBEAT or END message received at `now`.
  // Never throws on bad input (only bad_alloc); a rejected message changes nothing but the
  // counters.
  [[nodiscard]] IngestResult ingest(const RawMessage& message, Clock::time_point now);

  // Counts a message rejected before it could be ingested (e.g. more than two frames).
  void count_rejection(Rejection why) noexcept {
    ++stats_.messages;
    ++stats_.rejected[static_cast<std::size_t>(why)];
  }

  [[nodiscard]] const IngestStats& stats() const noexcept { return stats_; }
  // Liveness of every declared member rank.
  [[nodiscard]] std::vector<MemberStatus> members() const;
  // Partial fields currently held, and their bytes.
  [[nodiscard]] std::size_t pending_fields() const noexcept { return pending_.size(); }
  [[nodiscard]] std::uint64_t pending_bytes() const noexcept { return pending_bytes_; }
  // Simulations declared and not yet ended on every rank.
  [[nodiscard]] std::size_t open_simulations() const noexcept;

  // Frees everything held for `simulation` (its member was redrawn or given up) but its id:
  // later messages of it are rejected as after_end. Returns the partial fields dropped.
  std::size_t forget(std::uint64_t simulation);

 private:
  // Steps already handed on for one (simulation, field), as disjoint half-open intervals.
  class StepSet {
   public:
    [[nodiscard]] bool contains(std::int64_t step) const;
    void insert(std::int64_t step);

   private:
    std::map<std::int64_t, std::int64_t> runs_;  // first -> one past last
  };
  struct Simulation {
    Announcement declaration;  // member_rank of the first declaring rank
    std::vector<bool> declared, ended;
    std::vector<std::uint64_t> tickets;  // per declared rank: its DATA/END checksum key
    std::vector<Clock::time_point> last_seen;
    std::vector<StepSet> completed;  // per field
    std::uint32_t ranks_ended = 0;
    std::uint64_t pending_bytes = 0;  // of its partial fields
    // Every rank ended: only the declaration and `completed` are kept (the per-rank tables
    // are freed); its messages are after_end until a relaunched member declares again.
    bool closed = false;
    Clock::time_point closed_at{};
  };
  struct Key {
    std::uint64_t simulation;
    std::uint32_t field;
    std::int64_t step;
    bool operator==(const Key& o) const {
      return simulation == o.simulation && field == o.field && step == o.step;
    }
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept;
  };
  struct Pending {
    FieldBuffer buffer;
    // Zero-filled at allocation; otherwise only disjoint slabs have been written, those in
    // `written` (the first block was a slab, see field_assembly.hpp).
    bool zeroed = true;
    detail::WrittenRanges written;
    std::vector<bool> ranks;
    std::uint64_t covered = 0;  // elements received
    double time = 0.0;
    std::vector<double> parameters;
  };

  IngestResult reject(Rejection why);
  // The verified ticket of a DECLARE or HEARTBEAT (its payload), and its announcement.
  std::optional<Rejection> admit(const FrameView& f, std::uint64_t* ticket, Announcement* a) const;
  IngestResult on_declare(const FrameView& f, Clock::time_point now, bool heartbeat);
  IngestResult on_data(const FrameView& f, const RawMessage& m, Clock::time_point now);
  IngestResult on_end(const FrameView& f, Clock::time_point now);
  // Drops the partial fields of `simulation` (and their bytes); returns how many.
  std::size_t drop_pending(std::uint64_t simulation, Simulation& s);
  static void close(Simulation& s, Clock::time_point now);

  AssemblerLimits limits_;
  std::uint64_t admission_key_;
  std::uint32_t server_rank_;
  IngestStats stats_;
  std::unordered_map<std::uint64_t, Simulation> simulations_;
  std::unordered_map<Key, Pending, KeyHash> pending_;
  std::uint64_t pending_bytes_ = 0;
  std::unordered_set<std::uint64_t> forgotten_;  // redrawn members: only their ids
};

}  // namespace surge::streaming
