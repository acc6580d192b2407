#include "surge/streaming/client.hpp"

#include <chrono>
#include <cstring>

#include "surge/core/log.hpp"
#include "surge/streaming/checksum.hpp"
#include "zmq_support.hpp"

namespace surge::streaming {
namespace {
constexpr std::uint64_t kMaxReplyBytes = 1 << 20;

template <class T>
constexpr DType dtype_of() {
  return std::is_same_v<T, float> ? DType::float32 : DType::float64;
}
}  // namespace

struct Client::Zmq {
  zmq::context_t context{1};
  zmq::socket_t data{context, zmq::socket_type::push};
  zmq::socket_t heartbeat{context, zmq::socket_type::push};
  zmq::socket_t monitor{context, zmq::socket_type::pair};  // the data socket's events
  std::vector<std::byte> declaration;                      // ticket, server rank, announcement
};

Client::Client(const ClientConfig& config, MemberIdentity identity)
    : config_(config), identity_(std::move(identity)), zmq_(std::make_unique<Zmq>()) {
  const MemberIdentity& id = identity_;
  SURGE_REQUIRE(!config_.front_endpoint.empty(), ConfigError,
                "streaming client: front_endpoint is empty");
  SURGE_REQUIRE(id.member_size >= 1 && id.member_rank < id.member_size, ConfigError,
                "streaming client: member rank " << id.member_rank << " not in [0, "
                                                 << id.member_size << ")");
  SURGE_REQUIRE(!id.fields.empty(), ConfigError, "streaming client: no fields to stream");
  Announcement a;
  a.experiment = id.experiment;
  a.simulation = id.simulation;
  a.member_rank = id.member_rank;
  a.member_size = id.member_size;
  a.dtype = id.dtype;
  a.parameter_count = static_cast<std::uint32_t>(id.parameters.size());
  a.fields = id.fields;
  a.parameter_names = id.parameter_names;
  const std::vector<std::byte> announcement = encode_announcement(a);
  SURGE_REQUIRE(decode_announcement(Bytes(announcement.data(), announcement.size())), ConfigError,
                "streaming client: invalid identity (names 1.."
                    << kMaxNameBytes << " bytes and unique, 1.." << kMaxDims
                    << " dimensions of extent >= 1, "
                       "dtype float32/float64; no parameter names, or one unique non-empty name "
                       "per parameter)");

  // Handshake with the front.
  zmq::socket_t front(zmq_->context, zmq::socket_type::dealer);
  front.set(zmq::sockopt::linger, 0);
  if (config_.curve.on()) detail::make_curve_client(front, config_.curve);
  try {
    front.connect(config_.front_endpoint);
  } catch (const zmq::error_t& e) {  // a malformed endpoint or an unknown transport
    SURGE_THROW(ConfigError, "streaming client: cannot connect to front_endpoint '"
                                 << config_.front_endpoint << "': " << e.what());
  }
  Header hello;
  hello.kind = MessageKind::hello;
  hello.simulation = id.simulation;
  hello.member_rank = id.member_rank;
  const std::vector<std::byte> hello_payload = encode_hello(a, config_.member_ticket);
  const std::vector<std::byte> msg =
      encode_message(hello, {}, Bytes(hello_payload.data(), hello_payload.size()), kChecksumSeed);
  (void)front.send(zmq::buffer(msg), zmq::send_flags::dontwait);
  zmq::pollitem_t item{front.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, std::chrono::milliseconds(config_.handshake_timeout_ms));
  zmq::message_t answer;
  SURGE_REQUIRE((item.revents & ZMQ_POLLIN) && front.recv(answer, zmq::recv_flags::dontwait),
                ProtocolError,
                "no answer from the streaming server at " << config_.front_endpoint << " within "
                                                          << config_.handshake_timeout_ms
                                                          << " ms (server down, or CURVE keys "
                                                             "that do not match?)");
  const Bytes reply(static_cast<const std::byte*>(answer.data()), answer.size());
  const DecodeResult d = decode_frame(reply, {}, kMaxReplyBytes, kChecksumSeed);
  if (!d.ok() && d.rejection == Rejection::wrong_version) {
    std::uint16_t version;
    std::memcpy(&version, reply.data() + 4, 2);
    throw HandshakeRefused(RefusalReason::wrong_version,
                           "streaming server speaks protocol version " + std::to_string(version) +
                               ", this client " + std::to_string(kProtocolVersion),
                           __FILE__, __LINE__);
  }
  SURGE_REQUIRE(d.ok(), ProtocolError,
                "unreadable handshake answer from " << config_.front_endpoint << " ("
                                                    << to_string(d.rejection) << ")");
  ByteReader r(d.frame->payload);
  if (d.frame->header.kind == MessageKind::refuse) {
    const auto reason = static_cast<RefusalReason>(r.u32());
    const std::string text = r.string(1 << 16);
    throw HandshakeRefused(
        reason,
        std::string("streaming server refused simulation ") + std::to_string(id.simulation) +
            " rank " + std::to_string(id.member_rank) + ": " + to_string(reason) + ": " + text,
        __FILE__, __LINE__);
  }
  SURGE_REQUIRE(d.frame->header.kind == MessageKind::welcome, ProtocolError,
                "unexpected handshake answer from " << config_.front_endpoint);
  server_rank_ = r.u32();
  const std::uint64_t ticket = r.u64();
  data_endpoint_ = r.string(kMaxNameBytes * 4);
  steps_ = static_cast<std::int64_t>(std::min<std::uint64_t>(r.u64(), INT64_MAX));
  const std::uint64_t server_max_message = r.u64();
  SURGE_REQUIRE(!r.failed() && !data_endpoint_.empty(), ProtocolError,
                "malformed WELCOME from " << config_.front_endpoint);
  // DATA and END are checksummed with a key only this rank and the server know.
  seed_ = member_seed(ticket);

  // Declaration payload, also carried by heartbeats (PROTOCOL.md).
  ByteWriter w;
  w.u64(ticket);
  w.u32(server_rank_);
  w.bytes(Bytes(announcement.data(), announcement.size()));
  zmq_->declaration = std::move(w.buffer());

  zmq::socket_t& data = zmq_->data;
  data.set(zmq::sockopt::sndhwm, config_.hwm);
  // A dead server must not keep a finished member alive, waiting to deliver its last messages.
  data.set(zmq::sockopt::linger, config_.linger_ms < 0 && config_.server_timeout_ms > 0
                                     ? config_.server_timeout_ms
                                     : config_.linger_ms);
  if (config_.curve.on()) detail::make_curve_client(data, config_.curve);
  if (config_.server_timeout_ms > 0) {
    const std::string address =
        "inproc://surge-client-monitor-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
    SURGE_REQUIRE(zmq_socket_monitor(data.handle(), address.c_str(),
                                     ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) == 0,
                  ProtocolError, "streaming client: cannot monitor the data socket");
    zmq_->monitor.connect(address);
  }
  data.connect(data_endpoint_);
  send_control(MessageKind::declare, 0);

  if (config_.batch_bytes > 0) {
    batch_limit_ = static_cast<std::size_t>(
        std::min<std::uint64_t>(static_cast<std::uint64_t>(config_.batch_bytes),
                                std::min<std::uint64_t>(server_max_message, SIZE_MAX / 2)));
  }
  if (config_.heartbeat_interval_ms > 0) {
    zmq::socket_t& hb = zmq_->heartbeat;
    hb.set(zmq::sockopt::sndhwm, 2);
    hb.set(zmq::sockopt::linger, 0);
    if (config_.curve.on()) detail::make_curve_client(hb, config_.curve);
    hb.connect(data_endpoint_);
  }
  if (config_.heartbeat_interval_ms > 0 || batch_limit_ > 0) {
    heartbeat_thread_ = std::thread([this] { heartbeat_loop(); });
  }
}

Client::~Client() {
  try {
    finish();
  } catch (const std::exception& e) {
    core::Logger("streaming").error(std::string("client: ") + e.what());
  }
}

void Client::heartbeat_loop() {
  Header h;
  h.kind = MessageKind::heartbeat;
  h.simulation = identity_.simulation;
  h.member_rank = identity_.member_rank;
  const std::vector<std::byte> msg = encode_message(
      h, {}, Bytes(zmq_->declaration.data(), zmq_->declaration.size()), kChecksumSeed);
  using std::chrono::milliseconds;
  const bool beats = config_.heartbeat_interval_ms > 0;
  const auto beat_every = milliseconds(config_.heartbeat_interval_ms);
  // Wakes for the next heartbeat, or every batch_ms while blocks are gathered.
  const auto period = batch_limit_ == 0 ? beat_every
                      : beats           ? std::min(beat_every, milliseconds(config_.batch_ms))
                                        : milliseconds(config_.batch_ms);
  auto next_beat = std::chrono::steady_clock::now() + beat_every;
  std::unique_lock<std::mutex> lock(heartbeat_mutex_);
  while (!heartbeat_cv_.wait_for(lock, period, [&] { return heartbeat_stop_; })) {
    const auto now = std::chrono::steady_clock::now();
    if (batch_limit_ > 0) {
      // Never wait for the sender: if it holds the socket, it sends the batch itself.
      std::unique_lock<std::mutex> data(data_mutex_, std::try_to_lock);
      if (data.owns_lock() && batch_size_ > 0 &&
          now - batch_since_ >= milliseconds(config_.batch_ms)) {
        try {
          (void)flush_batch(false);
        } catch (const std::exception& e) {
          // Not expected: the socket said it takes a message. The batch is lost then, and
          // the sender's next call meets the same error (a lost server) and fails with it.
          core::Logger("streaming").error(std::string("client: ") + e.what());
        }
      }
    }
    if (!beats || now < next_beat) continue;
    next_beat = now + beat_every;
    // Never block: under back-pressure the data traffic already shows the member is alive.
    if (zmq_->heartbeat.send(zmq::buffer(msg), zmq::send_flags::dontwait)) ++heartbeats_sent_;
  }
}

void Client::send_control(MessageKind kind, std::int64_t step) {
  Header h;
  h.kind = kind;
  h.simulation = identity_.simulation;
  h.member_rank = identity_.member_rank;
  h.step = step;
  Bytes payload;
  if (kind == MessageKind::declare) {
    payload = Bytes(zmq_->declaration.data(), zmq_->declaration.size());
  }
  const std::vector<std::byte> bytes =
      encode_message(h, {}, payload, keyed_kind(kind) ? seed_ : kChecksumSeed);
  zmq::message_t msg(bytes.data(), bytes.size());
  std::lock_guard<std::mutex> lock(data_mutex_);
  (void)flush_batch(true);  // END after every block
  send_frame(msg, false);
}

void Client::check_server() {
  if (config_.server_timeout_ms <= 0) return;
  zmq::message_t event, address;
  while (zmq_->monitor.recv(event, zmq::recv_flags::dontwait)) {
    if (event.more()) (void)zmq_->monitor.recv(address, zmq::recv_flags::dontwait);
    if (event.size() < sizeof(std::uint16_t)) continue;
    std::uint16_t id = 0;
    std::memcpy(&id, event.data(), sizeof id);
    if (id == ZMQ_EVENT_CONNECTED) {
      connected_ = true;
    } else if (id == ZMQ_EVENT_DISCONNECTED && connected_) {
      connected_ = false;
      disconnected_since_ = std::chrono::steady_clock::now();
    }
  }
  const auto down = std::chrono::steady_clock::now() - disconnected_since_;
  SURGE_REQUIRE(connected_ || down < std::chrono::milliseconds(config_.server_timeout_ms),
                ProtocolError,
                "streaming client: lost the server: no connection to "
                    << data_endpoint_ << " for "
                    << std::chrono::duration_cast<std::chrono::seconds>(down).count()
                    << " s (server_timeout_ms " << config_.server_timeout_ms << ")");
}

void Client::check_server_now_and_then() {
  // Reading the monitor costs a poll() and a getpid() in ZeroMQ (about 20 us a send in a
  // VM, measured), so a flowing stream looks at it every 10 ms at most; a connection seen
  // down is looked at every time.
  const auto now = std::chrono::steady_clock::now();
  if (connected_ && now - last_server_check_ < std::chrono::milliseconds(10)) return;
  last_server_check_ = now;
  check_server();
}

void Client::send_frame(zmq::message_t& message, bool more) {
  const auto flags = more ? zmq::send_flags::sndmore : zmq::send_flags::none;
  const auto begin = std::chrono::steady_clock::now();
  check_server_now_and_then();
  while (true) {
    if (zmq_->data.send(message, flags | zmq::send_flags::dontwait)) return;
    SURGE_REQUIRE(
        config_.send_timeout_ms < 0 || std::chrono::steady_clock::now() - begin <
                                           std::chrono::milliseconds(config_.send_timeout_ms),
        ProtocolError,
        "streaming client: could not send to " << data_endpoint_ << " within "
                                               << config_.send_timeout_ms << " ms");
    // Back-pressure: wait until the socket takes a message, looking at the connection now and
    // then.
    zmq::pollitem_t item{zmq_->data.handle(), 0, ZMQ_POLLOUT, 0};
    int wait_ms = 100;
    if (config_.send_timeout_ms >= 0)
      wait_ms = std::min(wait_ms, std::max(config_.send_timeout_ms, 1));
    zmq::poll(&item, 1, std::chrono::milliseconds(wait_ms));
    check_server();
  }
}

Header Client::block_header(std::string_view field, std::int64_t step, double time, DType dtype,
                            std::size_t elements, const Block& block) const {
  SURGE_REQUIRE(!finished_, ProtocolError, "streaming client: send() after finish()");
  SURGE_REQUIRE(dtype == identity_.dtype, ProtocolError,
                "streaming client: sending " << to_string(dtype) << " data, the member declared "
                                             << to_string(identity_.dtype));
  std::size_t id = 0;
  while (id < identity_.fields.size() && identity_.fields[id].name != field) ++id;
  SURGE_REQUIRE(id < identity_.fields.size(), ProtocolError,
                "streaming client: field '" << field << "' was not announced");
  // The server would drop the block (bad_step): the member's error, said where it happens.
  SURGE_REQUIRE(step >= 0 && step != INT64_MAX && (steps_ == 0 || step < steps_), ProtocolError,
                "streaming client: step "
                    << step << " of field '" << field
                    << "' is not one the server takes: " << step_range_text(steps_));
  const std::vector<std::uint64_t>& shape = identity_.fields[id].shape;
  Header h;
  h.kind = MessageKind::data;
  h.dtype = dtype;
  h.simulation = identity_.simulation;
  h.member_rank = identity_.member_rank;
  h.field_id = static_cast<std::uint32_t>(id);
  h.step = step;
  h.time = time;
  h.ndim = static_cast<std::uint32_t>(shape.size());
  h.parameter_count = static_cast<std::uint32_t>(identity_.parameters.size());
  const bool whole = block.offset.empty() && block.extent.empty();
  SURGE_REQUIRE(
      whole || (block.offset.size() == shape.size() && block.extent.size() == shape.size()),
      ProtocolError,
      "streaming client: block of field '" << field << "' needs " << shape.size()
                                           << " offsets and extents");
  std::uint64_t count = 1;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    h.offset[d] = whole ? 0 : block.offset[d];
    h.extent[d] = whole ? shape[d] : block.extent[d];
    SURGE_REQUIRE(h.extent[d] <= shape[d] && h.offset[d] <= shape[d] - h.extent[d], ProtocolError,
                  "streaming client: block of field '" << field << "' leaves the global shape "
                                                       << "in dimension " << d);
    count *= h.extent[d];
  }
  SURGE_REQUIRE(count == elements, ProtocolError,
                "streaming client: block of field '" << field << "' has " << count
                                                     << " elements, data has " << elements);
  h.payload_bytes = count * dtype_size(dtype);
  return h;
}

namespace {
// Writes one frame (header, parameters, payload) at `p`, checksummed with `seed`: the one
// copy of the payload, fused with the checksum, each chunk hashed while still in cache.
void write_frame(std::byte* p, const Header& h, Span<const double> parameters, Bytes payload,
                 std::uint64_t seed) {
  const std::size_t param_bytes = parameters.size() * sizeof(double);
  write_header(h, p);
  if (param_bytes) std::memcpy(p + kHeaderBytes, parameters.data(), param_bytes);
  Xxh3 hash(seed);
  hash.update(p, kChecksumOffset);
  hash.update(p + kHeaderBytes, param_bytes);
  constexpr std::size_t kChunk = 32 << 10;
  std::byte* dst = p + kHeaderBytes + param_bytes;
  for (std::size_t at = 0; at < payload.size(); at += kChunk) {
    const std::size_t n = std::min(kChunk, payload.size() - at);
    std::memcpy(dst + at, payload.data() + at, n);
    hash.update(dst + at, n);
  }
  store_checksum(p, hash.digest());
}
}  // namespace

bool Client::flush_batch(bool wait) {
  if (batch_size_ == 0) return true;
  // Without waiting only when the socket takes a message now (nothing else sends on it: the
  // caller holds data_mutex_), so that the batch is never handed over and then dropped.
  if (!wait && !(zmq_->data.get(zmq::sockopt::events) & ZMQ_POLLOUT)) return false;
  // ZeroMQ sends the gathered bytes without copying them and frees them once written.
  zmq::message_t msg(
      batch_.release(), batch_size_,
      [](void* data, void*) { delete[] static_cast<std::byte*>(data); }, nullptr);
  batch_size_ = 0;
  if (!wait && zmq_->data.send(msg, zmq::send_flags::dontwait)) return true;
  send_frame(msg, false);
  return true;
}

void Client::send_copy(const Header& h, Bytes payload) {
  const Span<const double> parameters(identity_.parameters.data(), identity_.parameters.size());
  const std::size_t bytes = kHeaderBytes + parameters.size() * sizeof(double) + payload.size();
  std::lock_guard<std::mutex> lock(data_mutex_);
  check_server_now_and_then();  // a gathered block fails as a sent one would, the server gone
  if (messages_per_batch(bytes, batch_limit_) == 1) {  // batches off, or too large to share one
    (void)flush_batch(true);
    zmq::message_t msg(bytes);
    write_frame(static_cast<std::byte*>(msg.data()), h, parameters, payload, seed_);
    send_frame(msg, false);
  } else {
    if (batch_size_ + bytes > batch_limit_) (void)flush_batch(true);
    if (!batch_) batch_.reset(new std::byte[batch_limit_]);  // not zeroed: written before sent
    if (batch_size_ == 0) batch_since_ = std::chrono::steady_clock::now();
    write_frame(batch_.get() + batch_size_, h, parameters, payload, seed_);
    batch_size_ += bytes;
    // Sent once the next block of this size would not fit, or the first has waited batch_ms.
    if (batch_size_ + bytes > batch_limit_ || std::chrono::steady_clock::now() - batch_since_ >=
                                                  std::chrono::milliseconds(config_.batch_ms)) {
      (void)flush_batch(true);
    }
  }
  ++blocks_sent_;
  last_step_ = std::max(last_step_, h.step);
}

void Client::send(std::string_view field, std::int64_t step, double time, Span<const double> data,
                  const Block& block) {
  send_copy(block_header(field, step, time, DType::float64, data.size(), block), as_bytes(data));
}

void Client::send(std::string_view field, std::int64_t step, double time, Span<const float> data,
                  const Block& block) {
  send_copy(block_header(field, step, time, DType::float32, data.size(), block), as_bytes(data));
}

template <class T>
void Client::send_vector(std::string_view field, std::int64_t step, double time,
                         std::vector<T>&& data, const Block& block) {
  const Header h = block_header(field, step, time, dtype_of<T>(), data.size(), block);
  const std::size_t bytes = data.size() * sizeof(T);
  if (static_cast<std::int64_t>(bytes) < config_.zero_copy_bytes || bytes == 0) {
    send_copy(h, as_bytes(Span<const T>(data)));
    return;
  }
  // Zero copy: header + parameters in frame 1, the vector's own buffer as frame 2, freed by
  // ZeroMQ once it has been written to the socket.
  auto* owned = new std::vector<T>(std::move(data));
  zmq::message_t payload(
      owned->data(), bytes, [](void*, void* hint) { delete static_cast<std::vector<T>*>(hint); },
      owned);
  const std::size_t param_bytes = identity_.parameters.size() * sizeof(double);
  zmq::message_t head(kHeaderBytes + param_bytes);
  auto* p = static_cast<std::byte*>(head.data());
  write_header(h, p);
  if (param_bytes) std::memcpy(p + kHeaderBytes, identity_.parameters.data(), param_bytes);
  store_checksum(
      p, frame_checksum(p, Bytes(p + kHeaderBytes, param_bytes),
                        Bytes(static_cast<const std::byte*>(payload.data()), bytes), seed_));
  // ZeroMQ checks the high-water mark at the first frame only, so once it is queued the
  // second frame always follows.
  std::lock_guard<std::mutex> lock(data_mutex_);
  (void)flush_batch(true);
  send_frame(head, true);
  (void)zmq_->data.send(payload, zmq::send_flags::none);
  ++blocks_sent_;
  last_step_ = std::max(last_step_, h.step);
}

void Client::send_owned(std::string_view field, std::int64_t step, double time,
                        std::vector<double>&& data, const Block& block) {
  send_vector(field, step, time, std::move(data), block);
}

void Client::send_owned(std::string_view field, std::int64_t step, double time,
                        std::vector<float>&& data, const Block& block) {
  send_vector(field, step, time, std::move(data), block);
}

void Client::finish() {
  if (finished_) return;
  finished_ = true;
  if (heartbeat_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(heartbeat_mutex_);
      heartbeat_stop_ = true;
    }
    heartbeat_cv_.notify_all();
    heartbeat_thread_.join();
  }
  send_control(MessageKind::end, last_step_);
}

}  // namespace surge::streaming
