#pragma once
// Shared pieces of the Assembler tests (test_protocol.cpp, test_assembler*.cpp): a member's
// announcement, the key of its DATA and END, and the rejection of one message.

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "surge/streaming/assembler.hpp"
#include "test_util.hpp"

namespace surge::streaming::test {

// The admission key of the fronts these tests play.
inline constexpr std::uint64_t kKey = 0x1234567890ABCDEFULL;

inline Announcement member(std::uint64_t sim, std::uint32_t rank, std::uint32_t size,
                           std::uint64_t ny = 6, std::uint64_t nx = 5, std::uint32_t nparams = 2) {
  Announcement a;
  a.experiment = "exp";
  a.simulation = sim;
  a.member_rank = rank;
  a.member_size = size;
  a.dtype = DType::float64;
  a.parameter_count = nparams;
  a.fields = {{"u", {ny, nx}}, {"v", {ny, nx}}};
  return a;
}

// The checksum seed of the DATA and END of rank `rank` of `member(sim, rank, size)`.
inline std::uint64_t seed(std::uint64_t sim, std::uint32_t rank, std::uint32_t size) {
  return seed_of(kKey, 0, member(sim, rank, size));
}

inline Rejection rejection_of(Assembler& as, const std::vector<std::byte>& m) {
  IngestResult r = as.ingest(raw(m), Clock::now());
  EXPECT_FALSE(r.accepted());
  return r.rejection.value_or(Rejection::malformed);
}

}  // namespace surge::streaming::test
