#include "surge/streaming/front.hpp"

#include <algorithm>

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
  return encode_message(h, {}, Bytes(body.data(), body.size()));
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

std::vector<std::byte> Front::answer(Bytes hello) {
  const DecodeResult d = decode_frame(hello, {}, kMaxHelloBytes);
  // Echo the sender's ids only when the header could be read (checksummed, or another
  // version whose layout we do not know but whose refusal the client expects).
  Header h;
  if (d.ok()) h = d.frame->header;
  auto refuse = [&](RefusalReason why, const std::string& text) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.refused[static_cast<std::size_t>(why)];
    }
    SURGE_LOG(logger(), warn,
              "refused simulation " << h.simulation << " rank " << h.member_rank << ": " << text);
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
  const std::optional<Announcement> a = decode_announcement(d.frame->payload);
  if (!a || a->simulation != h.simulation || a->member_rank != h.member_rank) {
    return refuse(RefusalReason::malformed, "malformed announcement");
  }
  if (a->experiment != config_.experiment) {
    return refuse(RefusalReason::wrong_experiment,
                  "experiment '" + a->experiment + "', server runs '" + config_.experiment + "'");
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
  w.u64(admission_ticket(admission_key_, rank, d.frame->payload));
  w.string(data_endpoints_[rank]);
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
