// What the live page costs the trainer: the time the trainer's thread spends on the page after
// each batch (LiveBoard::record_batch, the loss point added under the board's mutex) while a
// client asks the page's server for state.json without pause (a browser asks once a second)
// from a board whose history is full (2000 points, the JSON the largest it gets). Also printed:
// the longest single call, which includes any wait for the server's copy of the board. The bound is
// 1 % of a batch of the default study (5419 batches in 83.8 s on this machine,
// experiments/README.md): below it, the page cannot be seen in a study's wall time.
//   usage: bench_live_page [seconds (default 3)]
//   RESULT live_page_batch_cost measured=<us> unit=us bound=<us> ratio=<v>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "bench_result.hpp"
#include "live/live_server.hpp"
#include "live/live_state.hpp"

namespace ex = surge::experiments;
using surge::bench::now_seconds;

namespace {

// One GET over a fresh connection (HTTP/1.0: the server closes); returns the bytes read.
std::size_t get(int port, const std::string& target) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::size_t total = 0;
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string request = "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[65536];
      for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) total += static_cast<std::size_t>(n);
    }
  }
  if (fd >= 0) close(fd);
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  const double duration_s = argc > 1 ? std::atof(argv[1]) : 3.0;
  ex::LiveBoard board;
  ex::LiveServer server({"127.0.0.1", 0}, [&] { return ex::to_json(board.snapshot()); }, {});
  const std::string& url = server.url();  // http://127.0.0.1:PORT/?token=T
  const int port = std::atoi(url.substr(url.rfind(':') + 1).c_str());
  const std::string target = "/state.json" + url.substr(url.find("/?") + 1);
  std::atomic<bool> done{false};
  std::atomic<long> polls{0};
  std::atomic<std::size_t> bytes{0};
  std::thread poller([&] {
    while (!done) {
      bytes = get(port, target);
      ++polls;
    }
  });
  // Fill the history first: the JSON at its largest from the start.
  for (long b = 1; b <= 4000; ++b) board.record_batch(b, 1.0 / b, 1000.0, 1e-3 * b);
  const double t0 = now_seconds();
  long batches = 0;
  double longest = 0.0;
  for (long b = 4001; now_seconds() - t0 < duration_s; ++b, ++batches) {
    const double t = now_seconds();
    board.record_batch(b, 1.0 / static_cast<double>(b), 1000.0, 1e-3 * static_cast<double>(b));
    longest = std::max(longest, now_seconds() - t);
  }
  const double seconds = now_seconds() - t0;
  done = true;
  poller.join();
  const double per_batch_us = 1e6 * seconds / static_cast<double>(batches);
  const double batch_us = 1e6 * 83.8 / 5419.0;
  std::printf(
      "%ld batches recorded in %.3f s: %.3f us each (timer included), the longest "
      "%.1f us; %ld state.json answers of %zu bytes meanwhile; a default-study batch "
      "takes %.0f us\n",
      batches, seconds, per_batch_us, 1e6 * longest, polls.load(), bytes.load(), batch_us);
  if (polls.load() < 1 || bytes.load() < 1000) {
    std::printf("the server did not answer: no figure\n");
    return 1;
  }
  surge::bench::print_result("live_page_batch_cost", per_batch_us, "us", 0.01 * batch_us);
  return 0;
}
