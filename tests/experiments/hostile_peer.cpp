// A hostile local process against a live `surge run` (issue 14): handshakes the study must
// refuse, messages its receiver must drop, and a crowd of idle TCP connections. It prints,
// for the checker, what each attack must have added to results.h5's streaming/ counters:
//   expect <counter> <n>        exactly n
//   expect_sum <c1>+<c2> <n>    the two together exactly n (which one depends on timing)
// and exits non-zero if the server answered a handshake otherwise than expected.
//
// usage: hostile_peer --member vx=V kappa=K   (see member_main)
//        hostile_peer <front endpoint> <data endpoint> <experiment> <field> <nx> <ny>
//                     <parameters> <member ranks> <max_message_bytes> <idle connections>
//                     <hold seconds> <simulation ids to forge tickets and DATA for>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "surge/streaming/protocol.hpp"

using namespace surge::streaming;

namespace {

struct Study {
  std::string experiment, field;
  std::uint64_t nx = 0, ny = 0;
  std::uint32_t parameters = 0, ranks = 1;
  std::uint64_t max_message_bytes = 0;
};

Announcement genuine(const Study& s, std::uint64_t simulation) {
  Announcement a;
  a.experiment = s.experiment;
  a.simulation = simulation;
  a.member_rank = 0;
  a.member_size = s.ranks;
  a.dtype = DType::float32;
  a.parameter_count = s.parameters;
  a.fields = {{s.field, {s.nx, s.ny}}};
  return a;
}

std::vector<std::byte> hello_message(const Announcement& a, const std::string& ticket) {
  Header h;
  h.kind = MessageKind::hello;
  h.simulation = a.simulation;
  h.member_rank = a.member_rank;
  const std::vector<std::byte> payload = encode_hello(a, ticket);
  return encode_message(h, {}, Bytes(payload.data(), payload.size()), kChecksumSeed);
}

// The front's answer to `hello`: the refusal reason, 0 for a WELCOME, -1 for no answer within
// 10 s, -2 for an answer too short to hold a reason.
int ask_front(zmq::context_t& ctx, const std::string& front, const std::vector<std::byte>& hello,
              std::string* text = nullptr) {
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(front);
  dealer.send(zmq::buffer(hello), zmq::send_flags::none);
  zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, std::chrono::milliseconds(10000));
  zmq::message_t answer;
  if (!(item.revents & ZMQ_POLLIN) || !dealer.recv(answer, zmq::recv_flags::dontwait)) return -1;
  if (answer.size() < kHeaderBytes + 4) return -2;
  const auto* b = static_cast<const unsigned char*>(answer.data());
  if (static_cast<MessageKind>(b[6]) == MessageKind::welcome) return 0;
  ByteReader r(Bytes(static_cast<const std::byte*>(answer.data()) + kHeaderBytes,
                     answer.size() - kHeaderBytes));
  const int reason = static_cast<int>(r.u32());
  if (text) *text = r.string(4096);
  return reason;
}

// A well-formed DATA of rank 0, checksummed with the public seed (all a stranger can do).
std::vector<std::byte> data_block(const Study& s, std::uint64_t simulation, std::int64_t step,
                                  std::uint64_t rows) {
  Header h;
  h.kind = MessageKind::data;
  h.dtype = DType::float32;
  h.simulation = simulation;
  h.step = step;
  h.ndim = 2;
  h.parameter_count = s.parameters;
  h.extent = {rows, s.ny, 0, 0};
  const std::vector<double> params(s.parameters, 1.0);
  std::vector<float> payload(rows * s.ny, 0.5f);
  h.payload_bytes = payload.size() * sizeof(float);
  return encode_message(
      h, Span<const double>(params.data(), params.size()),
      Bytes(reinterpret_cast<const std::byte*>(payload.data()), payload.size() * sizeof(float)),
      kChecksumSeed);
}

// A well-formed END of rank 0 with the public seed.
std::vector<std::byte> end_message(std::uint64_t simulation, std::int64_t step) {
  Header h;
  h.kind = MessageKind::end;
  h.simulation = simulation;
  h.step = step;
  return encode_message(h, {}, {}, kChecksumSeed);
}

// Opens `n` TCP connections to host:port of a tcp:// endpoint and keeps them idle.
std::vector<int> idle_connections(const std::string& endpoint, int n) {
  const std::string rest = endpoint.substr(6);  // after tcp://
  const std::string host = rest.substr(0, rest.rfind(':'));
  const int port = std::atoi(rest.substr(rest.rfind(':') + 1).c_str());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd);
      break;
    }
    fds.push_back(fd);
  }
  return fds;
}

// A member with a genuine ticket gone bad (`--member vx=V kappa=K`, as the external solver
// of hostile_members.yaml): it first announces a wrong shape, member size and parameter count
// and a 4 TiB field (refused: wrong_announcement x 3, too_large) and sends a wrong ticket
// (bad_ticket), then shakes hands as the protocol says, delivers its 10 frames of a
// 16 x 16 float64 field `u`, and also sends what the receiver and the feeder must drop, each
// exactly once: steps -1, 2^63-1 and 10 past the frames (bad_step), a duplicate, a block
// outside the shape, a float32 block (malformed), and data after END. Midway it also plays
// a stranger who knows its simulation id and its receiver's port: a DATA of a step not yet
// sent and an END, checksummed with the public seed instead of the rank's key
// (unauthenticated). It sends them on its own connection, so that they certainly arrive
// while the simulation runs (a stranger's connection has no order with the member's END:
// hostile_input.py's attacker sends them so). Accepted, the DATA would make the genuine step
// a duplicate and the END would end the member early. (A one-rank member sends whole
// fields: the pending bounds are tested on the assembler.)
int member_main(int argc, char** argv) {
  std::map<std::string, double> p;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    p[a.substr(0, a.find('='))] = std::atof(a.substr(a.find('=') + 1).c_str());
  }
  const char* endpoint = std::getenv("SURGE_ENDPOINT");
  const char* experiment = std::getenv("SURGE_EXPERIMENT");
  const char* simulation = std::getenv("SURGE_SIMULATION_ID");
  const char* ticket = std::getenv("SURGE_MEMBER_TICKET");
  if (!endpoint || !experiment || !simulation || !ticket) {
    std::fprintf(stderr, "hostile_peer --member: not started by surge run\n");
    return 2;
  }
  constexpr std::uint64_t kN = 16;
  Announcement a;
  a.experiment = experiment;
  a.simulation = std::strtoull(simulation, nullptr, 10);
  a.dtype = DType::float64;
  a.parameter_count = 2;
  a.fields = {{"u", {kN, kN}}};
  zmq::context_t ctx;
  // First what the front must refuse although the ticket is genuine (or of this member).
  auto refused = [&](const Announcement& bad, const std::string& with, RefusalReason want) {
    if (ask_front(ctx, endpoint, hello_message(bad, with)) == static_cast<int>(want)) return true;
    std::fprintf(stderr, "hostile_peer --member: error: not refused as %s\n", key_of(want));
    return false;
  };
  Announcement bad = a;
  bad.fields[0].shape = {kN, kN + 1};
  bool ok = refused(bad, ticket, RefusalReason::wrong_announcement);
  bad = a;
  bad.member_size = 2;  // solver.ranks is 1 (an external member may send either dtype)
  ok = refused(bad, ticket, RefusalReason::wrong_announcement) && ok;
  bad = a;
  bad.parameter_count = 3;
  ok = refused(bad, ticket, RefusalReason::wrong_announcement) && ok;
  bad = a;
  bad.fields[0].shape = {std::uint64_t{1} << 20, std::uint64_t{1} << 20};
  ok = refused(bad, ticket, RefusalReason::too_large) && ok;
  ok = refused(a, std::string(ticket) + "0", RefusalReason::bad_ticket) && ok;
  if (!ok) return 3;
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(endpoint);
  const std::vector<std::byte> hello = hello_message(a, ticket);
  dealer.send(zmq::buffer(hello), zmq::send_flags::none);
  zmq::message_t answer;
  if (!dealer.recv(answer)) return 3;
  const DecodeResult d =
      decode_frame(Bytes(static_cast<const std::byte*>(answer.data()), answer.size()), {}, 1 << 20,
                   kChecksumSeed);
  if (!d.ok() || d.frame->header.kind != MessageKind::welcome) {
    std::fprintf(stderr, "hostile_peer --member: error: not welcome\n");
    return 3;
  }
  ByteReader r(d.frame->payload);
  const std::uint32_t server_rank = r.u32();
  const std::uint64_t admission = r.u64();
  const std::string data = r.string(1024);
  zmq::socket_t push(ctx, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 10000);
  push.connect(data);
  auto send = [&](const std::vector<std::byte>& m) { push.send(zmq::buffer(m)); };
  {
    ByteWriter w;
    w.u64(admission);
    w.u32(server_rank);
    const std::vector<std::byte> ann = encode_announcement(a);
    w.bytes(Bytes(ann.data(), ann.size()));
    Header h;
    h.kind = MessageKind::declare;
    h.simulation = a.simulation;
    send(encode_message(h, {}, Bytes(w.buffer().data(), w.buffer().size()), kChecksumSeed));
  }
  const std::uint64_t seed = member_seed(admission);  // the key of DATA and END
  const std::vector<double> params = {p["vx"], p["kappa"]};
  auto block = [&](std::int64_t step, std::uint64_t row0, std::uint64_t rows, DType dtype,
                   std::uint64_t with = 0) {
    Header h;
    h.kind = MessageKind::data;
    h.dtype = dtype;
    h.simulation = a.simulation;
    h.step = step;
    h.time = 0.05 * static_cast<double>(step);
    h.ndim = 2;
    h.parameter_count = 2;
    h.offset = {row0, 0, 0, 0};
    h.extent = {rows, kN, 0, 0};
    std::vector<double> values(rows * kN);
    for (std::size_t i = 0; i < values.size(); ++i)
      values[i] = params[0] * std::sin(0.1 * static_cast<double>(i + row0 * kN) + h.time);
    std::vector<std::byte> bytes(values.size() * dtype_size(dtype));
    if (dtype == DType::float32) {
      for (std::size_t i = 0; i < values.size(); ++i) {
        const float f = static_cast<float>(values[i]);
        std::memcpy(bytes.data() + 4 * i, &f, 4);
      }
    } else {
      std::memcpy(bytes.data(), values.data(), bytes.size());
    }
    h.payload_bytes = bytes.size();
    return encode_message(h, Span<const double>(params.data(), params.size()),
                          Bytes(bytes.data(), bytes.size()), with ? with : seed);
  };
  for (const std::int64_t step : {0, 2, 1, 3, 4}) send(block(step, 0, kN, DType::float64));
  send(block(3, 0, kN, DType::float64));                                         // duplicate
  send(block(-1, 0, kN, DType::float64));                                        // bad_step
  send(block(std::numeric_limits<std::int64_t>::max(), 0, kN, DType::float64));  // bad_step
  send(block(5, 8, kN, DType::float64));                                         // outside_shape
  send(block(5, 0, kN, DType::float32));                                         // malformed
  send(block(5, 0, kN, DType::float64, kChecksumSeed));                          // unauthenticated
  send(end_message(a.simulation, 5));                                            // unauthenticated
  for (std::int64_t step = 5; step < 10; ++step) send(block(step, 0, kN, DType::float64));
  send(block(10, 0, kN, DType::float64));  // past the frames: bad_step
  Header end;
  end.kind = MessageKind::end;
  end.simulation = a.simulation;
  end.step = 10;
  send(encode_message(end, {}, {}, seed));
  send(block(6, 0, kN, DType::float64));  // after END
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--member") return member_main(argc, argv);
  if (argc < 12) {
    std::fprintf(stderr, "usage: see the head of hostile_peer.cpp\n");
    return 2;
  }
  const std::string front = argv[1], data = argv[2];
  Study s;
  s.experiment = argv[3];
  s.field = argv[4];
  s.nx = std::strtoull(argv[5], nullptr, 10);
  s.ny = std::strtoull(argv[6], nullptr, 10);
  s.parameters = static_cast<std::uint32_t>(std::atoi(argv[7]));
  s.ranks = static_cast<std::uint32_t>(std::atoi(argv[8]));
  s.max_message_bytes = std::strtoull(argv[9], nullptr, 10);
  const int idle = std::atoi(argv[10]);
  const int hold_s = std::atoi(argv[11]);
  std::vector<std::uint64_t> live;
  for (int i = 12; i < argc; ++i) live.push_back(std::strtoull(argv[i], nullptr, 10));

  zmq::context_t ctx;
  int failures = 0;
  std::map<std::string, int> expect;
  // A stranger learns nothing of the study from a refusal, not even its name.
  auto handshake = [&](const char* what, const std::vector<std::byte>& hello, RefusalReason want) {
    std::string text;
    const int got = ask_front(ctx, front, hello, &text);
    if (got != static_cast<int>(want)) {
      std::fprintf(stderr, "hostile_peer: %s: %s %d, expected refusal %d\n", what,
                   got == -1   ? "no answer within 10 s"
                   : got == -2 ? "an answer too short to read"
                               : "answer",
                   got, static_cast<int>(want));
      ++failures;
    }
    if (text.find(s.experiment) != std::string::npos) {
      std::fprintf(stderr, "hostile_peer: %s: the refusal names the study: %s\n", what,
                   text.c_str());
      ++failures;
    }
    ++expect[std::string("refused_") + key_of(want)];
  };

  // --- Handshakes: a process the launcher did not start is refused before anything else is
  // looked at, however odd its announcement (hostile_members.yaml has members with genuine
  // tickets announcing the wrong things). ---
  constexpr std::uint64_t kStranger = 999999;
  const std::string forged(32, 'f');
  Announcement a = genuine(s, kStranger);
  a.fields[0].shape = {s.nx + 1, s.ny};
  handshake("wrong shape", hello_message(a, forged), RefusalReason::unknown_simulation);
  a = genuine(s, kStranger);
  a.dtype = DType::float64;
  handshake("wrong dtype", hello_message(a, forged), RefusalReason::unknown_simulation);
  a = genuine(s, kStranger);
  a.parameter_count = s.parameters + 1;
  handshake("wrong parameter count", hello_message(a, forged), RefusalReason::unknown_simulation);
  a = genuine(s, kStranger);
  a.member_size = kMaxMemberSize;  // a per-rank table of 2^20 entries, if it were admitted
  handshake("huge member size", hello_message(a, forged), RefusalReason::unknown_simulation);
  a = genuine(s, kStranger);
  a.fields[0].shape = {std::uint64_t{1} << 20, std::uint64_t{1} << 20};  // 4 TiB
  handshake("huge field", hello_message(a, forged), RefusalReason::unknown_simulation);
  a = genuine(s, kStranger);
  a.experiment = "intruder";
  handshake("wrong experiment", hello_message(a, forged), RefusalReason::wrong_experiment);
  handshake("unknown simulation", hello_message(genuine(s, kStranger), ""),
            RefusalReason::unknown_simulation);
  std::vector<std::byte> old = hello_message(genuine(s, kStranger), "");
  old[4] = std::byte{1};  // protocol version 1
  handshake("wrong version", old, RefusalReason::wrong_version);
  handshake("garbage", std::vector<std::byte>(300, std::byte{0x53}), RefusalReason::malformed);
  // Launched members' ids with no ticket and a forged one: refused as bad_ticket while the
  // member runs, as unknown_simulation before it starts or once it is done.
  int forged_tries = 0;
  for (const std::uint64_t sim : live) {
    for (const std::string& t : {std::string(), forged}) {
      const int got = ask_front(ctx, front, hello_message(genuine(s, sim), t));
      if (got != static_cast<int>(RefusalReason::bad_ticket) &&
          got != static_cast<int>(RefusalReason::unknown_simulation)) {
        std::fprintf(stderr, "hostile_peer: forged ticket for %llu: answer %d\n",
                     static_cast<unsigned long long>(sim), got);
        ++failures;
      }
      ++forged_tries;
    }
  }

  // --- Straight to the receiver's data port (no WELCOME needed to find it). ---
  zmq::socket_t push(ctx, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 5000);
  push.connect(data);
  int sent = 0;
  auto send = [&](const std::vector<std::byte>& m, const char* counter) {
    push.send(zmq::buffer(m), zmq::send_flags::none);
    ++sent;
    ++expect[counter];
  };
  const std::vector<std::byte> good = data_block(s, kStranger, 0, s.nx);
  for (int i = 0; i < 5; ++i) {  // truncated: shorter than the header, or than announced
    send(std::vector<std::byte>(good.begin(), good.begin() + 50 + i), "rejected_truncated");
  }
  {
    std::vector<std::byte> m = good;
    m[0] = std::byte{'X'};
    send(m, "rejected_wrong_magic");
    m = good;
    m[4] = std::byte{1};
    send(m, "rejected_wrong_version");
  }
  {
    // A field announced just above max_message_bytes (the header's payload_bytes), and a
    // message that is that large.
    Header h = read_header(good.data());
    h.payload_bytes = s.max_message_bytes - kHeaderBytes - 8 * s.parameters + 1;
    std::vector<std::byte> m(kHeaderBytes);
    write_header(h, m.data());
    send(m, "rejected_oversized");
    std::vector<std::byte> big(static_cast<std::size_t>(s.max_message_bytes) + 64, std::byte{0});
    std::copy(good.begin(), good.begin() + kHeaderBytes, big.begin());
    send(big, "rejected_oversized");
  }
  {
    // A DECLARE without the front's admission ticket, for a member table of 2^20 ranks.
    Announcement d = genuine(s, kStranger);
    d.member_size = kMaxMemberSize;
    ByteWriter w;
    w.u64(0x0123456789ABCDEFULL);
    w.u32(0);
    const std::vector<std::byte> ann = encode_announcement(d);
    w.bytes(Bytes(ann.data(), ann.size()));
    Header h;
    h.kind = MessageKind::declare;
    h.simulation = kStranger;
    const std::vector<std::byte> declare =
        encode_message(h, {}, Bytes(w.buffer().data(), w.buffer().size()), kChecksumSeed);
    send(declare, "rejected_bad_ticket");
    for (int i = 0; i < 5; ++i) {  // one bit flipped in the payload: the checksum catches it
      std::vector<std::byte> m = declare;
      m[m.size() - 1 - static_cast<std::size_t>(i)] ^= std::byte{0x10};
      send(m, "rejected_bad_checksum");
    }
  }
  // Well-formed DATA of a simulation this receiver never admitted: a step without successor,
  // a negative one, duplicates, out of order, and an END then more data.
  for (const std::int64_t step : {std::numeric_limits<std::int64_t>::max(), std::int64_t{-1},
                                  std::int64_t{3}, std::int64_t{3}, std::int64_t{1}}) {
    send(data_block(s, kStranger, step, 1), "rejected_unknown_simulation");
  }
  send(end_message(kStranger, 0), "rejected_unknown_simulation");
  send(data_block(s, kStranger, 4, 1), "rejected_unknown_simulation");
  // A message of three frames is malformed.
  push.send(zmq::buffer(good), zmq::send_flags::sndmore);
  push.send(zmq::buffer(good), zmq::send_flags::sndmore);
  push.send(zmq::buffer(good), zmq::send_flags::none);
  ++sent;
  ++expect["rejected_malformed"];

  // --- A crowd of idle connections, half on each port, held while the study goes on. ---
  std::vector<int> fds = idle_connections(front, idle / 2);
  const std::vector<int> more = idle_connections(data, idle - idle / 2);
  fds.insert(fds.end(), more.begin(), more.end());
  if (static_cast<int>(fds.size()) != idle) {
    std::fprintf(stderr, "hostile_peer: opened %zu of %d idle connections\n", fds.size(), idle);
    ++failures;
  }
  // Meanwhile, well-formed DATA (a whole field) and END with the public seed for the launched
  // ids, every 10 ms: without the key of the member's rank they are dropped, as
  // unauthenticated while the member runs (declared on this receiver, not ended), else as
  // unknown_simulation or after_end. Which one depends on timing: a small study's member
  // streams for milliseconds only, so few or none find it running (hostile_members.yaml's
  // members make sure of a stranger's DATA and END during their stream).
  int forged_data = 0;
  const auto hold_until = std::chrono::steady_clock::now() + std::chrono::seconds(hold_s);
  for (std::int64_t round = 0; std::chrono::steady_clock::now() < hold_until; ++round) {
    for (const std::uint64_t sim : live) {
      push.send(zmq::buffer(data_block(s, sim, 1 + round % 8, s.nx)), zmq::send_flags::none);
      push.send(zmq::buffer(end_message(sim, 9)), zmq::send_flags::none);
      forged_data += 2;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  sent += forged_data;
  // The server must still answer a handshake with all of them open.
  handshake("handshake during the crowd", hello_message(genuine(s, kStranger), ""),
            RefusalReason::unknown_simulation);
  for (const int fd : fds) close(fd);

  // Forged tickets land in one of two counters, forged DATA and END in one of three, the
  // other attacks in exactly one.
  const int unknown = expect["refused_unknown_simulation"];
  expect.erase("refused_unknown_simulation");
  const int unknown_data = expect["rejected_unknown_simulation"];
  expect.erase("rejected_unknown_simulation");
  for (const auto& [counter, n] : expect) std::printf("expect %s %d\n", counter.c_str(), n);
  std::printf("expect_sum refused_bad_ticket+refused_unknown_simulation %d\n",
              forged_tries + unknown);
  std::printf(
      "expect_sum rejected_unauthenticated+rejected_unknown_simulation+rejected_after_end %d\n",
      forged_data + unknown_data);
  std::printf("expect_sum rejected_* %d\n", sent);
  std::printf("idle_connections %zu\n", fds.size());
  return failures == 0 ? 0 : 1;
}
