#pragma once
// XXH3 (xxHash's 64-bit XXH3, seeded), the frame checksum of the streaming protocol, from
// Debian's libxxhash: on x86-64 it picks SSE2, AVX2 or AVX-512 at run time. Incremental, so
// that header, parameters and payload that sit in different buffers hash as one byte string.

#include <cstddef>
#include <cstdint>

#ifndef XXH_STATIC_LINKING_ONLY
#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t by value: no allocation per message
#endif
#include <xxhash.h>

namespace surge::streaming {

class Xxh3 {
 public:
  // The seed field is cleared first: libxxhash's seeded reset skips deriving the secret when
  // the state's seed already equals the new one, which holds only for a state it filled.
  explicit Xxh3(std::uint64_t seed = 0) noexcept {
    XXH3_INITSTATE(&state_);
    reset(seed);
  }
  Xxh3(const Xxh3&) = delete;  // the state points into itself
  Xxh3& operator=(const Xxh3&) = delete;
  void reset(std::uint64_t seed) noexcept;
  // Appends `size` bytes to the hashed string.
  void update(const void* data, std::size_t size) noexcept;
  // The hash of everything appended so far (the state is unchanged).
  [[nodiscard]] std::uint64_t digest() const noexcept;

 private:
  XXH3_state_t state_;
};

// XXH3 64-bit of one buffer with `seed`: equal to Xxh3(seed) fed the same bytes in any split.
[[nodiscard]] std::uint64_t xxh3(const void* data, std::size_t size, std::uint64_t seed) noexcept;

}  // namespace surge::streaming
