// Batch assembly from each buffer policy: next_batch() plus stack() into the contiguous
// x / y arrays a trainer wraps as tensors, for batches of 32 and 256 samples of 64x64 and
// 256x256 float32 fields (x and y one field each; trajectory: windows of 2 one-field steps,
// the same bytes). Beside it, in the same run, a plain memcpy of the same bytes from a source
// as large as the buffer's contents into the same destination.
//   RESULT reservoir_assembly_<policy>_b<batch>_<n>x<n> measured=<GB/s> unit=GB/s
//          bound=<memcpy GB/s> ratio=<memcpy time / assembly time: 1.0 = as fast as memcpy>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_result.hpp"
#include "surge/core/error.hpp"
#include "surge/reservoir/registry.hpp"

using surge::reservoir::Sample;

namespace {

struct Case {
  std::string policy;
  int batch;
  int n;  // field is n x n
};

struct Timing {
  double assembly = 1e300, memcpy = 1e300;  // best seconds per batch
  double bytes = 0;
};

Sample field_sample(std::int64_t sim, std::int64_t step, std::size_t field, bool with_y) {
  Sample s;
  s.simulation_id = sim;
  s.step = step;
  s.x.assign(field, static_cast<float>(step));
  if (with_y) s.y.assign(field, static_cast<float>(-step));
  return s;
}

Timing run(const Case& c, int repeats) {
  const bool trajectory = c.policy == "trajectory";
  const auto field = static_cast<std::size_t>(c.n) * static_cast<std::size_t>(c.n);
  // Samples held: twice a batch (trajectory: four times as many one-field samples).
  const int capacity = trajectory ? 4 * c.batch : 2 * c.batch;
  surge::core::Pluggable part;
  part.type = c.policy;
  part.parameters["capacity"] = capacity;
  part.parameters["capacity_bytes"] = std::int64_t{16} << 30;
  part.parameters["batch_size"] = c.batch;
  part.parameters["watermark"] = c.batch;
  part.parameters["seed"] = 1;
  if (trajectory) part.parameters["window"] = 2;
  auto buffer = surge::reservoir::make_buffer<Sample>(part);

  const std::size_t batch_floats = 2 * field * static_cast<std::size_t>(c.batch);
  std::vector<float> out(batch_floats, 0.0f);  // x then y
  const std::size_t x_floats = trajectory ? batch_floats : batch_floats / 2;
  float* x = out.data();
  float* y = trajectory ? nullptr : out.data() + x_floats;
  const std::size_t y_floats = batch_floats - x_floats;

  std::int64_t step = 0;
  auto fill = [&] {
    while (buffer->size() < capacity) {
      // Trajectory: simulations of 16 steps.
      const std::int64_t sim = trajectory ? step / 16 : 0;
      if (!buffer->put(field_sample(sim, step, field, !trajectory)))
        throw std::runtime_error("put");
      ++step;
    }
  };

  // The memcpy source is as large as the buffer's contents, read a batch at a time in turn.
  std::vector<float> source(static_cast<std::size_t>(capacity) * field * (trajectory ? 1 : 2),
                            1.0f);
  const std::size_t slices = source.size() / batch_floats;

  Timing t;
  t.bytes = static_cast<double>(batch_floats) * sizeof(float);
  for (int r = 0; r < repeats; ++r) {
    fill();  // fifo / firo remove what they serve
    double t0 = surge::bench::now_seconds();
    const auto batch = buffer->next_batch();
    surge::reservoir::stack(*batch, x, x_floats, y, y_floats);
    t.assembly = std::min(t.assembly, surge::bench::now_seconds() - t0);

    const float* from = source.data() + (static_cast<std::size_t>(r) % slices) * batch_floats;
    t0 = surge::bench::now_seconds();
    std::memcpy(out.data(), from, batch_floats * sizeof(float));
    t.memcpy = std::min(t.memcpy, surge::bench::now_seconds() - t0);
  }
  if (out[batch_floats / 2] < -1e30f) std::printf(" ");  // keep the copies observable
  return t;
}

}  // namespace

int main() {
  try {
    struct Result {
      std::string name;
      double gbs, memcpy_gbs;
    };
    std::vector<Result> results;
    for (int n : {64, 256}) {
      for (int batch : {32, 256}) {
        for (const char* policy : {"fifo", "firo", "reservoir", "trajectory"}) {
          const int repeats = n * n * batch > 64 * 64 * 256 ? 8 : 40;
          const Timing t = run({policy, batch, n}, repeats);
          const double gbs = t.bytes / t.assembly / 1e9, memcpy_gbs = t.bytes / t.memcpy / 1e9;
          std::printf(
              "%-10s batch %3d of %3dx%-3d (%6.1f MiB): assembly %8.3f ms %6.2f GB/s | memcpy "
              "%8.3f ms %6.2f GB/s\n",
              policy, batch, n, n, t.bytes / (1 << 20), 1e3 * t.assembly, gbs, 1e3 * t.memcpy,
              memcpy_gbs);
          std::fflush(stdout);
          results.push_back({std::string("reservoir_assembly_") + policy + "_b" +
                                 std::to_string(batch) + "_" + std::to_string(n) + "x" +
                                 std::to_string(n),
                             gbs, memcpy_gbs});
        }
      }
    }
    for (const Result& r : results) surge::bench::print_result(r.name, r.gbs, "GB/s", r.memcpy_gbs);
  } catch (const surge::core::Error& e) {
    std::fprintf(stderr, "bench_reservoir: %s\n", surge::core::describe(e).c_str());
    return 1;
  }
  return 0;
}
