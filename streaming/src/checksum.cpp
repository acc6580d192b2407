// The frame checksum over libxxhash's XXH3; on x86-64 through the library's run-time
// dispatch (xxh_x86dispatch.h), which picks the widest vector unit of the machine.
#include "surge/streaming/checksum.hpp"

#if defined(__x86_64__) || defined(_M_X64)
#include <xxh_x86dispatch.h>  // redefines XXH3_64bits_withSeed and XXH3_64bits_update
#endif

namespace surge::streaming {

void Xxh3::reset(std::uint64_t seed) noexcept { (void)XXH3_64bits_reset_withSeed(&state_, seed); }

void Xxh3::update(const void* data, std::size_t size) noexcept {
  if (size) (void)XXH3_64bits_update(&state_, data, size);
}

std::uint64_t Xxh3::digest() const noexcept { return XXH3_64bits_digest(&state_); }

std::uint64_t xxh3(const void* data, std::size_t size, std::uint64_t seed) noexcept {
  return XXH3_64bits_withSeed(data, size, seed);
}

}  // namespace surge::streaming
