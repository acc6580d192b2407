#pragma once
// Helpers for the streaming tests (and the server's, which stream too): deterministic field
// values, protocol messages built by hand (declarations, blocks) for driving the Assembler
// without sockets, and a poll for state other threads change.

#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "surge/streaming/assembler.hpp"
#include "surge/streaming/protocol.hpp"

namespace surge::streaming::test {

// Polls `pred` until it holds or `limit` passes; for state that changes on other threads
// without a hook to wait on (counters fed by ZeroMQ's own threads).
template <class P>
bool eventually(P pred, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// A value that depends on every coordinate, so a misplaced or mixed-up element shows.
inline double value_at(std::uint64_t simulation, std::int64_t step, std::uint32_t field,
                       std::uint64_t index) {
  std::uint64_t z = simulation * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(step) * 31 +
                    field * 0xBF58476D1CE4E5B9ULL + index * 0x94D049BB133111EBULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53 * 2.0 - 1.0;
}

// Row-major global field of a 2-D shape.
inline std::vector<double> global_field(std::uint64_t sim, std::int64_t step, std::uint32_t field,
                                        std::uint64_t ny, std::uint64_t nx) {
  std::vector<double> v(ny * nx);
  for (std::uint64_t i = 0; i < v.size(); ++i) v[i] = value_at(sim, step, field, i);
  return v;
}

// Rows [row0, row0 + rows) of the field above.
inline std::vector<double> row_block(std::uint64_t sim, std::int64_t step, std::uint32_t field,
                                     std::uint64_t row0, std::uint64_t rows, std::uint64_t nx) {
  std::vector<double> v(rows * nx);
  for (std::uint64_t i = 0; i < v.size(); ++i) v[i] = value_at(sim, step, field, row0 * nx + i);
  return v;
}

inline std::vector<std::byte> declaration(std::uint64_t key, std::uint32_t server_rank,
                                          const Announcement& a,
                                          MessageKind kind = MessageKind::declare) {
  const std::vector<std::byte> ann = encode_announcement(a);
  ByteWriter w;
  w.u64(admission_ticket(key, server_rank, Bytes(ann.data(), ann.size())));
  w.u32(server_rank);
  w.bytes(Bytes(ann.data(), ann.size()));
  Header h;
  h.kind = kind;
  h.simulation = a.simulation;
  h.member_rank = a.member_rank;
  return encode_message(h, {}, Bytes(w.buffer().data(), w.buffer().size()), kChecksumSeed);
}

// The checksum seed of the DATA and END of the member rank that `a` announces, admitted by a
// front with `key` to `server_rank`.
inline std::uint64_t seed_of(std::uint64_t key, std::uint32_t server_rank, const Announcement& a) {
  const std::vector<std::byte> ann = encode_announcement(a);
  return member_seed(admission_ticket(key, server_rank, Bytes(ann.data(), ann.size())));
}

// A DATA message for a 2-D block of rows, checksummed with `seed` (see seed_of).
inline std::vector<std::byte> data_message(std::uint64_t sim, std::uint32_t rank,
                                           std::uint32_t field, std::int64_t step,
                                           std::uint64_t row0, std::uint64_t rows, std::uint64_t nx,
                                           const std::vector<double>& params, std::uint64_t seed) {
  const std::vector<double> block = row_block(sim, step, field, row0, rows, nx);
  Header h;
  h.kind = MessageKind::data;
  h.dtype = DType::float64;
  h.simulation = sim;
  h.member_rank = rank;
  h.field_id = field;
  h.step = step;
  h.time = 0.5 * static_cast<double>(step);
  h.ndim = 2;
  h.offset = {row0, 0, 0, 0};
  h.extent = {rows, nx, 0, 0};
  return encode_message(
      h, Span<const double>(params),
      Bytes(reinterpret_cast<const std::byte*>(block.data()), block.size() * sizeof(double)), seed);
}

// A message without payload (END; HELLO and the like as strays), checksummed with `seed`.
inline std::vector<std::byte> control_message(MessageKind kind, std::uint64_t sim,
                                              std::uint32_t rank, std::uint64_t seed,
                                              std::int64_t step = 0) {
  Header h;
  h.kind = kind;
  h.simulation = sim;
  h.member_rank = rank;
  h.step = step;
  return encode_message(h, {}, {}, seed);
}

inline RawMessage raw(const std::vector<std::byte>& m) {
  RawMessage r;
  r.head = Bytes(m.data(), m.size());
  return r;
}

inline bool bit_equal(const FieldBuffer& b, const std::vector<double>& expected) {
  return b.size_bytes() == expected.size() * sizeof(double) &&
         std::memcmp(b.data(), expected.data(), b.size_bytes()) == 0;
}

}  // namespace surge::streaming::test
