// One sender of bench_streaming in a process of its own, as a solver's rank is: its own
// allocator (the C library's malloc, as a solver linked to surge's client has; not the
// server's jemalloc), its own ZeroMQ context and I/O thread. bench_streaming starts it; not
// meant to be run by hand.
//   streaming_bench_member raw <endpoint> <field bytes> <messages> <fields a message> <hash 0|1>
//   streaming_bench_member surge <front endpoint> <simulation> <field bytes> <fields>
// It writes "ready" once connected, waits for a line on standard input, sends, and writes
// "cpu <seconds>": the CPU time of all its threads from that line until every message left.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "senders.hpp"
#include "surge/core/error.hpp"

namespace {
double cpu_at_go = 0;

// Says it is ready and waits for the word to go.
void ready_then_wait() {
  std::printf("ready\n");
  std::fflush(stdout);
  char line[16];
  if (!std::fgets(line, sizeof line, stdin)) {
    std::fprintf(stderr, "streaming_bench_member: no word to go on standard input\n");
    std::exit(1);
  }
  cpu_at_go = surge::bench::cpu_seconds();
}
}  // namespace

int main(int argc, char** argv) {
  try {
    surge::bench::run_sender(std::vector<std::string>(argv + 1, argv + argc), ready_then_wait);
  } catch (const surge::core::ConfigError& e) {
    std::fprintf(stderr, "streaming_bench_member: %s\nusage: streaming_bench_member %s\n", e.what(),
                 surge::bench::kSenderUsage);
    return 2;
  } catch (const surge::core::Error& e) {
    std::fprintf(stderr, "streaming_bench_member: %s\n", surge::core::describe(e).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "streaming_bench_member: %s\n", e.what());
    return 1;
  }
  // Every message has left: the sender's socket lingered until they had.
  std::printf("cpu %.9f\n", surge::bench::cpu_seconds() - cpu_at_go);
  return 0;
}
