#pragma once
// Internal to the receiver (namespace detail): writing a member rank's block into the buffer of a
// partially assembled field. Blocks that are slabs of the first axis (whole rows of a
// row-decomposed member) are contiguous in the field: one copy each, into a buffer that is not
// zero-filled first as long as such slabs are all it receives and they do not overlap.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "surge/streaming/protocol.hpp"

namespace surge::streaming::detail {

// Copies a row-major block (offsets and extents from `h`) into a row-major global array of
// `shape`: one memcpy per run along the last dimension, or one in all for a slab.
void scatter_block(const std::byte* src, std::byte* dst, std::size_t elem,
                   const std::vector<std::uint64_t>& shape, const Header& h);

// The element range [begin, end) of a block that spans every dimension but the first (a slab,
// contiguous in the field); empty for any other block.
[[nodiscard]] std::optional<std::pair<std::uint64_t, std::uint64_t>> slab_of(
    const Header& h, const std::vector<std::uint64_t>& shape);

// The element ranges written so far into a field buffer that was not zero-filled.
class WrittenRanges {
 public:
  // Records [begin, end); false (and nothing recorded) if it overlaps a recorded range.
  [[nodiscard]] bool insert(std::uint64_t begin, std::uint64_t end);
  // Zero-fills the elements of `elem` bytes in [0, total) outside the recorded ranges.
  void zero_gaps(std::byte* data, std::size_t elem, std::uint64_t total) const;
  void clear() { ranges_.clear(); }

 private:
  std::map<std::uint64_t, std::uint64_t> ranges_;  // begin -> end, disjoint
};

}  // namespace surge::streaming::detail
