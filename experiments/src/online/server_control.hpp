#pragma once
// The server ranks' control channel (ZeroMQ between the server ranks' threads). Only main
// threads may call MPI, but the feeder threads must learn when reception is over and the
// launcher (rank 0) when a member assigned to another rank went silent, while the main
// threads are busy training. So every rank binds a PULL socket; rank 0 pushes to every other
// rank the role of each redrawn member, the simulations given up (whose state every rank
// frees) and, once the launcher has finished, the simulations whose end each rank must see;
// the other ranks push to rank 0, every 250 ms, how long ago
// they last heard of each of their members and the steps each member whose END they saw
// delivered (when that changed). On one rank it is the same code without peers.
//
// Nobody outside the server may steer it (end reception early, move a member between
// training and validation, hide a hung member): every PULL socket is a CURVE server whose
// ZAP handler admits only the ranks' client key, both pairs made by rank 0 for this study
// and broadcast over MPI (never written to disk). Messages that do not parse are dropped
// and counted, as are peers that fail the handshake.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "study/study_keys.hpp"
#include "surge/experiments/launcher.hpp"
#include "surge/streaming/authentication.hpp"
#include "surge/streaming/curve.hpp"
#include "surge/streaming/receiver.hpp"

namespace surge::experiments {

// What reached a rank's control socket and was not obeyed.
struct ControlRefusals {
  std::uint64_t curve_refused = 0;       // CURVE clients without the ranks' key (ZAP 400)
  std::uint64_t handshake_failures = 0;  // failed handshakes (no CURVE, wrong server key...)
  std::uint64_t malformed = 0;           // messages that did not parse, dropped
  [[nodiscard]] std::uint64_t total() const noexcept {
    // A ZAP refusal also ends as a failed handshake: count it once.
    return std::max(curve_refused, handshake_failures) + malformed;
  }
};

class ServerControl {
 public:
  using Liveness = std::function<std::vector<streaming::MemberStatus>()>;
  // This rank's simulations whose END was seen, with the steps they delivered.
  using Deliveries = std::function<std::map<std::uint64_t, std::int64_t>()>;
  // Rank 0: the simulations each rank must see end, once the launcher has finished.
  using FinalLists = std::function<std::optional<std::vector<std::vector<std::uint64_t>>>()>;
  // Other ranks: frees what this rank holds of a simulation rank 0 gave up (redrew).
  using Forget = std::function<void(std::uint64_t)>;
  // What the thread asks of the rest of the rank. Each may be empty; the thread calls them
  // without holding its lock.
  struct Hooks {
    Liveness liveness;       // other ranks: reported to rank 0
    FinalLists final_lists;  // rank 0: published to every rank once it has them
    Deliveries deliveries;   // other ranks: reported to rank 0 when they change
    Forget forget;           // other ranks: on rank 0's word
  };

  // Binds the PULL socket on the host of `data_endpoint` (a kernel-chosen port), a CURVE
  // server with `keys`. Throws ConfigError if it cannot (or if libzmq has no CURVE).
  ServerControl(int rank, int size, const std::string& data_endpoint, const ControlKeys& keys);
  ~ServerControl() { stop(); }
  ServerControl(const ServerControl&) = delete;
  ServerControl& operator=(const ServerControl&) = delete;

  [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }

  // Connects to the other ranks (`endpoints[k]` is rank k's) and starts the thread.
  void start(const std::vector<std::string>& endpoints, Hooks hooks);
  // Publishes what is left (rank 0) and stops the thread (idempotent).
  void stop();
  // Why the thread stopped early ("" while it runs or if it stopped when told). The thread
  // never lets an exception out; the main thread turns this into a clean stop.
  [[nodiscard]] std::string error() const;

  // Records a member's role on this rank only (the initial members: every rank knows them).
  void set_role(std::uint64_t simulation, MemberRole role);
  // Rank 0: records a redrawn member's role here and sends it to every other rank.
  void announce_role(std::uint64_t simulation, MemberRole role);
  // Rank 0: tells every other rank to free what it holds of `simulation` (given up and
  // redrawn; its later messages are rejected as after_end). Rank 0 frees its own itself.
  void announce_forget(std::uint64_t simulation);
  // The role of `simulation`, waiting until rank 0 has said it; nothing if `give_up` is set
  // first.
  [[nodiscard]] std::optional<MemberRole> role_of(std::uint64_t simulation,
                                                  const std::atomic<bool>& give_up);
  // As above, but waits at most `patience` (data of a simulation rank 0 never
  // launched must not hold the feeder).
  [[nodiscard]] std::optional<MemberRole> role_of(std::uint64_t simulation,
                                                  const std::atomic<bool>& give_up,
                                                  std::chrono::milliseconds patience);
  // The simulations this rank must see end before reception is over, once rank 0 knows.
  [[nodiscard]] std::optional<std::set<std::uint64_t>> expected_ends() const;
  // Rank 0: seconds since another rank last heard of `simulation`, or -1 if none did.
  [[nodiscard]] double remote_silence(std::uint64_t simulation) const;
  // Rank 0: the steps `simulation` delivered on the other rank that saw its END, or nothing
  // while no rank has reported one.
  [[nodiscard]] std::optional<std::int64_t> remote_delivered(std::uint64_t simulation) const;
  // What this rank's control socket refused so far.
  [[nodiscard]] ControlRefusals refusals() const;

 private:
  // Obeys one message; false (nothing changed) if it does not parse or is not one this
  // rank takes.
  bool handle(const std::string& text);
  void run();
  void loop();

  int rank_, size_;
  ControlKeys keys_;
  zmq::context_t context_;
  std::unique_ptr<streaming::ZapHandler> zap_;  // destroyed before the context
  std::unique_ptr<streaming::HandshakeMonitor> monitor_;
  zmq::socket_t in_;
  std::vector<std::pair<int, zmq::socket_t>> out_;  // rank 0: to every rank; others: to rank 0
  std::string endpoint_;
  Hooks hooks_;
  std::map<std::uint64_t, std::int64_t> reported_;  // deliveries sent to rank 0 (other ranks)
  mutable std::mutex mutex_;                        // guards everything below
  std::condition_variable role_known_;
  std::map<std::uint64_t, MemberRole> roles_;
  std::vector<std::string> outgoing_;  // rank 0: messages for every other rank, in order
  std::optional<std::set<std::uint64_t>> expected_;
  std::map<std::uint64_t, streaming::Clock::time_point> last_seen_;
  std::map<std::uint64_t, std::int64_t> remote_delivered_;
  std::string error_;
  std::atomic<std::uint64_t> handshake_failures_{0}, malformed_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace surge::experiments
