#include "surge/streaming/receiver.hpp"

#include <random>

#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "zmq_support.hpp"

namespace surge::streaming {
namespace {
const core::Logger& logger() {
  static const core::Logger log("streaming");
  return log;
}
std::atomic<std::uint64_t> control_counter{0};

// Whether a frame rejected for `why` passed its checksum, so that its header's size can be
// trusted to place the next frame of a batch.
bool frame_was_authentic(Rejection why) {
  switch (why) {
    case Rejection::outside_shape:
    case Rejection::duplicate:
    case Rejection::too_many_pending:
    case Rejection::pending_bytes:
    case Rejection::bad_step:
    case Rejection::conflicting_declaration:
    case Rejection::bad_ticket:
      return true;
    default:
      return false;
  }
}
}  // namespace

AssemblerLimits assembler_limits(const ReceiverConfig& config) {
  AssemblerLimits limits;
  limits.max_message_bytes = static_cast<std::uint64_t>(config.max_message_bytes);
  limits.max_pending_fields = static_cast<std::uint32_t>(config.max_pending_fields);
  limits.max_pending_bytes = static_cast<std::uint64_t>(config.max_pending_bytes);
  limits.max_pending_bytes_per_member =
      static_cast<std::uint64_t>(config.max_pending_bytes_per_member);
  if (config.expected) {
    limits.member_size = config.expected->member_size;
    limits.steps = config.expected->steps;
  }
  return limits;
}

std::uint64_t make_admission_key() {
  std::random_device rd;
  return (std::uint64_t{rd()} << 32) ^ rd();
}

struct Receiver::Zmq {
  zmq::context_t context;
  zmq::socket_t data;
  zmq::socket_t control_in, control_out;
  std::unique_ptr<detail::HandshakeMonitor> monitor;
  std::unique_ptr<detail::ZapHandler> zap;  // CURVE on; destroyed before the context
  explicit Zmq(int io_threads)
      : context(io_threads),
        data(context, zmq::socket_type::pull),
        control_in(context, zmq::socket_type::pair),
        control_out(context, zmq::socket_type::pair) {}
};

Receiver::Receiver(const ReceiverConfig& config, std::uint64_t admission_key,
                   std::uint32_t server_rank, Handler handler)
    : config_(config),
      server_rank_(server_rank),
      handler_(std::move(handler)),
      zmq_(std::make_unique<Zmq>(config.io_threads)),
      assembler_(assembler_limits(config), admission_key, server_rank) {
  zmq::socket_t& data = zmq_->data;
  data.set(zmq::sockopt::rcvhwm, config.hwm);
  data.set(zmq::sockopt::linger, 0);
  // A hard wall well above the checked limit: frames between the two are counted as
  // oversized by the decoder, larger ones make ZeroMQ drop the connection before
  // allocating them.
  data.set(zmq::sockopt::maxmsgsize, config.max_message_bytes + (std::int64_t{1} << 20));
  if (config.curve.on()) {
    // Bound before the data socket: no handshake is ever answered without it.
    zmq_->zap = std::make_unique<detail::ZapHandler>(
        zmq_->context, detail::admitted_client_keys(config.curve),
        "receiver " + std::to_string(server_rank),
        std::chrono::milliseconds(config.reject_log_interval_ms));
    detail::make_curve_server(data, config.curve);
  }
  zmq_->monitor = std::make_unique<detail::HandshakeMonitor>(zmq_->context, data);
  detail::bind(data, config.data_endpoint, "receiver data");
  endpoint_ = detail::bound_endpoint(data);
  const std::string control =
      "inproc://surge-receiver-control-" + std::to_string(control_counter++);
  zmq_->control_in.bind(control);
  zmq_->control_out.connect(control);
  thread_ = std::thread([this] { run(); });
  SURGE_LOG(logger(), info, "receiver " << server_rank_ << " listening on " << endpoint_);
}

Receiver::~Receiver() { stop(); }

void Receiver::stop() {
  if (stopping_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  { std::lock_guard<std::mutex> lock(queue_mutex_); }
  not_full_.notify_all();
  not_empty_.notify_all();
  zmq_->control_out.send(zmq::str_buffer("stop"), zmq::send_flags::dontwait);
  if (thread_.joinable()) thread_.join();
}

void Receiver::deliver(Delivery&& d) {
  if (handler_) {
    handler_(std::move(d));
    return;
  }
  std::unique_lock<std::mutex> lock(queue_mutex_);
  not_full_.wait(lock, [&] {
    return queue_.size() < static_cast<std::size_t>(config_.queue_capacity) || stopping_;
  });
  queue_.push_back(std::move(d));  // when stopping, beyond capacity: nothing is dropped
  lock.unlock();
  not_empty_.notify_one();
}

std::optional<Delivery> Receiver::pop(std::chrono::milliseconds timeout) {
  SURGE_REQUIRE(!handler_, ConfigError, "Receiver::pop() needs a receiver made without handler");
  std::unique_lock<std::mutex> lock(queue_mutex_);
  if (!not_empty_.wait_for(lock, timeout, [&] { return !queue_.empty() || stopping_; }) ||
      queue_.empty()) {
    return std::nullopt;
  }
  Delivery d = std::move(queue_.front());
  queue_.pop_front();
  lock.unlock();
  not_full_.notify_one();
  return d;
}

std::size_t Receiver::queued() const {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  return queue_.size();
}

std::uint64_t Receiver::curve_refused() const noexcept {
  return zmq_->zap ? zmq_->zap->refused() : 0;
}

IngestStats Receiver::stats() const {
  std::lock_guard<std::mutex> lock(state_mutex_);
  return assembler_.stats();
}

std::size_t Receiver::forget(std::uint64_t simulation) {
  std::lock_guard<std::mutex> lock(state_mutex_);
  return assembler_.forget(simulation);
}

std::uint64_t Receiver::pending_bytes() const {
  std::lock_guard<std::mutex> lock(state_mutex_);
  return assembler_.pending_bytes();
}

std::vector<MemberStatus> Receiver::members() const {
  std::lock_guard<std::mutex> lock(state_mutex_);
  return assembler_.members();
}

std::vector<MemberStatus> Receiver::silent_members(Clock::duration max_silence) const {
  const Clock::time_point now = Clock::now();
  std::vector<MemberStatus> out;
  for (const MemberStatus& m : members()) {
    if (!m.ended && now - m.last_seen > max_silence) out.push_back(m);
  }
  return out;
}

void Receiver::log_rejection(Rejection why, const std::string& detail) {
  const auto k = static_cast<std::size_t>(why);
  const Clock::time_point now = Clock::now();
  if (now - last_logged_[k] < std::chrono::milliseconds(config_.reject_log_interval_ms)) {
    ++unlogged_[k];
    return;
  }
  SURGE_LOG(logger(), warn,
            "receiver " << server_rank_ << ": dropped a message (" << to_string(why)
                        << (detail.empty() ? "" : ": " + detail) << ")"
                        << (unlogged_[k] ? " and " + std::to_string(unlogged_[k]) +
                                               " more of this kind since the last report"
                                         : std::string()));
  last_logged_[k] = now;
  unlogged_[k] = 0;
}

void Receiver::reject_malformed(const std::string& detail) {
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    assembler_.count_rejection(Rejection::malformed);
  }
  log_rejection(Rejection::malformed, detail);
}

bool Receiver::ingest_and_deliver(const RawMessage& m) {
  IngestResult r;
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    r = assembler_.ingest(m, Clock::now());
  }
  if (r.rejection) log_rejection(*r.rejection, r.detail);
  if (r.delivery) deliver(std::move(*r.delivery));
  return !r.rejection || frame_was_authentic(*r.rejection);
}

void Receiver::run() {
  zmq::socket_t& data = zmq_->data;
  zmq::pollitem_t items[] = {{data.handle(), 0, ZMQ_POLLIN, 0},
                             {zmq_->control_in.handle(), 0, ZMQ_POLLIN, 0},
                             {zmq_->monitor->socket().handle(), 0, ZMQ_POLLIN, 0}};
  try {
    while (!stopping_) {
      zmq::poll(items, 3, std::chrono::milliseconds(-1));
      if (items[1].revents & ZMQ_POLLIN) break;
      if (items[2].revents & ZMQ_POLLIN) handshake_failures_ += zmq_->monitor->drain();
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      // Drain a batch, then poll again so control and monitor events are not starved.
      for (int n = 0; n < 256 && !stopping_; ++n) {
        auto head = std::make_shared<zmq::message_t>();
        if (!data.recv(*head, zmq::recv_flags::dontwait)) break;
        wire_messages_.fetch_add(1, std::memory_order_relaxed);
        std::shared_ptr<zmq::message_t> body;
        bool extra_frames = false;
        if (head->more()) {
          body = std::make_shared<zmq::message_t>();
          (void)data.recv(*body);
          if (body->more()) {  // more than two frames: drain them, count as malformed
            extra_frames = true;
            zmq::message_t rest;
            do {
              (void)data.recv(rest);
            } while (rest.more());
          }
        }
        // A zero-length second frame would read as a single-frame message: malformed too.
        if (extra_frames || (body && body->size() == 0)) {
          reject_malformed("not one or two non-empty ZeroMQ frames");
          continue;
        }
        RawMessage m;
        m.head_owner = head;
        if (body) {
          m.head = Bytes(static_cast<const std::byte*>(head->data()), head->size());
          m.body = Bytes(static_cast<const std::byte*>(body->data()), body->size());
          m.body_owner = body;
          (void)ingest_and_deliver(m);
          continue;
        }
        // A single-frame message is a batch of one or more frames back to back; one larger
        // than max_message_bytes is rejected whole (oversized).
        Bytes rest(static_cast<const std::byte*>(head->data()), head->size());
        const bool whole = head->size() > static_cast<std::size_t>(config_.max_message_bytes);
        do {
          m.head = rest.subspan(0, whole ? rest.size() : leading_frame_bytes(rest));
          rest = rest.subspan(m.head.size(), rest.size() - m.head.size());
          if (!ingest_and_deliver(m) && !rest.empty()) {
            // The rejected frame's header placed the next one: nothing after it is trusted.
            reject_malformed(std::to_string(rest.size()) +
                             " bytes after a rejected frame of a batch");
            break;
          }
        } while (!rest.empty());
      }
    }
  } catch (const std::exception& e) {
    // Only a context shutdown or an allocation failure lands here; say so and stop.
    SURGE_LOG(logger(), error, "receiver " << server_rank_ << " stopped: " << e.what());
  }
}

}  // namespace surge::streaming
