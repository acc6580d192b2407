// Block copies into partially assembled fields (field_assembly.hpp).
#include "surge/streaming/field_assembly.hpp"

#include <array>
#include <cstring>

namespace surge::streaming::detail {

void scatter_block(const std::byte* src, std::byte* dst, std::size_t elem,
                   const std::vector<std::uint64_t>& shape, const Header& h) {
  if (const auto slab = slab_of(h, shape)) {
    std::memcpy(dst + slab->first * elem, src, (slab->second - slab->first) * elem);
    return;
  }
  const std::size_t nd = shape.size();
  const std::size_t run = h.extent[nd - 1] * elem;
  std::uint64_t rows = 1;
  for (std::size_t d = 0; d + 1 < nd; ++d) rows *= h.extent[d];
  std::array<std::uint64_t, kMaxDims> idx{};  // index of the row within the block
  for (std::uint64_t row = 0; row < rows; ++row) {
    std::uint64_t linear = 0;
    for (std::size_t d = 0; d < nd; ++d) {
      const std::uint64_t i = (d + 1 < nd ? idx[d] : 0) + h.offset[d];
      linear = linear * shape[d] + i;
    }
    std::memcpy(dst + linear * elem, src + row * run, run);
    for (std::size_t d = nd - 1; d-- > 0;) {  // odometer over the leading dimensions
      if (++idx[d] < h.extent[d]) break;
      idx[d] = 0;
    }
  }
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> slab_of(
    const Header& h, const std::vector<std::uint64_t>& shape) {
  std::uint64_t row = 1;  // elements per index of the first axis
  for (std::size_t d = 1; d < shape.size(); ++d) {
    if (h.offset[d] != 0 || h.extent[d] != shape[d]) return std::nullopt;
    row *= shape[d];
  }
  return std::pair{h.offset[0] * row, (h.offset[0] + h.extent[0]) * row};
}

bool WrittenRanges::insert(std::uint64_t begin, std::uint64_t end) {
  auto next = ranges_.lower_bound(begin);
  if (next != ranges_.end() && next->first < end) return false;
  if (next != ranges_.begin() && std::prev(next)->second > begin) return false;
  ranges_.emplace_hint(next, begin, end);
  return true;
}

void WrittenRanges::zero_gaps(std::byte* data, std::size_t elem, std::uint64_t total) const {
  std::uint64_t at = 0;
  for (const auto& [begin, end] : ranges_) {
    if (begin > at) std::memset(data + at * elem, 0, (begin - at) * elem);
    at = end;
  }
  if (total > at) std::memset(data + at * elem, 0, (total - at) * elem);
}

}  // namespace surge::streaming::detail
