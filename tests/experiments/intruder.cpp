// A stranger on the server's ports, for the security tests (experiments/README.md,
// "Security"): to every endpoint given it connects twice, once without CURVE and once as a
// CURVE client that knows the server's public key but holds its own key pair, and sends the
// control channel's texts (`final`, `role`, `live`). Each socket tries once (no reconnection)
// and is watched until its handshake ends. Prints one line per attempt and a summary; exits 1
// if any attempt was admitted.
// usage: intruder <server public key file> tcp://HOST:PORT ...
#include <zmq.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "surge/streaming/curve.hpp"

namespace {

enum class Outcome { waiting, admitted, refused };

struct Attempt {
  std::string endpoint, kind;
  zmq::socket_t socket, monitor;
  Outcome outcome = Outcome::waiting;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: intruder <server public key file> tcp://HOST:PORT ...\n");
    return 2;
  }
  try {
    const std::string server_key = surge::streaming::read_curve_key(argv[1]);
    const surge::streaming::CurveKeyPair own = surge::streaming::make_curve_keypair();
    zmq::context_t ctx;
    std::vector<Attempt> attempts;
    int counter = 0;
    for (int i = 2; i < argc; ++i) {
      for (const char* kind : {"plain", "curve"}) {
        Attempt a{argv[i], kind, zmq::socket_t(ctx, zmq::socket_type::push),
                  zmq::socket_t(ctx, zmq::socket_type::pair)};
        a.socket.set(zmq::sockopt::linger, 0);
        a.socket.set(zmq::sockopt::reconnect_ivl, -1);
        if (std::strcmp(kind, "curve") == 0) {
          a.socket.set(zmq::sockopt::curve_serverkey, server_key);
          a.socket.set(zmq::sockopt::curve_publickey, own.public_key);
          a.socket.set(zmq::sockopt::curve_secretkey, own.secret_key);
        }
        const std::string address = "inproc://intruder-monitor-" + std::to_string(counter++);
        if (zmq_socket_monitor(a.socket.handle(), address.c_str(), ZMQ_EVENT_ALL) != 0) {
          throw zmq::error_t();
        }
        a.monitor.connect(address);
        a.socket.connect(a.endpoint);
        // What a stranger would tell the server ranks: reception is over, member 0 is a
        // training member, member 0 was heard from just now.
        for (const char* text : {"final", "role 0 1", "live 0 0", "delivered 0 11"}) {
          (void)a.socket.send(zmq::buffer(std::string(text)), zmq::send_flags::dontwait);
        }
        attempts.push_back(std::move(a));
      }
    }
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int waiting = static_cast<int>(attempts.size());
    while (waiting > 0 && std::chrono::steady_clock::now() < end) {
      for (auto& a : attempts) {
        zmq::message_t event, address;
        while (a.outcome == Outcome::waiting && a.monitor.recv(event, zmq::recv_flags::dontwait)) {
          if (event.more()) (void)a.monitor.recv(address);
          std::uint16_t id = 0;
          std::memcpy(&id, event.data(), 2);
          if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            a.outcome = Outcome::admitted;
          } else if (id & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                           ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED)) {
            a.outcome = Outcome::refused;
          }
          if (a.outcome != Outcome::waiting) --waiting;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    int admitted = 0, refused = 0;
    for (const auto& a : attempts) {
      const char* what = a.outcome == Outcome::admitted  ? "ADMITTED"
                         : a.outcome == Outcome::refused ? "refused"
                                                         : "no answer";
      std::printf("intruder: %s %s: %s\n", a.endpoint.c_str(), a.kind.c_str(), what);
      admitted += a.outcome == Outcome::admitted;
      refused += a.outcome == Outcome::refused;
    }
    std::printf("intruder: %d attempts, %d refused, %d admitted, %d without answer\n",
                static_cast<int>(attempts.size()), refused, admitted,
                static_cast<int>(attempts.size()) - refused - admitted);
    return admitted == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "intruder: %s\n", e.what());
    return 2;
  }
}
