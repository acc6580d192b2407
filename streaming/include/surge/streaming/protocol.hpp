#pragma once
// The surge streaming wire protocol (streaming/PROTOCOL.md): message kinds, the fixed
// 128-byte little-endian header, the member announcement, and the stateless frame decoder
// that every received message goes through before any state is touched.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "surge/streaming/span.hpp"

namespace surge::streaming {

inline constexpr std::uint16_t kProtocolVersion = 6;
inline constexpr std::array<unsigned char, 4> kMagic = {'S', 'R', 'G', 'E'};
inline constexpr std::size_t kHeaderBytes = 128;
inline constexpr std::size_t kChecksumOffset = 120;
// The public checksum seed: HELLO, WELCOME, REFUSE, DECLARE and HEARTBEAT.
inline constexpr std::uint64_t kChecksumSeed = 0x5355524745ULL;
inline constexpr int kMaxDims = 4;
inline constexpr std::size_t kMaxNameBytes = 256;
inline constexpr std::uint32_t kMaxFields = 256;
inline constexpr std::uint32_t kMaxMemberSize = 1u << 20;
inline constexpr std::uint32_t kMaxParameters = 4096;
// A member ticket (the launcher's per-simulation secret, sent in HELLO) is at most this long.
inline constexpr std::size_t kMaxMemberTicketBytes = 128;

enum class MessageKind : std::uint8_t {
  hello = 1,
  welcome = 2,
  refuse = 3,
  declare = 4,
  data = 5,
  heartbeat = 6,
  end = 7,
};

enum class DType : std::uint8_t { none = 0, float32 = 1, float64 = 2 };

// Bytes per element of `t` (0 for none).
[[nodiscard]] constexpr std::size_t dtype_size(DType t) noexcept {
  return t == DType::float32 ? 4 : t == DType::float64 ? 8 : 0;
}
[[nodiscard]] const char* to_string(DType t) noexcept;

// Why a received message was dropped; each kind has its own counter.
enum class Rejection : std::uint8_t {
  truncated,
  wrong_magic,
  wrong_version,
  oversized,
  bad_checksum,
  malformed,
  bad_ticket,
  conflicting_declaration,
  unknown_simulation,
  outside_shape,
  duplicate,
  too_many_pending,
  after_end,        // DATA or DECLARE of a simulation whose ranks have all sent END
  pending_bytes,    // a new partial field would exceed max_pending_bytes(_per_member)
  bad_step,         // step < 0 or the largest i64 (no successor)
  unauthenticated,  // DATA or END whose checksum does not verify with its rank's keyed seed
};
inline constexpr std::size_t kRejectionKinds = 16;
[[nodiscard]] const char* to_string(Rejection r) noexcept;

// Why the front refused a handshake (sent in REFUSE).
enum class RefusalReason : std::uint32_t {
  wrong_version = 1,
  wrong_experiment = 2,
  unknown_field = 3,
  too_large = 4,
  malformed = 5,
  unknown_simulation = 6,  // tickets on: a simulation the launcher did not start (or revoked)
  bad_ticket = 7,          // tickets on: the member ticket does not match
  wrong_announcement = 8,  // fields, shapes, dtype, parameter count or size not the study's
};
inline constexpr std::size_t kRefusalReasons = 9;  // array size indexed by reason value
[[nodiscard]] const char* to_string(RefusalReason r) noexcept;
// The name of a reason as results.h5 spells it (snake_case).
[[nodiscard]] const char* key_of(RefusalReason r) noexcept;

// The fixed header, decoded. Offsets of each field on the wire are in PROTOCOL.md.
struct Header {
  std::uint16_t version = kProtocolVersion;
  MessageKind kind = MessageKind::data;
  DType dtype = DType::none;
  std::uint64_t simulation = 0;
  std::uint32_t member_rank = 0;
  std::uint32_t field_id = 0;
  std::int64_t step = 0;
  double time = 0.0;
  std::uint32_t ndim = 0;
  std::uint32_t parameter_count = 0;
  std::array<std::uint64_t, kMaxDims> offset{};
  std::array<std::uint64_t, kMaxDims> extent{};
  std::uint64_t payload_bytes = 0;
  std::uint64_t checksum = 0;
};

// Writes `h` (all fields except checksum) into out[0..128); the checksum bytes are zeroed.
void write_header(const Header& h, std::byte* out) noexcept;
// Reads the 128 header bytes at `in` (no validation).
[[nodiscard]] Header read_header(const std::byte* in) noexcept;
// Whether messages of `kind` are checksummed with their sender rank's keyed seed (DATA and
// END, sent after the handshake) rather than with the public kChecksumSeed (PROTOCOL.md).
[[nodiscard]] constexpr bool keyed_kind(MessageKind kind) noexcept {
  return kind == MessageKind::data || kind == MessageKind::end;
}
// The checksum seed of the DATA and END of a member rank whose admission ticket (the
// WELCOME's secret) is `ticket`. The ticket is an XXH3 output, so the XOR spreads it over
// every bit of the seed.
[[nodiscard]] constexpr std::uint64_t member_seed(std::uint64_t ticket) noexcept {
  return kChecksumSeed ^ ticket;
}
// XXH3 (64-bit) seeded with `seed` of header bytes 0..119, then `params`, then `payload`.
[[nodiscard]] std::uint64_t frame_checksum(const std::byte* header, Bytes params, Bytes payload,
                                           std::uint64_t seed) noexcept;
// Stores `checksum` in header bytes 120..127.
void store_checksum(std::byte* header, std::uint64_t checksum) noexcept;

// One field a member streams: its name and global shape.
struct FieldSpec {
  std::string name;
  std::vector<std::uint64_t> shape;
  bool operator==(const FieldSpec& o) const { return name == o.name && shape == o.shape; }
};

// The steps a member may send, as both sides tell the user: "steps 0..9 (10 per member)", or
// "steps 0 and up" when the server sets no bound (`steps` 0).
[[nodiscard]] std::string step_range_text(std::int64_t steps);

// What a member says about itself at the handshake.
struct Announcement {
  std::string experiment;
  std::uint64_t simulation = 0;
  std::uint32_t member_rank = 0;
  std::uint32_t member_size = 1;
  DType dtype = DType::float64;
  std::uint32_t parameter_count = 0;
  std::vector<FieldSpec> fields;
  // The parameters' names in the order the member sends their values: empty (the member does
  // not say) or parameter_count unique names.
  std::vector<std::string> parameter_names;
  bool operator==(const Announcement& o) const {
    return experiment == o.experiment && simulation == o.simulation &&
           member_rank == o.member_rank && member_size == o.member_size && dtype == o.dtype &&
           parameter_count == o.parameter_count && fields == o.fields &&
           parameter_names == o.parameter_names;
  }
};

// Encodes an announcement (PROTOCOL.md, "Handshake").
[[nodiscard]] std::vector<std::byte> encode_announcement(const Announcement& a);
// Decodes and checks an announcement; empty if malformed (bad lengths, limits, shapes).
[[nodiscard]] std::optional<Announcement> decode_announcement(Bytes bytes);

// The payload of HELLO: the announcement, then the member ticket (PROTOCOL.md, "Handshake").
struct Hello {
  Announcement announcement;
  Bytes announcement_bytes;  // the announcement's bytes inside the decoded payload
  std::string member_ticket;
};
[[nodiscard]] std::vector<std::byte> encode_hello(const Announcement& a,
                                                  std::string_view member_ticket);
// Decodes a HELLO payload; empty if malformed.
[[nodiscard]] std::optional<Hello> decode_hello(Bytes payload);

// A validated message: the header plus views of its parameters and payload, which point
// into the buffers given to decode_frame.
struct FrameView {
  Header header;
  Bytes header_bytes;  // the 128 header bytes
  Bytes parameters;    // parameter_count * 8 bytes (little-endian f64)
  Bytes payload;
};

// The outcome of decode_frame: a frame or a rejection kind.
struct DecodeResult {
  std::optional<FrameView> frame;
  Rejection rejection = Rejection::malformed;  // meaningful when !frame
  [[nodiscard]] bool ok() const noexcept { return frame.has_value(); }
};

// Decoding is two stateless stages, so that a receiver can choose the checksum seed from the
// header (DATA and END: the sender rank's key) before it trusts anything else:
// 1. frame_layout: size, magic, version, size limit, and the sizes the header announces
//    against the bytes received (trailing bytes, where two frames split). It reads the
//    header and points into the buffers; the checksum is not verified yet.
[[nodiscard]] DecodeResult frame_layout(Bytes head, Bytes body,
                                        std::uint64_t max_message_bytes) noexcept;
// 2. verify_frame: the checksum with `seed` (bad_checksum), then the header's own
//    consistency (kind, dtype, ndim, payload size against the extents: malformed).
[[nodiscard]] DecodeResult verify_frame(const FrameView& f, std::uint64_t seed) noexcept;
// The size of the first frame of a single-frame ZeroMQ message that may hold several frames
// back to back (a batch, PROTOCOL.md "Batches"): the size its header announces, when the
// message is long enough to hold a header of this version whose announced size fits in
// `message`; otherwise message.size(), so that decoding the whole rest rejects it with the
// right kind. Reads the header only; never throws.
[[nodiscard]] std::size_t leading_frame_bytes(Bytes message) noexcept;
// Both stages: validates one message given as its first frame `head` and optional second
// frame `body` (empty for single-frame messages). Touches no state; never throws.
[[nodiscard]] DecodeResult decode_frame(Bytes head, Bytes body, std::uint64_t max_message_bytes,
                                        std::uint64_t seed) noexcept;

// Builds a complete single-frame message (header + parameters + payload, checksummed with
// `seed`: kChecksumSeed, or member_seed(ticket) for DATA and END).
[[nodiscard]] std::vector<std::byte> encode_message(const Header& h, Span<const double> params,
                                                    Bytes payload, std::uint64_t seed);

// Little-endian reader over a byte string, for announcements and replies; every read
// checks the bounds and sets failed() instead of reading past the end.
class ByteReader {
 public:
  explicit ByteReader(Bytes b) noexcept : b_(b) {}
  std::uint8_t u8() noexcept;
  std::uint32_t u32() noexcept;
  std::uint64_t u64() noexcept;
  std::string string(std::size_t max_bytes) noexcept;
  [[nodiscard]] bool failed() const noexcept { return failed_; }
  [[nodiscard]] std::size_t remaining() const noexcept { return b_.size() - pos_; }
  [[nodiscard]] Bytes rest() const noexcept { return b_.subspan(pos_, b_.size() - pos_); }

 private:
  bool take(void* out, std::size_t n) noexcept;
  Bytes b_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

// Little-endian writer, the counterpart of ByteReader.
class ByteWriter {
 public:
  void u8(std::uint8_t v) { put(&v, 1); }
  void u32(std::uint32_t v) { put(&v, 4); }
  void u64(std::uint64_t v) { put(&v, 8); }
  void string(std::string_view s);
  void bytes(Bytes b) { put(b.data(), b.size()); }
  [[nodiscard]] std::vector<std::byte>& buffer() noexcept { return out_; }

 private:
  void put(const void* p, std::size_t n);
  std::vector<std::byte> out_;
};

}  // namespace surge::streaming
