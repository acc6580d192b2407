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

// A whole number from argument `s`, or the process ends saying which argument was wrong.
long long number(const char* s, const char* what) {
  char* end = nullptr;
  const long long v = std::strtoll(s, &end, 10);
  if (end == s || *end || v < 0) {
    std::fprintf(stderr, "streaming_bench_member: %s '%s' is not a whole number >= 0\n", what, s);
    std::exit(2);
  }
  return v;
}
}  // namespace

int main(int argc, char** argv) {
  const std::string peer = argc > 1 ? argv[1] : "";
  try {
    if (peer == "raw" && argc == 7) {
      surge::bench::raw_sender(
          argv[2], number(argv[3], "field bytes"), int(number(argv[4], "messages")),
          int(number(argv[5], "fields a message")), number(argv[6], "hash") != 0, ready_then_wait);
    } else if (peer == "surge" && argc == 6) {
      surge::bench::surge_sender(argv[2], number(argv[3], "simulation"),
                                 number(argv[4], "field bytes"), int(number(argv[5], "fields")),
                                 ready_then_wait);
    } else {
      std::fprintf(stderr,
                   "usage: streaming_bench_member raw <endpoint> <field bytes> <messages> "
                   "<fields a message> <hash 0|1>\n"
                   "       streaming_bench_member surge <front endpoint> <simulation> "
                   "<field bytes> <fields>\n");
      return 2;
    }
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
