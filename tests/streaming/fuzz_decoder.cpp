// libFuzzer target for the streaming decoder (built with -DSURGE_FUZZ=ON and clang++).
// Input byte 0 chooses where to split the rest into two frames (0 = one frame). The
// assembler knows a declared simulation of two ranks, so inputs can reach every stateful
// check (DATA and END only with the key of rank 0 or 1: kKey, server rank 0); the
// invariant checked on every input is that each message is either accepted or counted as
// one rejection kind.
#include <cstddef>
#include <cstdint>

#include "surge/streaming/assembler.hpp"
#include "test_util.hpp"

using namespace surge::streaming;

namespace {
constexpr std::uint64_t kKey = 42;
Assembler& assembler() {
  static Assembler* as = [] {
    auto* a = new Assembler({1 << 16, 64}, kKey, 0);
    for (std::uint32_t r = 0; r < 2; ++r) {
      Announcement ann{"fuzz", 1, r, 2, DType::float64, 2, {{"u", {6, 5}}, {"v", {6, 5}}}};
      (void)a->ingest(test::raw(test::declaration(kKey, 0, ann)), Clock::now());
    }
    return a;
  }();
  return *as;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Assembler& as = assembler();
  const auto* bytes = reinterpret_cast<const std::byte*>(data + 1);
  const std::size_t n = size - 1, split = data[0] % (n + 1);
  RawMessage m;
  if (split == 0) {
    m.head = Bytes(bytes, n);
  } else {
    m.head = Bytes(bytes, split);
    m.body = Bytes(bytes + split, n - split);
  }
  const IngestStats before = as.stats();
  const IngestResult r = as.ingest(m, Clock::now());
  const IngestStats& after = as.stats();
  const bool counted = r.accepted() ? after.accepted == before.accepted + 1
                                    : after.rejected_total() == before.rejected_total() + 1;
  if (!counted || after.messages != before.messages + 1) __builtin_trap();
  return 0;
}
