// heat2d cell updates per second on one core, beside the memory-bandwidth bound measured in
// the same run with a STREAM triad (a = b + s c) over as many bytes as the case's arrays: far
// larger than the caches for the grids that do not fit, and in the last-level cache for those
// that do, where a triad over memory-sized arrays was no bound (ratios 1.09-1.10 at 256^2 and
// 1024^2, 2026-12-07).
//
// Bytes are the bytes that really cross the memory bus, write-allocate included (a store to a
// line not yet in cache first reads it): the triad moves 32 B per element (3 x 8 + 8), so its
// bus bandwidth is 32 n / t. Per cell update, stencil neighbours coming from cache:
//   explicit FTCS: read u, write-allocate + write u_next                    24 B
//   implicit CG:   per iteration apply (read p, allocate + write Ap) 24, update (read u, p,
//                  r, Ap, write u, r) 48, direction (read r, p, write p) 24 = 96 B, plus 40 B
//                  for the first residual of each step (read u, allocate + write r and p)
// The bound is bus_bandwidth / bytes and ratio = measured / bound: 1 is the roofline of the
// level of the memory hierarchy the case's arrays live in. The triad runs right before and right
// after each case and the bound takes the better of the two: on a shared virtual machine the
// bandwidth one core gets drifts between minutes (one triad at the start measured 26.8 GB/s
// of bus traffic, those beside the cases 34-42 two minutes later, and it put grids far larger
// than the cache at 1.05-1.54 of their "bound").
#include <mpi.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "bench_result.hpp"
#include "surge/solvers/heat2d.hpp"

using surge::bench::best_time;
using surge::bench::print_result;
using surge::solvers::Heat2d;
using surge::solvers::Heat2dConfig;

namespace {

// STREAM triad bus bandwidth in bytes/s (32 bytes per element with write-allocate) over three
// arrays of `footprint` bytes in all (at least 3 x 64 KiB), the same arrays on every call.
double triad_bandwidth(std::size_t footprint) {
  const std::size_t n = std::max<std::size_t>(footprint / 24, std::size_t{1} << 13);
  static std::map<std::size_t, std::array<std::vector<double>, 3>> arrays;  // touched once, kept
  auto [at, fresh] = arrays.try_emplace(n);
  if (fresh)
    at->second = {std::vector<double>(n, 0.0), std::vector<double>(n, 1.0),
                  std::vector<double>(n, 2.0)};
  auto& [a, b, c] = at->second;
  const double s = 3.0;
  // Repeated so that a cache-sized triad runs ~10 ms, as long as one over memory.
  const int sweeps = static_cast<int>(std::max<std::size_t>(1, (std::size_t{1} << 24) / n));
  const double t = best_time(3, [&] {
    double* __restrict pa = a.data();
    const double* __restrict pb = b.data();
    const double* __restrict pc = c.data();
    for (int k = 0; k < sweeps; ++k) {
      for (std::size_t i = 0; i < n; ++i) pa[i] = pb[i] + s * pc[i];
      asm volatile("" : : "r"(pa) : "memory");  // each sweep stores: not folded into one
    }
  });
  if (a[n / 2] != 7.0) std::fprintf(stderr, "triad check failed\n");
  return 32.0 * static_cast<double>(n) * sweeps / t;
}

struct Figure {
  double updates_per_s;
  double bytes_per_update;
};

Figure measure(int n, const char* scheme, bool reproducible = true) {
  Heat2dConfig c;
  c.nx = c.ny = n;
  c.scheme = scheme;
  c.t_end = 1.0;  // not reached: the benchmark calls step() itself
  c.n_outputs = 1;
  c.cg_reproducible = reproducible;
  // Implicit: a step of 100 explicit limits, the regime where implicit pays.
  c.dt = std::string(scheme) == "implicit" ? 100.0 / (4.0 * (n - 1) * (n - 1)) : 0.0;
  Heat2d heat(c, MPI_COMM_WORLD);
  const double cells = static_cast<double>(n - 2) * static_cast<double>(n - 2);
  // Enough steps for ~0.2 s per repetition at a few GB/s.
  const int steps = std::string(scheme) == "explicit"
                        ? std::max(5, static_cast<int>(4e8 / (24 * cells)))
                        : std::max(1, static_cast<int>(4e7 / (96 * 30 * cells)));
  heat.step();  // warm-up: first touch, CG iteration count
  const long iterations_before = heat.total_cg_iterations();
  const int repeats = cells > 3e6 ? 2 : 3;
  const double t = best_time(repeats, [&] {
    for (int s = 0; s < steps; ++s) heat.step();
  });
  const double iterations_per_step =
      static_cast<double>(heat.total_cg_iterations() - iterations_before) /
      (static_cast<double>(repeats) * steps);
  Figure f;
  f.updates_per_s = cells * steps / t;
  f.bytes_per_update = std::string(scheme) == "explicit" ? 24.0 : 96.0 * iterations_per_step + 40.0;
  std::printf(
      "heat2d %-8s%s %4dx%-4d %6d steps  %.3g s  %.3g cell-updates/s  (%.1f B/update%s)\n", scheme,
      reproducible ? "" : " (plain sums)", n, n, steps, t, f.updates_per_s, f.bytes_per_update,
      std::string(scheme) == "implicit"
          ? (", " + std::to_string(iterations_per_step).substr(0, 5) + " CG it/step").c_str()
          : "");
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  Kokkos::initialize(argc, argv);
  {
    struct Case {
      int n;
      const char* scheme;
      bool reproducible;
      // Bytes of the arrays a step sweeps: explicit u and u_next; implicit CG u, r, p, Ap.
      [[nodiscard]] std::size_t footprint() const {
        const std::size_t cells = static_cast<std::size_t>(n) * static_cast<std::size_t>(n);
        return (std::string(scheme) == "explicit" ? 2 : 4) * sizeof(double) * cells;
      }
    };
    struct Result {
      std::string name;
      Figure figure;
      double bandwidth;  // bytes/s, the better triad beside the case
    };
    std::vector<Result> results;
    // 256^2 and 1024^2 are the sizes of the study; they fit in a 32 MiB L3 cache, and so does
    // the triad beside them. 2048^2 (implicit, 4 arrays) and 4096^2 (explicit) do not fit:
    // there the bound is the DRAM roofline. The headline is last.
    // CG runs with exact-fold sums (the default, rank-independent to the bit); the plain-sum
    // peer at 2048^2 shows what that costs.
    for (Case k :
         {Case{256, "implicit", true}, Case{1024, "implicit", true}, Case{2048, "implicit", true},
          Case{2048, "implicit", false}, Case{256, "explicit", true}, Case{1024, "explicit", true},
          Case{4096, "explicit", true}}) {
      const double before = triad_bandwidth(k.footprint());
      const Figure f = measure(k.n, k.scheme, k.reproducible);
      const double bw = std::max(before, triad_bandwidth(k.footprint()));
      std::printf(
          "  STREAM triad beside it over %.1f MiB: %.2f GB/s bus traffic (%.2f as STREAM reports "
          "it)\n",
          static_cast<double>(k.footprint()) / (1 << 20), bw / 1e9, bw * 24.0 / 32.0 / 1e9);
      results.push_back({std::string("heat2d_") + k.scheme + (k.reproducible ? "_" : "_plain_") +
                             std::to_string(k.n),
                         f, bw});
    }
    for (const auto& r : results) {
      print_result(r.name, r.figure.updates_per_s, "cell_updates_per_s",
                   r.bandwidth / r.figure.bytes_per_update);
    }
  }
  Kokkos::finalize();
  MPI_Finalize();
  return 0;
}
