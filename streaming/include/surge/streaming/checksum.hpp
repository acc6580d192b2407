#pragma once
// XXH64 (xxHash, 64-bit, by Yann Collet), the frame checksum of the streaming protocol:
// portable, several GB/s, and incremental so that header, parameters and payload that sit in
// different buffers hash as one byte string.

#include <cstddef>
#include <cstdint>

namespace surge::streaming {

class Xxh64 {
 public:
  explicit Xxh64(std::uint64_t seed = 0) noexcept { reset(seed); }
  void reset(std::uint64_t seed) noexcept;
  // Appends `size` bytes to the hashed string.
  void update(const void* data, std::size_t size) noexcept;
  // The hash of everything appended so far (the state is unchanged).
  [[nodiscard]] std::uint64_t digest() const noexcept;

 private:
  std::uint64_t v_[4];
  std::uint64_t total_ = 0;
  unsigned char buffer_[32];
  std::size_t buffered_ = 0;
};

// XXH64 of one buffer.
[[nodiscard]] std::uint64_t xxh64(const void* data, std::size_t size, std::uint64_t seed) noexcept;

}  // namespace surge::streaming
