#pragma once
// What a receiver hands on: a complete global field of one (simulation, step, field), or
// the end of a simulation. The field's bytes are shared, immutable, and aligned for its dtype.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "surge/streaming/protocol.hpp"
#include "surge/streaming/span.hpp"

namespace surge::streaming {

// Immutable bytes of a field, either a buffer of their own or a view into a received
// message kept alive by `owner` (zero-copy for single-block fields).
class FieldBuffer {
 public:
  FieldBuffer() = default;
  // A zero-initialised buffer of `bytes` bytes (aligned for any dtype). Throws bad_alloc.
  static FieldBuffer allocate(std::size_t bytes);
  // The same without the zero-fill, for a buffer that is written whole before it is read.
  static FieldBuffer allocate_for_overwrite(std::size_t bytes);
  // A view of [data, data + bytes) that keeps `owner` alive.
  static FieldBuffer adopt(const std::byte* data, std::size_t bytes,
                           std::shared_ptr<const void> owner) {
    FieldBuffer b;
    b.owner_ = std::move(owner);
    b.data_ = data;
    b.size_ = bytes;
    return b;
  }
  [[nodiscard]] const std::byte* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size_bytes() const noexcept { return size_; }
  // The elements as T (the caller picks T from the field's dtype).
  template <class T>
  [[nodiscard]] Span<const T> view() const noexcept {
    return {reinterpret_cast<const T*>(data_), size_ / sizeof(T)};
  }
  // Writable bytes; only for a buffer made by allocate() that nobody else holds yet.
  [[nodiscard]] std::byte* writable() const noexcept { return const_cast<std::byte*>(data_); }

 private:
  std::shared_ptr<const void> owner_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// A complete global field.
struct Field {
  std::uint64_t simulation = 0;
  std::uint32_t field_id = 0;
  std::string name;
  std::int64_t step = 0;
  double time = 0.0;
  DType dtype = DType::float64;
  std::vector<std::uint64_t> shape;
  std::vector<double> parameters;  // the member's parameters, from the first block received
  FieldBuffer data;                // row-major, prod(shape) elements of dtype
};

enum class DeliveryKind { field, simulation_end };

// One item handed on by a receiver: a field, or (kind == simulation_end) the news that every
// rank of `simulation` sent END, after all of its fields.
struct Delivery {
  DeliveryKind kind = DeliveryKind::field;
  std::uint64_t simulation = 0;
  Field field;  // valid when kind == field
};

using Clock = std::chrono::steady_clock;

// Liveness of one rank of one member, for launchers looking for silent members.
struct MemberStatus {
  std::uint64_t simulation = 0;
  std::uint32_t member_rank = 0;
  Clock::time_point last_seen{};
  bool ended = false;
};

}  // namespace surge::streaming
