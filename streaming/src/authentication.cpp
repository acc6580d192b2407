#include "surge/streaming/authentication.hpp"

#include <zmq.h>

#include <algorithm>
#include <cstring>

#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/streaming/curve.hpp"

namespace surge::streaming {
namespace {
const core::Logger& logger() {
  static const core::Logger log("streaming");
  return log;
}
}  // namespace

HandshakeMonitor::HandshakeMonitor(zmq::context_t& context, zmq::socket_t& watched)
    : pair_(context, zmq::socket_type::pair) {
  static std::atomic<std::uint64_t> counter{0};
  const std::string address = "inproc://surge-monitor-" + std::to_string(counter++);
  const int events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
  if (zmq_socket_monitor(watched.handle(), address.c_str(), events) != 0) {
    throw zmq::error_t();
  }
  pair_.connect(address);
}

std::uint64_t HandshakeMonitor::drain() {
  std::uint64_t failures = 0;
  zmq::message_t event, address;
  while (pair_.recv(event, zmq::recv_flags::dontwait)) {
    if (event.more()) (void)pair_.recv(address);
    if (event.size() >= 2) {
      std::uint16_t id;
      std::memcpy(&id, event.data(), 2);
      if (id & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)) {
        ++failures;
      }
    }
  }
  return failures;
}

ZapHandler::ZapHandler(zmq::context_t& context, const std::vector<std::string>& admitted,
                       std::string what, std::chrono::milliseconds log_interval)
    : rep_(context, zmq::socket_type::rep),
      control_in_(context, zmq::socket_type::pair),
      control_out_(context, zmq::socket_type::pair),
      what_(std::move(what)),
      log_interval_(log_interval) {
  for (const std::string& key : admitted) {
    SURGE_REQUIRE(is_z85_key(key), ConfigError, "an admitted CURVE client key is not Z85");
    std::string binary(32, '\0');
    zmq_z85_decode(reinterpret_cast<std::uint8_t*>(binary.data()), key.c_str());
    admitted_.push_back(std::move(binary));
  }
  static std::atomic<std::uint64_t> counter{0};
  const std::string control = "inproc://surge-zap-control-" + std::to_string(counter++);
  rep_.set(zmq::sockopt::linger, 0);
  rep_.bind("inproc://zeromq.zap.01");
  control_in_.bind(control);
  control_out_.connect(control);
  thread_ = std::thread([this] { run(); });
}

ZapHandler::~ZapHandler() {
  try {
    control_out_.send(zmq::str_buffer("stop"), zmq::send_flags::dontwait);
  } catch (const zmq::error_t&) {
  }
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::answer() {
  std::vector<zmq::message_t> request;
  do {
    request.emplace_back();
    (void)rep_.recv(request.back());
  } while (request.back().more());
  // RFC 27: version, request id, domain, address, routing id, mechanism, credentials.
  const bool readable = request.size() >= 7 && request[0].to_string_view() == "1.0";
  const std::string address = request.size() >= 4 ? request[3].to_string() : "";
  bool admit = false;
  if (readable && request[5].to_string_view() == "CURVE" && request[6].size() == 32) {
    const std::string key = request[6].to_string();
    admit =
        admitted_.empty() || std::find(admitted_.begin(), admitted_.end(), key) != admitted_.end();
  }
  const char* status = admit ? "200" : (readable ? "400" : "500");
  rep_.send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
  if (request.size() >= 2) {
    rep_.send(request[1], zmq::send_flags::sndmore);
  } else {
    rep_.send(zmq::message_t(), zmq::send_flags::sndmore);
  }
  rep_.send(zmq::buffer(std::string(status)), zmq::send_flags::sndmore);
  rep_.send(zmq::buffer(std::string(admit ? "OK" : "client key not admitted")),
            zmq::send_flags::sndmore);
  rep_.send(zmq::message_t(), zmq::send_flags::sndmore);  // user id
  rep_.send(zmq::message_t(), zmq::send_flags::none);     // metadata
  if (admit) return;
  ++refused_;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_logged_ < log_interval_) {
    ++unlogged_;
    return;
  }
  SURGE_LOG(
      logger(), warn,
      what_ << ": refused a CURVE client from " << (address.empty() ? "?" : address)
            << " whose key is not admitted"
            << (unlogged_ ? " (and " + std::to_string(unlogged_) + " more since the last report)"
                          : std::string()));
  last_logged_ = now;
  unlogged_ = 0;
}

void ZapHandler::run() noexcept {
  try {
    zmq::pollitem_t items[] = {{rep_.handle(), 0, ZMQ_POLLIN, 0},
                               {control_in_.handle(), 0, ZMQ_POLLIN, 0}};
    while (true) {
      zmq::poll(items, 2, std::chrono::milliseconds(-1));
      if (items[1].revents & ZMQ_POLLIN) return;
      if (items[0].revents & ZMQ_POLLIN) answer();
    }
  } catch (const std::exception& e) {
    // The REP socket stays bound until the handler is destroyed: later handshakes wait for
    // an answer and fail, never pass unchecked.
    try {
      SURGE_LOG(logger(), error,
                what_ << ": the CURVE authentication thread stopped: " << e.what()
                      << "; no client is admitted any more");
    } catch (...) {
    }
  } catch (...) {
  }
}

}  // namespace surge::streaming
