// The wire format without sockets or state: the XXH3 checksum (xxHash's vectors, incremental
// hashing, what a frame's checksum covers), header byte offsets, announcements, every stateless
// rejection, and the receiver's configuration keys.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <new>
#include <random>
#include <string>

#include "assembler_support.hpp"
#include "surge/streaming/checksum.hpp"
#include "surge/streaming/config.hpp"
#include "surge/streaming/protocol.hpp"

using namespace surge::streaming;
using namespace surge::streaming::test;

// xxHash's own sanity vectors (xxhsum's XSUM_sanityCheck): a buffer filled from PRIME32 by
// repeated multiplication with PRIME64, hashed with seeds 0 and PRIME64. Lengths cover every
// code path of XXH3 (short inputs, 129-240, one block, several blocks, an overlapping last
// stripe), including the vectorised long path the library dispatches at run time.
TEST(StreamingChecksum, KnownXxh3Vectors) {
  constexpr std::uint64_t kPrime32 = 2654435761ULL, kPrime64 = 11400714785074694797ULL;
  std::vector<unsigned char> buffer(2367);
  std::uint64_t gen = kPrime32;
  for (auto& b : buffer) {
    b = static_cast<unsigned char>(gen >> 56);
    gen *= kPrime64;
  }
  EXPECT_EQ(xxh3(nullptr, 0, 0), 0x2D06800538D394C2ULL);
  EXPECT_EQ(xxh3(nullptr, 0, kPrime64), 0xA8A6B918B2F0364AULL);
  const struct {
    std::size_t len;
    std::uint64_t seed0, seed_prime64;
  } vectors[] = {{1, 0xC44BDFF4074EECDBULL, 0x032BE332DD766EF8ULL},
                 {12, 0xA713DAF0DFBB77E7ULL, 0xE7303E1B2336DE0EULL},
                 {48, 0x397DA259ECBA1F11ULL, 0xADC2CBAA44ACC616ULL},
                 {195, 0xCD94217EE362EC3AULL, 0xBA68003D370CB3D9ULL},
                 {403, 0xCDEB804D65C6DEA4ULL, 0x6259F6ECFD6443FDULL},
                 {2048, 0xDD59E2C3A5F038E0ULL, 0x66F81670669ABABCULL},
                 {2367, 0xCB37AEB9E5D361EDULL, 0xD2DB3415B942B42AULL}};
  for (const auto& v : vectors) {
    EXPECT_EQ(xxh3(buffer.data(), v.len, 0), v.seed0) << "length " << v.len;
    EXPECT_EQ(xxh3(buffer.data(), v.len, kPrime64), v.seed_prime64) << "length " << v.len;
  }
}

TEST(StreamingChecksum, IncrementalEqualsOneShotForEverySplit) {
  std::mt19937_64 rng(7);
  std::vector<unsigned char> data(5000);
  for (auto& b : data) b = static_cast<unsigned char>(rng());
  for (std::size_t len : {0, 1, 31, 32, 33, 63, 64, 100, 240, 241, 1000, 1024, 5000}) {
    const std::uint64_t want = xxh3(data.data(), len, 99);
    for (std::size_t cut = 0; cut <= len; cut += 7) {
      Xxh3 h(99);
      h.update(data.data(), cut);
      h.update(data.data() + cut, len - cut);
      EXPECT_EQ(h.digest(), want) << "len " << len << " cut " << cut;
    }
  }
  // A state built where an earlier one of the same seed lay, its secret since overwritten
  // (stack reuse), derives the secret again instead of trusting the stale seed field.
  static_assert(sizeof(Xxh3) == sizeof(XXH3_state_t));
  alignas(Xxh3) unsigned char storage[sizeof(Xxh3)];
  (new (storage) Xxh3(99))->~Xxh3();
  std::memset(storage + offsetof(XXH3_state_t, customSecret), 0xA5, XXH3_SECRET_DEFAULT_SIZE);
  // Keeps the compiler from dropping the stores as made outside any object's lifetime.
  asm volatile("" : : "r"(storage) : "memory");
  auto* reused = new (storage) Xxh3(99);
  reused->update(data.data(), 1000);
  EXPECT_EQ(reused->digest(), xxh3(data.data(), 1000, 99));
  reused->~Xxh3();
  // A reset state hashes like a fresh one.
  Xxh3 h(5);
  h.update(data.data(), 300);
  h.reset(99);
  h.update(data.data(), 1000);
  EXPECT_EQ(h.digest(), xxh3(data.data(), 1000, 99));
}

// The checksum field holds XXH3 64-bit of header bytes 0..119, the parameters and the payload
// (PROTOCOL.md, "Checksum"), and the version on the wire is the one PROTOCOL.md names.
TEST(StreamingChecksum, FrameChecksumIsXxh3OfHeaderParametersAndPayload) {
  Header h;
  h.kind = MessageKind::data;
  h.dtype = DType::float64;
  h.simulation = 9;
  h.ndim = 1;
  h.extent = {100, 0, 0, 0};
  const std::vector<double> params = {1.5, -2.0};
  std::vector<double> payload(100);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = 0.25 * static_cast<double>(i);
  const std::uint64_t seed = member_seed(0xFEEDULL);
  const std::vector<std::byte> m =
      encode_message(h, Span<const double>(params), as_bytes(Span<const double>(payload)), seed);
  EXPECT_EQ(kProtocolVersion, 6);
  EXPECT_EQ(static_cast<int>(m[4]), 6);
  EXPECT_EQ(static_cast<int>(m[5]), 0);
  std::vector<std::byte> hashed(m.begin(), m.begin() + kChecksumOffset);
  hashed.insert(hashed.end(), m.begin() + kHeaderBytes, m.end());
  std::uint64_t stored;
  std::memcpy(&stored, m.data() + kChecksumOffset, 8);
  EXPECT_EQ(stored, xxh3(hashed.data(), hashed.size(), seed));
  EXPECT_TRUE(decode_frame(Bytes(m.data(), m.size()), {}, 1 << 20, seed).ok());
  const DecodeResult other = decode_frame(Bytes(m.data(), m.size()), {}, 1 << 20, seed ^ 1);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.rejection, Rejection::bad_checksum);
}

TEST(StreamingProtocol, HeaderFieldsSitAtTheDocumentedOffsets) {
  Header h;
  h.kind = MessageKind::data;
  h.dtype = DType::float32;
  h.simulation = 0x0102030405060708ULL;
  h.member_rank = 0x11121314;
  h.field_id = 0x21222324;
  h.step = -2;
  h.time = 1.5;
  h.ndim = 3;
  h.parameter_count = 9;
  h.offset = {1, 2, 3, 0};
  h.extent = {4, 5, 6, 0};
  h.payload_bytes = 480;
  std::vector<std::byte> b(kHeaderBytes);
  write_header(h, b.data());
  auto u64_at = [&](std::size_t o) {
    std::uint64_t v;
    std::memcpy(&v, b.data() + o, 8);
    return v;
  };
  auto u32_at = [&](std::size_t o) {
    std::uint32_t v;
    std::memcpy(&v, b.data() + o, 4);
    return v;
  };
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data()), 4), "SRGE");
  EXPECT_EQ(static_cast<int>(b[4]), kProtocolVersion);  // little-endian u16
  EXPECT_EQ(static_cast<int>(b[5]), 0);
  EXPECT_EQ(static_cast<int>(b[6]), 5);
  EXPECT_EQ(static_cast<int>(b[7]), 1);
  EXPECT_EQ(static_cast<int>(b[8]), 0x08);  // little-endian
  EXPECT_EQ(u64_at(8), h.simulation);
  EXPECT_EQ(u32_at(16), h.member_rank);
  EXPECT_EQ(u32_at(20), h.field_id);
  EXPECT_EQ(static_cast<std::int64_t>(u64_at(24)), -2);
  double t;
  std::memcpy(&t, b.data() + 32, 8);
  EXPECT_EQ(t, 1.5);
  EXPECT_EQ(u32_at(40), 3u);
  EXPECT_EQ(u32_at(44), 9u);
  EXPECT_EQ(u64_at(48 + 16), 3u);
  EXPECT_EQ(u64_at(80 + 8), 5u);
  EXPECT_EQ(u64_at(112), 480u);
  EXPECT_EQ(u64_at(120), 0u);
  const Header back = read_header(b.data());
  EXPECT_EQ(back.simulation, h.simulation);
  EXPECT_EQ(back.extent, h.extent);
  EXPECT_EQ(back.time, h.time);
}

TEST(StreamingProtocol, AnnouncementRoundTripsAndRejectsBadInput) {
  const Announcement a = member(3, 1, 4);
  const std::vector<std::byte> b = encode_announcement(a);
  auto back = decode_announcement(Bytes(b.data(), b.size()));
  ASSERT_TRUE(back);
  EXPECT_TRUE(*back == a);
  for (std::size_t n = 0; n < b.size(); ++n) {  // every truncation is refused
    EXPECT_FALSE(decode_announcement(Bytes(b.data(), n))) << n;
  }
  Announcement bad = a;
  bad.member_rank = 4;  // rank >= size
  auto eb = encode_announcement(bad);
  EXPECT_FALSE(decode_announcement(Bytes(eb.data(), eb.size())));
  bad = a;
  bad.fields[1].name = "u";  // duplicate name
  eb = encode_announcement(bad);
  EXPECT_FALSE(decode_announcement(Bytes(eb.data(), eb.size())));
  bad = a;
  bad.fields[0].shape = {3, 0};
  eb = encode_announcement(bad);
  EXPECT_FALSE(decode_announcement(Bytes(eb.data(), eb.size())));
}

// Parameter names travel in the order given; none, or one unique name per parameter.
TEST(StreamingProtocol, AnnouncementCarriesParameterNames) {
  Announcement a = member(3, 1, 4);
  a.parameter_count = 3;
  a.parameter_names = {"tb", "amp", "alpha"};
  std::vector<std::byte> b = encode_announcement(a);
  auto back = decode_announcement(Bytes(b.data(), b.size()));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->parameter_names, a.parameter_names);
  for (std::size_t n = 0; n < b.size(); ++n) {
    EXPECT_FALSE(decode_announcement(Bytes(b.data(), n))) << n;
  }
  Announcement bad = a;
  bad.parameter_names = {"tb", "amp"};  // fewer names than parameters
  b = encode_announcement(bad);
  EXPECT_FALSE(decode_announcement(Bytes(b.data(), b.size())));
  bad.parameter_names = {"tb", "amp", "tb"};  // a name twice
  b = encode_announcement(bad);
  EXPECT_FALSE(decode_announcement(Bytes(b.data(), b.size())));
  bad.parameter_names = {"tb", "", "alpha"};  // an empty name
  b = encode_announcement(bad);
  EXPECT_FALSE(decode_announcement(Bytes(b.data(), b.size())));
}

TEST(StreamingProtocol, DecodeFrameNamesEveryStatelessRejection) {
  const std::vector<double> params = {1.0, 2.0};
  constexpr std::uint64_t kSeed = 0xC0FFEE;
  const auto good = data_message(1, 0, 0, 0, 0, 3, 5, params, kSeed);
  const Bytes g(good.data(), good.size());
  EXPECT_TRUE(decode_frame(g, {}, 1 << 20, kSeed).ok());
  // Checksummed with another seed (the public one, another rank's key): only the layout
  // stage passes.
  EXPECT_EQ(decode_frame(g, {}, 1 << 20, kChecksumSeed).rejection, Rejection::bad_checksum);
  EXPECT_EQ(decode_frame(g, {}, 1 << 20, kSeed ^ 1).rejection, Rejection::bad_checksum);
  ASSERT_TRUE(frame_layout(g, {}, 1 << 20).ok());
  EXPECT_EQ(frame_layout(g, {}, 1 << 20).frame->header.simulation, 1u);

  EXPECT_EQ(decode_frame(Bytes(good.data(), 3), {}, 1 << 20, kSeed).rejection,
            Rejection::truncated);
  EXPECT_EQ(decode_frame(Bytes(good.data(), 100), {}, 1 << 20, kSeed).rejection,
            Rejection::truncated);
  EXPECT_EQ(decode_frame(Bytes(good.data(), good.size() - 1), {}, 1 << 20, kSeed).rejection,
            Rejection::truncated);
  auto m = good;
  m[0] = std::byte{'X'};
  EXPECT_EQ(decode_frame(Bytes(m.data(), m.size()), {}, 1 << 20, kSeed).rejection,
            Rejection::wrong_magic);
  m = good;
  m[4] = std::byte{kProtocolVersion + 1};
  EXPECT_EQ(decode_frame(Bytes(m.data(), m.size()), {}, 1 << 20, kSeed).rejection,
            Rejection::wrong_version);
  EXPECT_EQ(decode_frame(g, {}, 200, kSeed).rejection, Rejection::oversized);
  m = good;
  m.back() ^= std::byte{1};
  EXPECT_EQ(decode_frame(Bytes(m.data(), m.size()), {}, 1 << 20, kSeed).rejection,
            Rejection::bad_checksum);
  m = good;
  m.push_back(std::byte{0});  // trailing byte
  EXPECT_EQ(decode_frame(Bytes(m.data(), m.size()), {}, 1 << 20, kSeed).rejection,
            Rejection::malformed);
  // A header that checksums but lies about the payload size is malformed.
  Header h = read_header(good.data());
  h.extent[1] = 4;
  std::vector<std::byte> payload(good.begin() + kHeaderBytes + 16, good.end());
  m = encode_message(h, Span<const double>(params), Bytes(payload.data(), payload.size()), kSeed);
  EXPECT_EQ(decode_frame(Bytes(m.data(), m.size()), {}, 1 << 20, kSeed).rejection,
            Rejection::malformed);
  // Two frames split exactly after the parameters decode; any other split is malformed.
  const std::size_t split = kHeaderBytes + 16;
  EXPECT_TRUE(decode_frame(Bytes(good.data(), split),
                           Bytes(good.data() + split, good.size() - split), 1 << 20, kSeed)
                  .ok());
  EXPECT_EQ(decode_frame(Bytes(good.data(), split + 8),
                         Bytes(good.data() + split + 8, good.size() - split - 8), 1 << 20, kSeed)
                .rejection,
            Rejection::malformed);
}

TEST(StreamingConfig, EveryKeyIsDocumentedAndRoundTrips) {
  for (const auto& k : surge::core::describe_config<ReceiverConfig>()) {
    EXPECT_FALSE(k.doc.empty()) << k.key;
  }
  for (const auto& k : surge::core::describe_config<ClientConfig>()) {
    EXPECT_FALSE(k.doc.empty()) << k.key;
  }
  ReceiverConfig c;
  c.hwm = 7;
  c.fields = {"u", "v"};
  const auto back = surge::core::read_config<ReceiverConfig>(surge::core::dump_config(c), {});
  EXPECT_EQ(back.hwm, 7);
  EXPECT_EQ(back.fields, c.fields);
  YAML::Node bad = YAML::Load("hwm: 0");
  EXPECT_THROW((void)surge::core::read_config<ReceiverConfig>(bad, {}), surge::core::ConfigError);
  bad = YAML::Load("no_such_key: 1");
  EXPECT_THROW((void)surge::core::read_config<ReceiverConfig>(bad, {}), surge::core::ConfigError);
}
