// The reader of `surge train` (experiments/src/offline/train_data.hpp): samples per second that its
// thread puts into a buffer from member files in The Well's layout (default-study members:
// 64 x 64 heat2d, 101 frames each, written here by surge solve's writer), with a consumer
// draining the buffer and no trainer. The bound is the same frames read by WellReader alone
// (the HDF5 reads and the float32 conversion, then each frame copied into a field of its own,
// as WellReader::read hands them out; no sample building, no buffer), from the same files in
// the same chunks, in the same run: the ratio is what building samples (one allocation and
// one copy each: the reader reads views, WellReader::read_views) and handing them over through
// the buffer leave of the read rate. A second, stricter line takes the HDF5 reads alone
// (read_views: no per-frame copy) as the bound. All run on warm files (page cache): the figure
// is the reader's own cost, not the disk's.
//
// usage: bench_offline_reader [members (64: with 16, a round moved 1 616 frames in ~10 ms, too
//                              short on a shared machine)] [prefetch_frames (64)]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "bench_result.hpp"
#include "offline/train_data.hpp"
#include "surge/core/config.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "surge/reservoir/registry.hpp"
#include "surge/solvers/kokkos_aliases.hpp"
#include "surge/solvers/member.hpp"
#include "surge/solvers/solver.hpp"

namespace ex = surge::experiments;
using surge::bench::best_time;

namespace {

// Writes `members` heat2d member files m<k>.h5 into `dir` (different boundary values each).
void write_members(const std::filesystem::path& dir, int members) {
  const surge::core::Logger log("bench");
  const surge::core::ConfigSource source;
  for (int k = 0; k < members; ++k) {
    YAML::Node params = YAML::Load(
        "{nx: 64, ny: 64, t_end: 0.1, n_outputs: 100, ic: 300, b1: 100, b2: 200, b3: 400}");
    params["b4"] = 100.0 + 25.0 * k;
    auto solver =
        surge::solvers::solver_registry().at("heat2d").create(params, source, MPI_COMM_SELF);
    surge::solvers::WellWriter writer((dir / ("m" + std::to_string(k) + ".h5")).string(), *solver);
    (void)surge::solvers::run_member(*solver, {&writer}, log);
  }
}

}  // namespace

int main(int argc, char** argv) {
  surge::core::MpiSession mpi(&argc, &argv);
  surge::solvers::KokkosSession kokkos;
  surge::core::Logger::set_level(surge::core::parse_log_level("warn"));
  const int members = argc > 1 ? std::atoi(argv[1]) : 64;
  const int prefetch = argc > 2 ? std::atoi(argv[2]) : 64;
  if (members < 1 || prefetch < 1) {
    std::fprintf(stderr, "usage: bench_offline_reader [members >= 1] [prefetch_frames >= 1]\n");
    return 2;
  }
  std::printf("allocator: %s\n", SURGE_BENCH_ALLOCATOR);
  const auto dir =
      std::filesystem::temp_directory_path() / ("bench_offline_reader_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  write_members(dir, members);

  ex::DataConfig config;
  config.train = {(dir / "m*.h5").string()};
  const ex::TrainData data = ex::scan_data(config);
  const auto frames =
      static_cast<std::int64_t>(data.train_trajectories.size()) * data.layout.frames;

  // The bound: every frame of every file through WellReader, prefetch frames per read (as
  // fields of their own, or as views of the HDF5 reads); returns the frames read.
  auto read_all = [&](bool views) {
    std::int64_t read = 0;
    for (const auto& t : data.train_trajectories) {
      ex::WellReader reader(data.train[t.file], data.layout);
      for (std::int64_t first = 0; first < data.layout.frames; first += prefetch) {
        const std::int64_t count = std::min<std::int64_t>(prefetch, data.layout.frames - first);
        read += static_cast<std::int64_t>(  // one field per frame
            (views ? reader.read_views(t.index, first, count, t.simulation)
                   : reader.read(t.index, first, count, t.simulation))
                .size());
      }
    }
    return read;
  };
  std::int64_t read_frames = 0, view_frames = 0;
  auto read_only = [&] { read_frames = read_all(false); };
  auto read_views = [&] { view_frames = read_all(true); };
  // Measured: the reader thread into a fifo buffer, drained by this thread in batches of 32.
  const surge::core::ConfigSource source;
  std::int64_t served = 0;
  auto through_buffer = [&] {
    auto buffer = surge::reservoir::buffer_registry<surge::reservoir::Sample>().at("fifo").create(
        YAML::Load("{capacity: 4096, watermark: 1, batch_size: 32}"), source,
        "reservoir.parameters");
    ex::DataReader reader(data, data.train_trajectories, 1, prefetch, false, 1, *buffer);
    reader.start();
    served = 0;
    while (auto batch = buffer->next_batch()) served += batch->items();
    reader.join();
    if (!reader.error().empty()) {
      std::fprintf(stderr, "bench_offline_reader: %s\n", reader.error().c_str());
      std::exit(1);
    }
  };
  // Alternated, best of each: both see the same machine, however loaded it is meanwhile.
  double read_time = 1e300, reader_time = 1e300, views_time = 1e300;
  for (int r = 0; r < 7; ++r) {
    views_time = std::min(views_time, best_time(1, read_views));
    read_time = std::min(read_time, best_time(1, read_only));
    reader_time = std::min(reader_time, best_time(1, through_buffer));
  }
  std::filesystem::remove_all(dir);
  if (read_frames != frames || view_frames != frames || served != frames) {
    std::fprintf(stderr,
                 "bench_offline_reader: %lld frames, %lld read, %lld read as views, %lld samples "
                 "served\n",
                 static_cast<long long>(frames), static_cast<long long>(read_frames),
                 static_cast<long long>(view_frames), static_cast<long long>(served));
    return 1;
  }
  const double bytes_per_frame =
      4.0 * static_cast<double>(data.layout.grid[0] * data.layout.grid[1]);
  const double bound = static_cast<double>(frames) / read_time;
  const double measured = static_cast<double>(frames) / reader_time;
  const double hdf5 = static_cast<double>(frames) / views_time;
  std::printf(
      "%d member files, %lld frames of %lld x %lld, prefetch %d: HDF5 reads alone %.0f frames/s "
      "(%.0f MB/s), WellReader %.0f frames/s (%.0f MB/s), reader into a buffer %.0f samples/s "
      "(%.0f MB/s)\n",
      members, static_cast<long long>(frames), static_cast<long long>(data.layout.grid[0]),
      static_cast<long long>(data.layout.grid[1]), prefetch, hdf5, hdf5 * bytes_per_frame / 1e6,
      bound, bound * bytes_per_frame / 1e6, measured, measured * bytes_per_frame / 1e6);
  surge::bench::print_result("offline_reader_vs_hdf5", measured, "samples/s", hdf5);
  surge::bench::print_result("offline_reader", measured, "samples/s", bound);
  return 0;
}
