// Encoding and stateless validation of protocol messages (PROTOCOL.md).
#include "surge/streaming/protocol.hpp"

#include <cstring>

#include "surge/streaming/checksum.hpp"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the surge wire format is little-endian; a big-endian port needs byte swaps");

namespace surge::streaming {
namespace {
template <class T>
void put(std::byte* out, std::size_t offset, T v) {
  std::memcpy(out + offset, &v, sizeof(T));
}
template <class T>
T get(const std::byte* in, std::size_t offset) {
  T v;
  std::memcpy(&v, in + offset, sizeof(T));
  return v;
}
// a * b, or nothing on overflow.
bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}
}  // namespace

const char* to_string(DType t) noexcept {
  switch (t) {
    case DType::float32:
      return "float32";
    case DType::float64:
      return "float64";
    default:
      return "none";
  }
}

const char* to_string(Rejection r) noexcept {
  switch (r) {
    case Rejection::truncated:
      return "truncated";
    case Rejection::wrong_magic:
      return "wrong_magic";
    case Rejection::wrong_version:
      return "wrong_version";
    case Rejection::oversized:
      return "oversized";
    case Rejection::bad_checksum:
      return "bad_checksum";
    case Rejection::malformed:
      return "malformed";
    case Rejection::bad_ticket:
      return "bad_ticket";
    case Rejection::conflicting_declaration:
      return "conflicting_declaration";
    case Rejection::unknown_simulation:
      return "unknown_simulation";
    case Rejection::outside_shape:
      return "outside_shape";
    case Rejection::duplicate:
      return "duplicate";
    case Rejection::too_many_pending:
      return "too_many_pending";
    case Rejection::after_end:
      return "after_end";
    case Rejection::pending_bytes:
      return "pending_bytes";
    case Rejection::bad_step:
      return "bad_step";
    case Rejection::unauthenticated:
      return "unauthenticated";
  }
  return "unknown";
}

const char* to_string(RefusalReason r) noexcept {
  switch (r) {
    case RefusalReason::wrong_version:
      return "wrong version";
    case RefusalReason::wrong_experiment:
      return "wrong experiment";
    case RefusalReason::unknown_field:
      return "unknown field";
    case RefusalReason::too_large:
      return "too large";
    case RefusalReason::malformed:
      return "malformed announcement";
    case RefusalReason::unknown_simulation:
      return "unknown simulation";
    case RefusalReason::bad_ticket:
      return "bad member ticket";
    case RefusalReason::wrong_announcement:
      return "announcement does not match the study";
  }
  return "unknown reason";
}

const char* key_of(RefusalReason r) noexcept {
  switch (r) {
    case RefusalReason::wrong_version:
      return "wrong_version";
    case RefusalReason::wrong_experiment:
      return "wrong_experiment";
    case RefusalReason::unknown_field:
      return "unknown_field";
    case RefusalReason::too_large:
      return "too_large";
    case RefusalReason::malformed:
      return "malformed";
    case RefusalReason::unknown_simulation:
      return "unknown_simulation";
    case RefusalReason::bad_ticket:
      return "bad_ticket";
    case RefusalReason::wrong_announcement:
      return "wrong_announcement";
  }
  return "unknown";
}

void write_header(const Header& h, std::byte* out) noexcept {
  std::memset(out, 0, kHeaderBytes);
  std::memcpy(out, kMagic.data(), 4);
  put<std::uint16_t>(out, 4, h.version);
  put<std::uint8_t>(out, 6, static_cast<std::uint8_t>(h.kind));
  put<std::uint8_t>(out, 7, static_cast<std::uint8_t>(h.dtype));
  put<std::uint64_t>(out, 8, h.simulation);
  put<std::uint32_t>(out, 16, h.member_rank);
  put<std::uint32_t>(out, 20, h.field_id);
  put<std::int64_t>(out, 24, h.step);
  put<double>(out, 32, h.time);
  put<std::uint32_t>(out, 40, h.ndim);
  put<std::uint32_t>(out, 44, h.parameter_count);
  for (int d = 0; d < kMaxDims; ++d) {
    put<std::uint64_t>(out, 48 + 8 * d, h.offset[d]);
    put<std::uint64_t>(out, 80 + 8 * d, h.extent[d]);
  }
  put<std::uint64_t>(out, 112, h.payload_bytes);
}

Header read_header(const std::byte* in) noexcept {
  Header h;
  h.version = get<std::uint16_t>(in, 4);
  h.kind = static_cast<MessageKind>(get<std::uint8_t>(in, 6));
  h.dtype = static_cast<DType>(get<std::uint8_t>(in, 7));
  h.simulation = get<std::uint64_t>(in, 8);
  h.member_rank = get<std::uint32_t>(in, 16);
  h.field_id = get<std::uint32_t>(in, 20);
  h.step = get<std::int64_t>(in, 24);
  h.time = get<double>(in, 32);
  h.ndim = get<std::uint32_t>(in, 40);
  h.parameter_count = get<std::uint32_t>(in, 44);
  for (int d = 0; d < kMaxDims; ++d) {
    h.offset[d] = get<std::uint64_t>(in, 48 + 8 * d);
    h.extent[d] = get<std::uint64_t>(in, 80 + 8 * d);
  }
  h.payload_bytes = get<std::uint64_t>(in, 112);
  h.checksum = get<std::uint64_t>(in, kChecksumOffset);
  return h;
}

std::uint64_t frame_checksum(const std::byte* header, Bytes params, Bytes payload,
                             std::uint64_t seed) noexcept {
  Xxh3 h(seed);
  h.update(header, kChecksumOffset);
  h.update(params.data(), params.size());
  h.update(payload.data(), payload.size());
  return h.digest();
}

void store_checksum(std::byte* header, std::uint64_t checksum) noexcept {
  put<std::uint64_t>(header, kChecksumOffset, checksum);
}

DecodeResult frame_layout(Bytes head, Bytes body, std::uint64_t max_message_bytes) noexcept {
  DecodeResult r;
  auto reject = [&](Rejection why) {
    r.rejection = why;
    return r;
  };
  if (head.size() < 4) return reject(Rejection::truncated);
  if (std::memcmp(head.data(), kMagic.data(), 4) != 0) return reject(Rejection::wrong_magic);
  if (head.size() < 6) return reject(Rejection::truncated);
  if (get<std::uint16_t>(head.data(), 4) != kProtocolVersion) {
    return reject(Rejection::wrong_version);
  }
  if (head.size() < kHeaderBytes) return reject(Rejection::truncated);
  const std::uint64_t received = std::uint64_t{head.size()} + body.size();
  if (received > max_message_bytes) return reject(Rejection::oversized);

  const Header h = read_header(head.data());
  std::uint64_t param_bytes = std::uint64_t{h.parameter_count} * 8;
  std::uint64_t expected = kHeaderBytes + param_bytes;
  if (__builtin_add_overflow(expected, h.payload_bytes, &expected) ||
      expected > max_message_bytes) {
    return reject(Rejection::oversized);
  }
  if (received < expected) return reject(Rejection::truncated);
  if (received > expected) return reject(Rejection::malformed);  // trailing bytes

  FrameView f;
  f.header = h;
  f.header_bytes = head.subspan(0, kHeaderBytes);
  const std::size_t head_rest = head.size() - kHeaderBytes;
  if (body.empty()) {
    f.parameters = head.subspan(kHeaderBytes, param_bytes);
    f.payload = head.subspan(kHeaderBytes + param_bytes, head_rest - param_bytes);
  } else {
    // Two frames: the split must fall exactly between parameters and payload.
    if (head_rest != param_bytes) return reject(Rejection::malformed);
    f.parameters = head.subspan(kHeaderBytes, param_bytes);
    f.payload = body;
  }
  r.frame = f;
  return r;
}

std::size_t leading_frame_bytes(Bytes message) noexcept {
  if (message.size() < kHeaderBytes || std::memcmp(message.data(), kMagic.data(), 4) != 0 ||
      get<std::uint16_t>(message.data(), 4) != kProtocolVersion) {
    return message.size();
  }
  const std::uint64_t param_bytes = std::uint64_t{get<std::uint32_t>(message.data(), 44)} * 8;
  std::uint64_t size = kHeaderBytes + param_bytes;
  if (__builtin_add_overflow(size, get<std::uint64_t>(message.data(), 112), &size) ||
      size > message.size()) {
    return message.size();
  }
  return static_cast<std::size_t>(size);
}

DecodeResult verify_frame(const FrameView& f, std::uint64_t seed) noexcept {
  DecodeResult r;
  auto reject = [&](Rejection why) {
    r.rejection = why;
    return r;
  };
  const Header& h = f.header;
  if (frame_checksum(f.header_bytes.data(), f.parameters, f.payload, seed) != h.checksum) {
    return reject(Rejection::bad_checksum);
  }

  const auto kind = static_cast<std::uint8_t>(h.kind);
  if (kind < 1 || kind > 7) return reject(Rejection::malformed);
  if (static_cast<std::uint8_t>(h.dtype) > 2) return reject(Rejection::malformed);
  if (h.ndim > kMaxDims) return reject(Rejection::malformed);
  if (h.kind == MessageKind::data) {
    if (h.dtype == DType::none || h.ndim == 0) return reject(Rejection::malformed);
    std::uint64_t elements = 1;
    for (std::uint32_t d = 0; d < h.ndim; ++d) {
      if (mul_overflows(elements, h.extent[d], &elements)) return reject(Rejection::malformed);
    }
    for (std::uint32_t d = h.ndim; d < kMaxDims; ++d) {
      if (h.offset[d] != 0 || h.extent[d] != 0) return reject(Rejection::malformed);
    }
    std::uint64_t bytes = 0;
    if (mul_overflows(elements, dtype_size(h.dtype), &bytes) || bytes != h.payload_bytes) {
      return reject(Rejection::malformed);
    }
  }
  r.frame = f;
  return r;
}

DecodeResult decode_frame(Bytes head, Bytes body, std::uint64_t max_message_bytes,
                          std::uint64_t seed) noexcept {
  const DecodeResult r = frame_layout(head, body, max_message_bytes);
  return r.ok() ? verify_frame(*r.frame, seed) : r;
}

std::vector<std::byte> encode_message(const Header& h, Span<const double> params, Bytes payload,
                                      std::uint64_t seed) {
  std::vector<std::byte> out(kHeaderBytes + params.size_bytes() + payload.size());
  Header hh = h;
  hh.parameter_count = static_cast<std::uint32_t>(params.size());
  hh.payload_bytes = payload.size();
  write_header(hh, out.data());
  if (!params.empty()) std::memcpy(out.data() + kHeaderBytes, params.data(), params.size_bytes());
  if (!payload.empty()) {
    std::memcpy(out.data() + kHeaderBytes + params.size_bytes(), payload.data(), payload.size());
  }
  const Bytes p{out.data() + kHeaderBytes, params.size_bytes()};
  const Bytes b{out.data() + kHeaderBytes + params.size_bytes(), payload.size()};
  store_checksum(out.data(), frame_checksum(out.data(), p, b, seed));
  return out;
}

// ---- byte readers and writers (the handshake's payloads, handshake.cpp) ------------------

bool ByteReader::take(void* out, std::size_t n) noexcept {
  if (failed_ || remaining() < n) {
    failed_ = true;
    std::memset(out, 0, n);
    return false;
  }
  std::memcpy(out, b_.data() + pos_, n);
  pos_ += n;
  return true;
}
std::uint8_t ByteReader::u8() noexcept {
  std::uint8_t v;
  take(&v, 1);
  return v;
}
std::uint32_t ByteReader::u32() noexcept {
  std::uint32_t v;
  take(&v, 4);
  return v;
}
std::uint64_t ByteReader::u64() noexcept {
  std::uint64_t v;
  take(&v, 8);
  return v;
}
std::string ByteReader::string(std::size_t max_bytes) noexcept {
  const std::uint32_t n = u32();
  if (failed_ || n > max_bytes || remaining() < n) {
    failed_ = true;
    return {};
  }
  std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
  pos_ += n;
  return s;
}

void ByteWriter::put(const void* p, std::size_t n) {
  const auto* b = static_cast<const std::byte*>(p);
  out_.insert(out_.end(), b, b + n);
}
void ByteWriter::string(std::string_view s) {
  u32(static_cast<std::uint32_t>(s.size()));
  put(s.data(), s.size());
}

}  // namespace surge::streaming
