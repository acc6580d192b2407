// The handshake's payloads (PROTOCOL.md, "Handshake"): announcements, HELLO, and the text
// of the steps a member may send.
#include <string>

#include "surge/streaming/protocol.hpp"

namespace surge::streaming {

std::string step_range_text(std::int64_t steps) {
  if (steps <= 0) return "steps 0 and up";
  return "steps 0.." + std::to_string(steps - 1) + " (" + std::to_string(steps) + " per member)";
}

std::vector<std::byte> encode_announcement(const Announcement& a) {
  ByteWriter w;
  w.string(a.experiment);
  w.u64(a.simulation);
  w.u32(a.member_rank);
  w.u32(a.member_size);
  w.u8(static_cast<std::uint8_t>(a.dtype));
  w.u32(a.parameter_count);
  w.u32(static_cast<std::uint32_t>(a.fields.size()));
  for (const FieldSpec& f : a.fields) {
    w.string(f.name);
    w.u32(static_cast<std::uint32_t>(f.shape.size()));
    for (std::uint64_t n : f.shape) w.u64(n);
  }
  w.u32(static_cast<std::uint32_t>(a.parameter_names.size()));
  for (const std::string& name : a.parameter_names) w.string(name);
  return std::move(w.buffer());
}

std::optional<Announcement> decode_announcement(Bytes bytes) {
  ByteReader r(bytes);
  Announcement a;
  a.experiment = r.string(kMaxNameBytes);
  a.simulation = r.u64();
  a.member_rank = r.u32();
  a.member_size = r.u32();
  a.dtype = static_cast<DType>(r.u8());
  a.parameter_count = r.u32();
  const std::uint32_t nfields = r.u32();
  if (r.failed() || a.member_size == 0 || a.member_size > kMaxMemberSize ||
      a.member_rank >= a.member_size || dtype_size(a.dtype) == 0 ||
      a.parameter_count > kMaxParameters || nfields == 0 || nfields > kMaxFields) {
    return std::nullopt;
  }
  for (std::uint32_t i = 0; i < nfields; ++i) {
    FieldSpec f;
    f.name = r.string(kMaxNameBytes);
    const std::uint32_t ndim = r.u32();
    if (r.failed() || f.name.empty() || ndim == 0 || ndim > kMaxDims) return std::nullopt;
    std::uint64_t elements = 1;
    for (std::uint32_t d = 0; d < ndim; ++d) {
      f.shape.push_back(r.u64());
      if (f.shape.back() == 0 || __builtin_mul_overflow(elements, f.shape.back(), &elements)) {
        return std::nullopt;
      }
    }
    if (r.failed() || elements > (std::uint64_t{1} << 60)) return std::nullopt;
    for (const FieldSpec& g : a.fields) {
      if (g.name == f.name) return std::nullopt;  // names are unique
    }
    a.fields.push_back(std::move(f));
  }
  const std::uint32_t nnames = r.u32();
  if (r.failed() || (nnames != 0 && nnames != a.parameter_count)) return std::nullopt;
  for (std::uint32_t i = 0; i < nnames; ++i) {
    std::string name = r.string(kMaxNameBytes);
    if (r.failed() || name.empty()) return std::nullopt;
    for (const std::string& earlier : a.parameter_names) {
      if (earlier == name) return std::nullopt;  // names are unique
    }
    a.parameter_names.push_back(std::move(name));
  }
  if (r.failed() || r.remaining() != 0) return std::nullopt;
  return a;
}

std::vector<std::byte> encode_hello(const Announcement& a, std::string_view member_ticket) {
  ByteWriter w;
  const std::vector<std::byte> announcement = encode_announcement(a);
  w.u32(static_cast<std::uint32_t>(announcement.size()));
  w.bytes(Bytes(announcement.data(), announcement.size()));
  w.string(member_ticket);
  return std::move(w.buffer());
}

std::optional<Hello> decode_hello(Bytes payload) {
  ByteReader r(payload);
  const std::uint32_t n = r.u32();
  if (r.failed() || n > r.remaining()) return std::nullopt;
  Hello h;
  h.announcement_bytes = r.rest().subspan(0, n);
  std::optional<Announcement> a = decode_announcement(h.announcement_bytes);
  if (!a) return std::nullopt;
  h.announcement = std::move(*a);
  ByteReader t(r.rest().subspan(n, r.remaining() - n));
  h.member_ticket = t.string(kMaxMemberTicketBytes);
  if (t.failed() || t.remaining() != 0) return std::nullopt;
  return h;
}

}  // namespace surge::streaming
