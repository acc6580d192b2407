#include "online/server_control.hpp"

#include <charconv>
#include <chrono>
#include <cmath>
#include <sstream>

#include "surge/core/error.hpp"
#include "surge/streaming/front.hpp"

namespace surge::experiments {

namespace {

// Parses one number token, all of it; nothing otherwise.
template <class T>
std::optional<T> number(const std::string& token) {
  T value{};
  const char* end = token.data() + token.size();
  const auto [at, error] = std::from_chars(token.data(), end, value);
  if (error != std::errc() || at != end) return std::nullopt;
  return value;
}

}  // namespace

ServerControl::ServerControl(int rank, int size, const std::string& data_endpoint,
                             const ControlKeys& keys)
    : rank_(rank), size_(size), keys_(keys), context_(1), in_(context_, zmq::socket_type::pull) {
  std::string host = "127.0.0.1";
  if (data_endpoint.rfind("tcp://", 0) == 0 && data_endpoint.rfind(':') > 5) {
    host = data_endpoint.substr(6, data_endpoint.rfind(':') - 6);
  }
  SURGE_REQUIRE(streaming::curve_available(), ConfigError,
                "this libzmq has no CURVE support (zmq_has(\"curve\") is false), which the "
                "server ranks' control channel needs; build libzmq with libsodium");
  // The handler is bound before the socket: no peer is ever admitted unchecked.
  zap_ = std::make_unique<streaming::ZapHandler>(
      context_, std::vector<std::string>{keys_.client.public_key},
      "control channel of server rank " + std::to_string(rank), std::chrono::seconds(1));
  in_.set(zmq::sockopt::curve_server, 1);
  in_.set(zmq::sockopt::curve_secretkey, keys_.server.secret_key);
  // Control messages are short text; a peer sending more is not a server rank.
  in_.set(zmq::sockopt::maxmsgsize, std::int64_t{64} << 20);
  monitor_ = std::make_unique<streaming::HandshakeMonitor>(context_, in_);
  in_.set(zmq::sockopt::linger, 0);
  try {
    in_.bind("tcp://" + host + ":*");
  } catch (const zmq::error_t& e) {
    SURGE_THROW(ConfigError, "cannot bind the server control socket on '"
                                 << host << "' (from streaming.data_endpoint): " << e.what());
  }
  endpoint_ = streaming::connectable_endpoint(in_.get(zmq::sockopt::last_endpoint));
}

void ServerControl::start(const std::vector<std::string>& endpoints, Hooks hooks) {
  hooks_ = std::move(hooks);
  for (int k = 0; k < size_; ++k) {
    if (k == rank_ || (rank_ != 0 && k != 0)) continue;
    zmq::socket_t s(context_, zmq::socket_type::push);
    // Long enough for the last messages to leave when the socket closes.
    s.set(zmq::sockopt::linger, 5000);
    s.set(zmq::sockopt::curve_serverkey, keys_.server.public_key);
    s.set(zmq::sockopt::curve_publickey, keys_.client.public_key);
    s.set(zmq::sockopt::curve_secretkey, keys_.client.secret_key);
    s.connect(endpoints[static_cast<std::size_t>(k)]);
    out_.emplace_back(k, std::move(s));
  }
  thread_ = std::thread([this] { run(); });
}

void ServerControl::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string ServerControl::error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_;
}

void ServerControl::set_role(std::uint64_t simulation, MemberRole role) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    roles_[simulation] = role;
  }
  role_known_.notify_all();
}

void ServerControl::announce_role(std::uint64_t simulation, MemberRole role) {
  set_role(simulation, role);
  std::lock_guard<std::mutex> lock(mutex_);
  outgoing_.push_back("role " + std::to_string(simulation) + " " +
                      (role == MemberRole::validation ? "0" : "1"));
}

void ServerControl::announce_forget(std::uint64_t simulation) {
  std::lock_guard<std::mutex> lock(mutex_);
  outgoing_.push_back("forget " + std::to_string(simulation));
}

std::optional<MemberRole> ServerControl::role_of(std::uint64_t simulation,
                                                 const std::atomic<bool>& give_up) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!roles_.count(simulation)) {
    if (give_up) return std::nullopt;
    role_known_.wait_for(lock, std::chrono::milliseconds(50));
  }
  return roles_.at(simulation);
}

std::optional<MemberRole> ServerControl::role_of(std::uint64_t simulation,
                                                 const std::atomic<bool>& give_up,
                                                 std::chrono::milliseconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!roles_.count(simulation) && !give_up && std::chrono::steady_clock::now() < deadline) {
    role_known_.wait_for(lock, std::chrono::milliseconds(50));
  }
  const auto it = roles_.find(simulation);
  if (it == roles_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::set<std::uint64_t>> ServerControl::expected_ends() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return expected_;
}

double ServerControl::remote_silence(std::uint64_t simulation) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = last_seen_.find(simulation);
  if (it == last_seen_.end()) return -1.0;
  return std::chrono::duration<double>(streaming::Clock::now() - it->second).count();
}

std::optional<std::int64_t> ServerControl::remote_delivered(std::uint64_t simulation) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = remote_delivered_.find(simulation);
  if (it == remote_delivered_.end()) return std::nullopt;
  return it->second;
}

ControlRefusals ServerControl::refusals() const {
  ControlRefusals r;
  r.curve_refused = zap_->refused();
  r.handshake_failures = handshake_failures_;
  r.malformed = malformed_;
  return r;
}

bool ServerControl::handle(const std::string& text) {
  // Parsed whole before anything is applied: a message that does not parse changes nothing.
  std::istringstream in(text);
  std::string kind, token;
  in >> kind;
  std::vector<std::string> tokens;
  while (in >> token) tokens.push_back(token);
  // Rank 0 sends roles, simulations given up and final lists; the other ranks report
  // liveness and deliveries.
  const bool from_rank0 = kind == "role" || kind == "forget" || kind == "final";
  const bool to_rank0 = kind == "live" || kind == "delivered";
  if ((rank_ == 0 && !to_rank0) || (rank_ != 0 && !from_rank0)) return false;
  if (kind == "role") {
    if (tokens.size() != 2) return false;
    const auto sim = number<std::uint64_t>(tokens[0]);
    const auto role = number<int>(tokens[1]);
    if (!sim || !role || (*role != 0 && *role != 1)) return false;
    set_role(*sim, *role == 0 ? MemberRole::validation : MemberRole::train);
  } else if (kind == "forget") {
    if (tokens.size() != 1) return false;
    const auto sim = number<std::uint64_t>(tokens[0]);
    if (!sim) return false;
    if (hooks_.forget) hooks_.forget(*sim);
  } else if (kind == "final") {
    std::set<std::uint64_t> ids;
    for (const auto& t : tokens) {
      const auto sim = number<std::uint64_t>(t);
      if (!sim) return false;
      ids.insert(*sim);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    expected_ = std::move(ids);
  } else if (kind == "delivered") {
    if (tokens.size() % 2 != 0) return false;
    std::vector<std::pair<std::uint64_t, std::int64_t>> pairs;
    for (std::size_t i = 0; i < tokens.size(); i += 2) {
      const auto sim = number<std::uint64_t>(tokens[i]);
      const auto steps = number<std::int64_t>(tokens[i + 1]);
      if (!sim || !steps) return false;
      pairs.emplace_back(*sim, *steps);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [sim, steps] : pairs) remote_delivered_[sim] = steps;
  } else if (kind == "live") {
    if (tokens.size() % 2 != 0) return false;
    std::vector<std::pair<std::uint64_t, double>> pairs;
    for (std::size_t i = 0; i < tokens.size(); i += 2) {
      const auto sim = number<std::uint64_t>(tokens[i]);
      const auto quiet = number<double>(tokens[i + 1]);
      if (!sim || !quiet || !std::isfinite(*quiet) || *quiet < 0) return false;
      pairs.emplace_back(*sim, *quiet);
    }
    const auto now = streaming::Clock::now();
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [sim, quiet] : pairs) {
      const auto seen = now - std::chrono::duration_cast<streaming::Clock::duration>(
                                  std::chrono::duration<double>(quiet));
      auto [it, fresh] = last_seen_.emplace(sim, seen);
      if (!fresh && seen > it->second) it->second = seen;
    }
  }
  return true;
}

void ServerControl::run() {
  // Never lets an exception out (a ZeroMQ error, a full disk under a log line): the main
  // thread reads error() and stops the study cleanly.
  try {
    loop();
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::string("the control thread failed: ") + e.what();
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = "the control thread failed: unknown exception";
  }
}

void ServerControl::loop() {
  auto last_report = streaming::Clock::now() - std::chrono::seconds(1);
  bool published = false;
  while (true) {
    const bool stopping = stop_;
    zmq::pollitem_t items[] = {{in_.handle(), 0, ZMQ_POLLIN, 0},
                               {monitor_->socket().handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(stopping ? 0 : 50));
    if (items[1].revents & ZMQ_POLLIN) handshake_failures_ += monitor_->drain();
    zmq::message_t message;
    while (in_.recv(message, zmq::recv_flags::dontwait)) {
      if (message.more() || !handle(message.to_string())) {
        ++malformed_;
        while (message.more() && in_.recv(message, zmq::recv_flags::dontwait)) {
        }
      }
    }
    if (rank_ == 0) {
      std::vector<std::string> messages;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        messages.swap(outgoing_);
      }
      for (const auto& text : messages) {
        for (auto& [k, s] : out_) s.send(zmq::buffer(text), zmq::send_flags::none);
      }
      if (!published && hooks_.final_lists) {
        if (auto lists = hooks_.final_lists()) {
          published = true;
          for (auto& [k, s] : out_) {
            std::string text = "final";
            for (auto sim : (*lists)[static_cast<std::size_t>(k)]) {
              text += " " + std::to_string(sim);
            }
            s.send(zmq::buffer(text), zmq::send_flags::none);
          }
          const auto& own = (*lists)[0];
          std::lock_guard<std::mutex> lock(mutex_);
          expected_ = std::set<std::uint64_t>(own.begin(), own.end());
        }
      }
    } else if (streaming::Clock::now() - last_report > std::chrono::milliseconds(250)) {
      last_report = streaming::Clock::now();
      std::map<std::uint64_t, double> quiet;
      std::set<std::uint64_t> open;  // ended on every rank: no longer reported
      std::vector<streaming::MemberStatus> members;
      if (hooks_.liveness) members = hooks_.liveness();
      for (const auto& m : members) {
        const double q = std::chrono::duration<double>(last_report - m.last_seen).count();
        auto [it, fresh] = quiet.emplace(m.simulation, q);
        if (!fresh) it->second = std::min(it->second, q);
        if (!m.ended) open.insert(m.simulation);
      }
      std::ostringstream text;
      text.precision(6);
      text << "live";
      for (const auto& [sim, q] : quiet) {
        if (open.count(sim)) text << ' ' << sim << ' ' << q;
      }
      out_.front().second.send(zmq::buffer(text.str()), zmq::send_flags::none);
      if (hooks_.deliveries) {
        std::string changed;
        for (const auto& [sim, steps] : hooks_.deliveries()) {
          auto [it, fresh] = reported_.emplace(sim, steps);
          if (!fresh && it->second == steps) continue;
          it->second = steps;
          changed += " " + std::to_string(sim) + " " + std::to_string(steps);
        }
        if (!changed.empty()) {
          const std::string message = "delivered" + changed;
          out_.front().second.send(zmq::buffer(message), zmq::send_flags::none);
        }
      }
    }
    if (stopping) break;
  }
}

}  // namespace surge::experiments
