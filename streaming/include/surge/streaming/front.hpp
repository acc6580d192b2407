#pragma once
// The server's handshake endpoint: members announce themselves here (ROUTER socket, own
// thread); the front checks the announcement, assigns each simulation to one server rank
// round-robin, and answers with that rank's data endpoint and an admission ticket.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "surge/streaming/config.hpp"
#include "surge/streaming/protocol.hpp"

namespace surge::streaming {

struct FrontStats {
  std::uint64_t accepted = 0;
  std::array<std::uint64_t, kRefusalReasons> refused{};  // by RefusalReason (index = value)
  std::uint64_t handshake_failures = 0;                  // ZeroMQ-level (CURVE) failures
  std::uint64_t curve_refused = 0;  // CURVE clients whose key is not admitted (ZAP)
  [[nodiscard]] std::uint64_t refused_of(RefusalReason r) const noexcept {
    return refused[static_cast<std::size_t>(r)];
  }
};

// `bound` (a socket's ZeroMQ last_endpoint) as a peer on another machine connects to it: a
// socket bound to every interface (tcp://*:port, reported as 0.0.0.0 or [::]) is reached
// through this machine's host name; any other endpoint is returned as it is.
[[nodiscard]] std::string connectable_endpoint(const std::string& bound);

class Front {
 public:
  // Binds config.front_endpoint and starts answering; `data_endpoints[k]` is server rank
  // k's receiver. Throws ConfigError (no endpoints, bad endpoint, CURVE keys) or IoError.
  Front(const ReceiverConfig& config, std::uint64_t admission_key,
        std::vector<std::string> data_endpoints);
  ~Front();
  Front(const Front&) = delete;
  Front& operator=(const Front&) = delete;

  // The bound handshake endpoint, with the chosen port (what members are given).
  [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }
  [[nodiscard]] FrontStats stats() const;
  // The server rank a simulation was assigned to, or -1 if it never shook hands.
  [[nodiscard]] int assigned_rank(std::uint64_t simulation) const;
  // Assigns `simulation` to server rank `rank` before its handshake (a resumed study puts a
  // relaunched member where its earlier samples are). Throws ConfigError for a rank that does
  // not exist.
  void assign(std::uint64_t simulation, std::uint32_t rank);
  // With config.require_tickets: admits `simulation` from now on, to members that send
  // `ticket` in their HELLO (the launcher's secret for this launch; replaces an earlier one).
  void expect(std::uint64_t simulation, const std::string& ticket);
  // No more handshakes for `simulation` (its member is done, failed or redrawn).
  void revoke(std::uint64_t simulation);
  // Stops the thread (idempotent).
  void stop();

 private:
  void run();
  // The reply to one HELLO message.
  std::vector<std::byte> answer(Bytes hello);
  // Why an announcement differs from config_.expected, or "".
  [[nodiscard]] std::string mismatch(const Announcement& a) const;
  // One warning per reason per reject_log_interval_ms; the others are counted in the next.
  void log_refusal(RefusalReason why, const std::string& text);

  struct Zmq;
  ReceiverConfig config_;
  std::uint64_t admission_key_;
  std::vector<std::string> data_endpoints_;
  std::unique_ptr<Zmq> zmq_;
  std::string endpoint_;
  mutable std::mutex mutex_;  // guards stats_ and assignment_
  FrontStats stats_;
  std::unordered_map<std::uint64_t, std::uint32_t> assignment_;
  std::unordered_map<std::uint64_t, std::string> tickets_;  // expected simulations
  std::array<std::chrono::steady_clock::time_point, kRefusalReasons> last_logged_{};
  std::array<std::uint64_t, kRefusalReasons> unlogged_{};
  std::uint32_t next_rank_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace surge::streaming
