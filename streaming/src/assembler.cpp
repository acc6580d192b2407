// Block assembly, exactly-once bookkeeping and rejection counting (PROTOCOL.md, "Data",
// "End of simulation", "Rejections").
#include "surge/streaming/assembler.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "surge/streaming/checksum.hpp"
#include "surge/streaming/field_assembly.hpp"

namespace surge::streaming {

FieldBuffer FieldBuffer::allocate(std::size_t bytes) {
  std::shared_ptr<std::byte[]> owner(new std::byte[bytes == 0 ? 1 : bytes]());
  const std::byte* data = owner.get();
  return adopt(data, bytes, std::shared_ptr<const void>(owner, data));
}

FieldBuffer FieldBuffer::allocate_for_overwrite(std::size_t bytes) {
  std::shared_ptr<std::byte[]> owner(new std::byte[bytes == 0 ? 1 : bytes]);
  const std::byte* data = owner.get();
  return adopt(data, bytes, std::shared_ptr<const void>(owner, data));
}

std::uint64_t admission_ticket(std::uint64_t admission_key, std::uint32_t server_rank,
                               Bytes announcement) noexcept {
  Xxh3 h(admission_key);
  h.update(&server_rank, 4);
  h.update(announcement.data(), announcement.size());
  return h.digest();
}

bool Assembler::StepSet::contains(std::int64_t step) const {
  auto it = runs_.upper_bound(step);
  if (it == runs_.begin()) return false;
  --it;
  return step < it->second;
}

void Assembler::StepSet::insert(std::int64_t step) {
  // Merge with the run ending at `step` and the run starting at step + 1; steps usually
  // arrive in order, so the set stays one run per field.
  auto next = runs_.find(step + 1);
  auto it = runs_.upper_bound(step);
  if (it != runs_.begin()) {
    auto prev = std::prev(it);
    if (prev->second == step) {
      prev->second = step + 1;
      if (next != runs_.end()) {
        prev->second = next->second;
        runs_.erase(next);
      }
      return;
    }
  }
  if (next != runs_.end()) {
    const std::int64_t last = next->second;
    runs_.erase(next);
    runs_.emplace(step, last);
  } else {
    runs_.emplace(step, step + 1);
  }
}

std::size_t Assembler::KeyHash::operator()(const Key& k) const noexcept {
  std::uint64_t h = k.simulation * 0x9E3779B97F4A7C15ULL;
  h ^= (static_cast<std::uint64_t>(k.step) + 0x632BE59BD9B4E019ULL + (h << 6) + (h >> 2));
  h ^= (std::uint64_t{k.field} + 0x85EBCA77C2B2AE63ULL + (h << 6) + (h >> 2));
  return static_cast<std::size_t>(h);
}

Assembler::Assembler(AssemblerLimits limits, std::uint64_t admission_key, std::uint32_t server_rank)
    : limits_(limits), admission_key_(admission_key), server_rank_(server_rank) {}

IngestResult Assembler::reject(Rejection why) {
  ++stats_.rejected[static_cast<std::size_t>(why)];
  IngestResult r;
  r.rejection = why;
  return r;
}

IngestResult Assembler::ingest(const RawMessage& m, Clock::time_point now) {
  ++stats_.messages;
  stats_.bytes += m.head.size() + m.body.size();
  const DecodeResult layout = frame_layout(m.head, m.body, limits_.max_message_bytes);
  if (!layout.ok()) return reject(layout.rejection);
  // DATA and END are checksummed with the key of their (simulation, rank), which only the
  // admitted member knows (PROTOCOL.md, "Checksum"): only the header is read before it
  // verifies. A rank with no key here has nothing to accept anyway.
  const Header& head = layout.frame->header;
  std::uint64_t seed = kChecksumSeed;
  const bool keyed = keyed_kind(head.kind);
  if (keyed) {
    auto it = simulations_.find(head.simulation);
    if (forgotten_.count(head.simulation) || (it != simulations_.end() && it->second.closed)) {
      return reject(Rejection::after_end);
    }
    if (it == simulations_.end() || head.member_rank >= it->second.declared.size() ||
        !it->second.declared[head.member_rank]) {
      return reject(Rejection::unknown_simulation);
    }
    seed = member_seed(it->second.tickets[head.member_rank]);
  }
  const DecodeResult d = verify_frame(*layout.frame, seed);
  if (!d.ok()) {
    // With a keyed seed a mismatch cannot tell forgery from corruption; the kind says which
    // check failed.
    return reject(keyed && d.rejection == Rejection::bad_checksum ? Rejection::unauthenticated
                                                                  : d.rejection);
  }
  const FrameView& f = *d.frame;
  IngestResult r;
  switch (f.header.kind) {
    case MessageKind::declare:
      r = on_declare(f, now, false);
      break;
    case MessageKind::data:
      r = on_data(f, m, now);
      break;
    case MessageKind::end:
      r = on_end(f, now);
      break;
    case MessageKind::heartbeat: {
      // A heartbeat carries the declaration too, so one that overtakes the DECLARE (it
      // travels on its own connection) admits the member rather than being rejected.
      auto it = simulations_.find(f.header.simulation);
      if (it != simulations_.end() && it->second.closed) {
        // The heartbeat thread of a member may still beat after its END: harmless, once its
        // ticket shows it is the member's.
        std::uint64_t ticket = 0;
        Announcement declared;
        if (const std::optional<Rejection> why = admit(f, &ticket, &declared)) {
          r = reject(*why);
          break;
        }
        it->second.closed_at = now;
        ++stats_.heartbeats;
        break;
      }
      if (forgotten_.count(f.header.simulation)) {
        r = reject(Rejection::after_end);
        break;
      }
      if (it != simulations_.end() && f.header.member_rank < it->second.declared.size() &&
          it->second.declared[f.header.member_rank]) {
        // The rank's verified ticket is known: the heartbeat must carry it.
        ByteReader reader(f.payload);
        if (reader.u64() != it->second.tickets[f.header.member_rank] || reader.failed()) {
          r = reject(Rejection::bad_ticket);
          break;
        }
        it->second.last_seen[f.header.member_rank] = now;
        ++stats_.heartbeats;
      } else {
        r = on_declare(f, now, true);
      }
      break;
    }
    default:
      return reject(Rejection::malformed);  // handshake kinds belong to the front
  }
  if (r.accepted()) {
    r.kind = f.header.kind;
    ++stats_.accepted;
  }
  return r;
}

std::optional<Rejection> Assembler::admit(const FrameView& f, std::uint64_t* ticket,
                                          Announcement* a) const {
  ByteReader reader(f.payload);
  *ticket = reader.u64();
  const std::uint32_t server_rank = reader.u32();
  if (reader.failed()) return Rejection::malformed;
  const Bytes body = reader.rest();
  std::optional<Announcement> decoded = decode_announcement(body);
  if (!decoded || decoded->simulation != f.header.simulation ||
      decoded->member_rank != f.header.member_rank) {
    return Rejection::malformed;
  }
  if (server_rank != server_rank_ ||
      *ticket != admission_ticket(admission_key_, server_rank, body)) {
    return Rejection::bad_ticket;
  }
  *a = std::move(*decoded);
  return std::nullopt;
}

IngestResult Assembler::on_declare(const FrameView& f, Clock::time_point now, bool heartbeat) {
  std::uint64_t ticket = 0;
  Announcement declared;
  if (const std::optional<Rejection> why = admit(f, &ticket, &declared)) return reject(*why);
  const Announcement* a = &declared;
  // Per-rank tables are sized by member_size: only the study's size is worth allocating.
  if (limits_.member_size != 0 && a->member_size != limits_.member_size) {
    return reject(Rejection::malformed);
  }
  if (forgotten_.count(a->simulation)) return reject(Rejection::after_end);
  auto it = simulations_.find(a->simulation);
  if (it != simulations_.end()) {
    Announcement known = it->second.declaration;
    known.member_rank = a->member_rank;
    if (!(known == *a)) return reject(Rejection::conflicting_declaration);
    Simulation& s = it->second;
    if (s.closed) {
      // A member relaunched after its end (it had ended its stream too early): the front
      // admitted it again, the steps it delivered stay delivered.
      s.closed = false;
      s.declared.assign(a->member_size, false);
      s.ended.assign(a->member_size, false);
      s.tickets.assign(a->member_size, 0);
      s.last_seen.assign(a->member_size, Clock::time_point{});
      s.ranks_ended = 0;
    }
  } else {
    Simulation s;
    s.declared.assign(a->member_size, false);
    s.ended.assign(a->member_size, false);
    s.tickets.assign(a->member_size, 0);
    s.last_seen.assign(a->member_size, Clock::time_point{});
    s.completed.resize(a->fields.size());
    s.declaration = *a;
    it = simulations_.emplace(a->simulation, std::move(s)).first;
  }
  Simulation& s = it->second;
  s.declared[a->member_rank] = true;
  s.tickets[a->member_rank] = ticket;
  s.last_seen[a->member_rank] = now;
  if (heartbeat) {
    ++stats_.heartbeats;
    return {};
  }
  if (s.ended[a->member_rank]) {  // a relaunched rank: the simulation is open again
    s.ended[a->member_rank] = false;
    --s.ranks_ended;
  }
  ++stats_.declarations;
  return {};
}

IngestResult Assembler::on_data(const FrameView& f, const RawMessage& m, Clock::time_point now) {
  const Header& h = f.header;
  // ingest() found the rank declared, its simulation open, and checked the rank's key.
  Simulation& s = simulations_.at(h.simulation);
  if (s.ended[h.member_rank]) return reject(Rejection::after_end);
  // Steps are frame indices; the largest i64 has no successor for the step set's runs, and
  // steps past a member's frames would only grow them.
  const Announcement& a = s.declaration;
  if (h.step < 0 || h.step == std::numeric_limits<std::int64_t>::max() ||
      (limits_.steps > 0 && h.step >= limits_.steps)) {
    IngestResult r = reject(Rejection::bad_step);
    r.detail = "simulation " + std::to_string(h.simulation) + " rank " +
               std::to_string(h.member_rank) + ", field " +
               (h.field_id < a.fields.size() ? "'" + a.fields[h.field_id].name + "'"
                                             : "id " + std::to_string(h.field_id)) +
               ", step " + std::to_string(h.step) + "; " + step_range_text(limits_.steps);
    return r;
  }
  if (h.field_id >= a.fields.size() || h.dtype != a.dtype ||
      h.parameter_count != a.parameter_count || h.ndim != a.fields[h.field_id].shape.size()) {
    return reject(Rejection::malformed);
  }
  const std::vector<std::uint64_t>& shape = a.fields[h.field_id].shape;
  std::uint64_t block_elements = 1, total = 1;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    // offset + extent <= shape, written so that it cannot overflow
    if (h.extent[d] > shape[d] || h.offset[d] > shape[d] - h.extent[d]) {
      return reject(Rejection::outside_shape);
    }
    block_elements *= h.extent[d];
    total *= shape[d];
  }
  if (s.completed[h.field_id].contains(h.step)) return reject(Rejection::duplicate);
  const Key key{h.simulation, h.field_id, h.step};
  auto pit = pending_.find(key);
  if (pit != pending_.end()) {
    Pending& p = pit->second;
    if (p.ranks[h.member_rank]) return reject(Rejection::duplicate);
    if (block_elements > total - p.covered) return reject(Rejection::outside_shape);
  } else if (block_elements < total) {
    if (pending_.size() >= limits_.max_pending_fields) return reject(Rejection::too_many_pending);
    // The buffer of a new partial field is allocated (and zeroed) whole: bound it first.
    const std::uint64_t bytes = total * dtype_size(h.dtype);
    if (bytes > limits_.max_pending_bytes - std::min(limits_.max_pending_bytes, pending_bytes_) ||
        bytes > limits_.max_pending_bytes_per_member -
                    std::min(limits_.max_pending_bytes_per_member, s.pending_bytes)) {
      return reject(Rejection::pending_bytes);
    }
  }

  const std::size_t elem = dtype_size(h.dtype);
  s.last_seen[h.member_rank] = now;
  ++stats_.blocks;
  auto params = [&] {
    std::vector<double> v(h.parameter_count);
    if (!v.empty()) std::memcpy(v.data(), f.parameters.data(), f.parameters.size());
    return v;
  };
  auto complete = [&](FieldBuffer data, double time, std::vector<double> parameters) {
    s.completed[h.field_id].insert(h.step);
    ++stats_.fields;
    IngestResult r;
    Delivery dl;
    dl.kind = DeliveryKind::field;
    dl.simulation = h.simulation;
    Field& out = dl.field;
    out.simulation = h.simulation;
    out.field_id = h.field_id;
    out.name = a.fields[h.field_id].name;
    out.step = h.step;
    out.time = time;
    out.dtype = h.dtype;
    out.shape = shape;
    out.parameters = std::move(parameters);
    out.data = std::move(data);
    r.delivery = std::move(dl);
    return r;
  };

  if (pit == pending_.end() && block_elements == total) {
    // The whole field in one block: hand the received bytes on without a copy when they
    // are aligned for the dtype, else copy them once.
    const bool in_body = !m.body.empty();
    const std::shared_ptr<const void>& owner = in_body ? m.body_owner : m.head_owner;
    FieldBuffer data;
    if (owner && reinterpret_cast<std::uintptr_t>(f.payload.data()) % elem == 0) {
      data = FieldBuffer::adopt(f.payload.data(), f.payload.size(), owner);
      ++stats_.zero_copy_fields;
    } else {
      data = FieldBuffer::allocate_for_overwrite(f.payload.size());
      std::memcpy(data.writable(), f.payload.data(), f.payload.size());
    }
    return complete(std::move(data), h.time, params());
  }

  const auto slab = detail::slab_of(h, shape);
  if (pit == pending_.end()) {
    Pending p;
    // A field whose blocks are disjoint slabs is written whole by them: no zero-fill first.
    p.zeroed = !slab;
    p.buffer = slab ? FieldBuffer::allocate_for_overwrite(total * elem)
                    : FieldBuffer::allocate(total * elem);
    pending_bytes_ += total * elem;
    s.pending_bytes += total * elem;
    p.ranks.assign(a.member_size, false);
    p.time = h.time;
    p.parameters = params();
    pit = pending_.emplace(key, std::move(p)).first;
  }
  Pending& p = pit->second;
  if (!p.zeroed && !(slab && p.written.insert(slab->first, slab->second))) {
    // Another layout, or an overlap: what no block has written yet is zero, as for a field
    // zero-filled from the start.
    p.written.zero_gaps(p.buffer.writable(), elem, total);
    p.written.clear();
    p.zeroed = true;
  }
  detail::scatter_block(f.payload.data(), p.buffer.writable(), elem, shape, h);
  p.ranks[h.member_rank] = true;
  p.covered += block_elements;
  if (p.covered < total) return {};
  Pending done = std::move(p);
  pending_.erase(pit);
  pending_bytes_ -= done.buffer.size_bytes();
  s.pending_bytes -= done.buffer.size_bytes();
  return complete(std::move(done.buffer), done.time, std::move(done.parameters));
}

IngestResult Assembler::on_end(const FrameView& f, Clock::time_point now) {
  const Header& h = f.header;
  // ingest() found the rank declared, its simulation open, and checked the rank's key.
  Simulation& s = simulations_.at(h.simulation);
  s.last_seen[h.member_rank] = now;
  ++stats_.ends;
  if (s.ended[h.member_rank]) return {};  // a repeated END changes nothing
  s.ended[h.member_rank] = true;
  if (++s.ranks_ended < s.declaration.member_size) return {};
  // Every rank has ended: its partial fields can never complete, and only the record that it
  // ended is kept.
  stats_.incomplete_fields += drop_pending(h.simulation, s);
  close(s, now);
  ++stats_.simulations_ended;
  IngestResult r;
  Delivery dl;
  dl.kind = DeliveryKind::simulation_end;
  dl.simulation = h.simulation;
  r.delivery = std::move(dl);
  return r;
}

std::size_t Assembler::drop_pending(std::uint64_t simulation, Simulation& s) {
  std::size_t n = 0;
  for (auto p = pending_.begin(); p != pending_.end();) {
    if (p->first.simulation == simulation) {
      pending_bytes_ -= p->second.buffer.size_bytes();
      ++n;
      p = pending_.erase(p);
    } else {
      ++p;
    }
  }
  s.pending_bytes = 0;
  return n;
}

void Assembler::close(Simulation& s, Clock::time_point now) {
  s.closed = true;
  s.closed_at = now;
  // The per-rank tables go; the declaration and the delivered steps stay.
  std::vector<bool>().swap(s.declared);
  std::vector<bool>().swap(s.ended);
  std::vector<std::uint64_t>().swap(s.tickets);
  std::vector<Clock::time_point>().swap(s.last_seen);
}

std::size_t Assembler::forget(std::uint64_t simulation) {
  std::size_t n = 0;
  auto it = simulations_.find(simulation);
  if (it != simulations_.end()) {
    n = drop_pending(simulation, it->second);
    simulations_.erase(it);
  }
  forgotten_.insert(simulation);
  return n;
}

std::size_t Assembler::open_simulations() const noexcept {
  std::size_t n = 0;
  for (const auto& [id, s] : simulations_) n += s.closed ? 0 : 1;
  return n;
}

std::vector<MemberStatus> Assembler::members() const {
  std::vector<MemberStatus> out;
  for (const auto& [id, s] : simulations_) {
    if (s.closed) {
      out.push_back({id, 0, s.closed_at, true});
      continue;
    }
    for (std::uint32_t r = 0; r < s.declared.size(); ++r) {
      if (s.declared[r]) out.push_back({id, r, s.last_seen[r], bool(s.ended[r])});
    }
  }
  return out;
}

}  // namespace surge::streaming
