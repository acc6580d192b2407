#pragma once
// Shared helpers for surge benchmarks: a monotonic timer, best-of-N timing, and the
// RESULT line every benchmark ends with.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

namespace surge::bench {

inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs `body` `repeats` times and returns the fastest time in seconds: on a shared, noisy
// machine the minimum is the figure least disturbed by other work.
template <class F>
double best_time(int repeats, F&& body) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = now_seconds();
    body();
    best = std::min(best, now_seconds() - t0);
  }
  return best;
}

// RESULT <name> measured=<v> unit=<u> bound=<v> ratio=<v>
inline void print_result(const std::string& name, double measured, const std::string& unit,
                         double bound) {
  std::printf("RESULT %s measured=%.6g unit=%s bound=%.6g ratio=%.4f\n", name.c_str(), measured,
              unit.c_str(), bound, bound > 0 ? measured / bound : 0.0);
  std::fflush(stdout);
}

}  // namespace surge::bench
