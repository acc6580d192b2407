#include "surge/streaming/front.hpp"

#include <algorithm>
#include <utility>

#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/streaming/assembler.hpp"
#include "zmq_support.hpp"

namespace surge::streaming {
namespace {
const core::Logger& logger() {
  static const core::Logger log("streaming");
  return log;
}
std::atomic<std::uint64_t> control_counter{0};
// Announcements are small; anything larger than this is not a HELLO.
constexpr std::uint64_t kMaxHelloBytes = 1 << 20;

std::vector<std::byte> reply(MessageKind kind, const Header& hello, ByteWriter& payload) {
  Header h;
  h.kind = kind;
  h.simulation = hello.simulation;
  h.member_rank = hello.member_rank;
  const std::vector<std::byte>& body = payload.buffer();
  return encode_message(h, {}, Bytes(body.data(), body.size()), kChecksumSeed);
}
}  // namespace

struct Front::Zmq {
  zmq::context_t context{1};
  zmq::socket_t router{context, zmq::socket_type::router};
  zmq::socket_t control_in{context, zmq::socket_type::pair};
  zmq::socket_t control_out{context, zmq::socket_type::pair};
  std::unique_ptr<detail::HandshakeMonitor> monitor;
  std::unique_ptr<detail::ZapHandler> zap;  // CURVE on; destroyed before the context
};

Front::Front(const ReceiverConfig& config, std::uint64_t admission_key,
             std::vector<std::string> data_endpoints)
    : config_(config),
      admission_key_(admission_key),
      data_endpoints_(std::move(data_endpoints)),
      zmq_(std::make_unique<Zmq>()) {
  SURGE_REQUIRE(!data_endpoints_.empty(), ConfigError, "a front needs at least one receiver");
  zmq::socket_t& router = zmq_->router;
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(kMaxHelloBytes));
  if (config.curve.on()) {
    // Bound before the router: no handshake is ever answered without it.
    zmq_->zap = std::make_unique<detail::ZapHandler>(
        zmq_->context, detail::admitted_client_keys(config.curve), "front",
        std::chrono::milliseconds(config.reject_log_interval_ms));
    detail::make_curve_server(router, config.curve);
  }
  zmq_->monitor = std::make_unique<detail::HandshakeMonitor>(zmq_->context, router);
  detail::bind(router, config.front_endpoint, "front");
  endpoint_ = detail::bound_endpoint(router);
  const std::string control = "inproc://surge-front-control-" + std::to_string(control_counter++);
  zmq_->control_in.bind(control);
  zmq_->control_out.connect(control);
  thread_ = std::thread([this] { run(); });
  SURGE_LOG(logger(), debug, "front listening on " << endpoint_);
}

Front::~Front() { stop(); }

void Front::stop() {
  if (!stopping_.exchange(true)) {
    zmq_->control_out.send(zmq::str_buffer("stop"), zmq::send_flags::dontwait);
  }
  if (thread_.joinable()) thread_.join();
}

FrontStats Front::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  FrontStats s = stats_;
  if (zmq_->zap) s.curve_refused = zmq_->zap->refused();
  return s;
}

int Front::assigned_rank(std::uint64_t simulation) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = assignment_.find(simulation);
  return it == assignment_.end() ? -1 : static_cast<int>(it->second);
}

void Front::assign(std::uint64_t simulation, std::uint32_t rank) {
  SURGE_REQUIRE(
      rank < data_endpoints_.size(), ConfigError,
      "server rank " << rank << " does not exist (" << data_endpoints_.size() << " ranks)");
  std::lock_guard<std::mutex> lock(mutex_);
  assignment_[simulation] = rank;
}

void Front::expect(std::uint64_t simulation, const std::string& ticket) {
  std::lock_guard<std::mutex> lock(mutex_);
  tickets_[simulation] = ticket;
}

void Front::revoke(std::uint64_t simulation) {
  std::lock_guard<std::mutex> lock(mutex_);
  tickets_.erase(simulation);
}

namespace {
// Compares without an early exit, so that the time taken does not tell how much matched.
bool same_ticket(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// Equal, a last axis of extent 1 (one component) aside.
bool same_shape(std::vector<std::uint64_t> a, std::vector<std::uint64_t> b) {
  if (a.size() > 1 && a.back() == 1) a.pop_back();
  if (b.size() > 1 && b.back() == 1) b.pop_back();
  return a == b;
}

std::string names_text(const std::vector<std::string>& names) {
  std::string t = "[";
  for (std::size_t k = 0; k < names.size(); ++k) t += (k ? ", " : "") + names[k];
  return t + "]";
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string t = "[";
  for (std::size_t d = 0; d < shape.size(); ++d) t += (d ? ", " : "") + std::to_string(shape[d]);
  return t + "]";
}
}  // namespace

std::string Front::mismatch(const Announcement& a) const {
  if (!config_.expected) return "";
  const MemberExpectations& e = *config_.expected;
  if (a.member_size != e.member_size) {
    return "member of " + std::to_string(a.member_size) + " rank(s), the study's have " +
           std::to_string(e.member_size) + " (solver.ranks)";
  }
  if (e.dtype != DType::none && a.dtype != e.dtype) {
    // A member sends every field in its one dtype: name them, so that the user finds the
    // arrays to convert.
    std::string names;
    for (const FieldSpec& f : a.fields) names += (names.empty() ? "'" : ", '") + f.name + "'";
    return (a.fields.size() == 1 ? "field " : "fields ") + names + " in dtype " +
           to_string(a.dtype) + ", the study expects " + to_string(e.dtype);
  }
  if (a.parameter_count != e.parameter_count) {
    return std::to_string(a.parameter_count) + " parameter(s), the study's solver has " +
           std::to_string(e.parameter_count);
  }
  // A member that names its parameters must send them in the study's order: values in
  // another order would train a silently wrong model.
  if (!a.parameter_names.empty() && !e.parameter_names.empty() &&
      a.parameter_names != e.parameter_names) {
    return "parameters " + names_text(a.parameter_names) + ", the study's are " +
           names_text(e.parameter_names) + " in this order (SURGE_PARAMETER_NAMES)";
  }
  for (const FieldSpec& want : e.fields) {
    auto it = std::find_if(a.fields.begin(), a.fields.end(),
                           [&](const FieldSpec& f) { return f.name == want.name; });
    if (it == a.fields.end()) return "field '" + want.name + "' is not announced";
    if (!same_shape(it->shape, want.shape)) {
      return "field '" + want.name + "' of shape " + shape_text(it->shape) +
             ", the study expects " + shape_text(want.shape);
    }
  }
  if (a.fields.size() != e.fields.size()) return "fields the study does not have";
  return "";
}

void Front::log_refusal(RefusalReason why, const std::string& text) {
  const auto k = static_cast<std::size_t>(why);
  const auto now = std::chrono::steady_clock::now();
  std::uint64_t suppressed = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (now - last_logged_[k] < std::chrono::milliseconds(config_.reject_log_interval_ms)) {
      ++unlogged_[k];
      return;
    }
    last_logged_[k] = now;
    suppressed = std::exchange(unlogged_[k], 0);
  }
  SURGE_LOG(logger(), warn,
            text << (suppressed ? " (and " + std::to_string(suppressed) +
                                      " more refusal(s) of this kind since the last report)"
                                : std::string()));
}

std::vector<std::byte> Front::answer(Bytes hello) {
  const DecodeResult d = decode_frame(hello, {}, kMaxHelloBytes, kChecksumSeed);
  // Echo the sender's ids only when the header could be read (checksummed, or another
  // version whose layout we do not know but whose refusal the client expects).
  Header h;
  if (d.ok()) h = d.frame->header;
  auto refuse = [&](RefusalReason why, const std::string& text) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.refused[static_cast<std::size_t>(why)];
    }
    log_refusal(why, "refused simulation " + std::to_string(h.simulation) + " rank " +
                         std::to_string(h.member_rank) + ": " + text);
    ByteWriter w;
    w.u32(static_cast<std::uint32_t>(why));
    w.string(text);
    return reply(MessageKind::refuse, h, w);
  };
  if (!d.ok()) {
    if (d.rejection == Rejection::wrong_version) {
      return refuse(RefusalReason::wrong_version,
                    "server speaks protocol version " + std::to_string(kProtocolVersion));
    }
    return refuse(RefusalReason::malformed,
                  std::string("unreadable HELLO (") + to_string(d.rejection) + ")");
  }
  if (d.frame->header.kind != MessageKind::hello) {
    return refuse(RefusalReason::malformed, "expected HELLO");
  }
  const std::optional<Hello> decoded = decode_hello(d.frame->payload);
  if (!decoded || decoded->announcement.simulation != h.simulation ||
      decoded->announcement.member_rank != h.member_rank) {
    return refuse(RefusalReason::malformed, "malformed announcement");
  }
  const Announcement* a = &decoded->announcement;
  if (a->experiment != config_.experiment) {
    // A server that admits only the members it launched does not tell strangers its name.
    return refuse(
        RefusalReason::wrong_experiment,
        config_.require_tickets
            ? "experiment '" + a->experiment + "' is not this server's"
            : "experiment '" + a->experiment + "', server runs '" + config_.experiment + "'");
  }
  // The ticket before anything else: a process the launcher did not start learns nothing of
  // what the study expects.
  if (config_.require_tickets) {
    std::unique_lock<std::mutex> lock(mutex_);
    const auto t = tickets_.find(a->simulation);
    const bool known = t != tickets_.end();
    const bool valid = known && same_ticket(t->second, decoded->member_ticket);
    lock.unlock();
    if (!known) {
      return refuse(RefusalReason::unknown_simulation,
                    "simulation " + std::to_string(a->simulation) +
                        " was not started by this study (or no longer runs)");
    }
    if (!valid) {
      return refuse(RefusalReason::bad_ticket,
                    "wrong member ticket for simulation " + std::to_string(a->simulation));
    }
  }
  for (const FieldSpec& f : a->fields) {
    if (!config_.fields.empty() &&
        std::find(config_.fields.begin(), config_.fields.end(), f.name) == config_.fields.end()) {
      return refuse(RefusalReason::unknown_field, "unknown field '" + f.name + "'");
    }
    std::uint64_t elements = 1;
    for (std::uint64_t n : f.shape) elements *= n;  // decode_announcement bounds it by 2^60
    const long double bytes = static_cast<long double>(elements) * dtype_size(a->dtype);
    const long double message = bytes + kHeaderBytes + 8.0L * a->parameter_count;
    if (bytes > config_.max_field_bytes ||
        (a->member_size == 1 && message > config_.max_message_bytes)) {
      return refuse(RefusalReason::too_large,
                    "field '" + f.name + "' of " + std::to_string(elements) + " " +
                        to_string(a->dtype) + " exceeds the server's limits (max_field_bytes " +
                        std::to_string(config_.max_field_bytes) + ", max_message_bytes " +
                        std::to_string(config_.max_message_bytes) + ")");
    }
  }
  if (const std::string why = mismatch(*a); !why.empty()) {
    return refuse(RefusalReason::wrong_announcement, why);
  }
  std::uint32_t rank;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = assignment_.find(a->simulation);
    if (it == assignment_.end()) {
      // Round-robin over simulations: all ranks of one simulation go to one server rank.
      it = assignment_.emplace(a->simulation, next_rank_).first;
      next_rank_ = (next_rank_ + 1) % data_endpoints_.size();
    }
    rank = it->second;
    ++stats_.accepted;
  }
  ByteWriter w;
  w.u32(rank);
  w.u64(admission_ticket(admission_key_, rank, decoded->announcement_bytes));
  w.string(data_endpoints_[rank]);
  w.u64(static_cast<std::uint64_t>(config_.expected ? config_.expected->steps : 0));
  w.u64(static_cast<std::uint64_t>(config_.max_message_bytes));  // the largest batch it takes
  SURGE_LOG(logger(), debug,
            "accepted simulation " << a->simulation << " rank " << a->member_rank
                                   << " -> server rank " << rank);
  return reply(MessageKind::welcome, h, w);
}

void Front::run() {
  zmq::socket_t& router = zmq_->router;
  zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0},
                             {zmq_->control_in.handle(), 0, ZMQ_POLLIN, 0},
                             {zmq_->monitor->socket().handle(), 0, ZMQ_POLLIN, 0}};
  try {
    while (!stopping_) {
      zmq::poll(items, 3, std::chrono::milliseconds(-1));
      if (items[1].revents & ZMQ_POLLIN) break;
      if (items[2].revents & ZMQ_POLLIN) {
        const std::uint64_t failed = zmq_->monitor->drain();
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.handshake_failures += failed;
      }
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      zmq::message_t identity, hello;
      while (router.recv(identity, zmq::recv_flags::dontwait)) {
        if (!identity.more()) continue;
        (void)router.recv(hello);
        bool extra = false;
        zmq::message_t rest;
        for (bool more = hello.more(); more; more = rest.more()) {
          extra = true;
          (void)router.recv(rest);
        }
        std::vector<std::byte> out =
            extra ? std::vector<std::byte>{}
                  : answer(Bytes(static_cast<const std::byte*>(hello.data()), hello.size()));
        if (out.empty()) continue;  // not a protocol client: no answer
        router.send(identity, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        router.send(zmq::buffer(out), zmq::send_flags::dontwait);
      }
    }
  } catch (const std::exception& e) {
    SURGE_LOG(logger(), error, "front stopped: " << e.what());
  }
}

}  // namespace surge::streaming
