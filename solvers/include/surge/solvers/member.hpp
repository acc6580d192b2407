#pragma once
// Running one ensemble member: the loop over output times, and where its frames go. A
// FrameSink receives every frame, the initial state first (the Well HDF5 writer here; the
// streaming client is another sink).

#include <mpi.h>

#include <optional>
#include <string>
#include <vector>

#include "surge/core/hdf5.hpp"
#include "surge/core/hdf5_atomic.hpp"
#include "surge/core/log.hpp"
#include "surge/solvers/solver.hpp"

namespace surge::solvers {

// The times of a member's frames: the solver's current (initial) time, then its output
// times, the first of which is dropped when it equals the initial time. Frame 0 is the
// initial state, frames 1.. the outputs. Call it before the solver advances.
[[nodiscard]] std::vector<double> frame_times(const Solver& solver);

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // Called collectively on every rank for frame `index` (0-based, frame_times()[index]) at
  // the solver's time.
  virtual void write_frame(int index, const Solver& solver) = 0;
  // Called once after the last frame; makes the result visible.
  virtual void finish() = 0;
};

// Writes one member's trajectory in the layout of The Well (PolymathicAI): root attributes,
// dimensions/, boundary_conditions/, scalars/, t0_fields/<field> float32 (1, T, nx, ny) and
// t1_fields/<field> float32 (1, T, nx, ny, components) for vector fields, T = the number of
// frame_times() when the writer is made. Boundary types are written as The Well's WALL
// (dirichlet), OPEN (outflow) or PERIODIC; another type is a ConfigError.
// The file is written as `<path>.partial` and committed by finish() (synced, checked and
// renamed to `path`, see core::h5::AtomicFile), so a file under the final name is always
// complete; an unfinished writer removes its partial file. A failed write throws one IoError
// line naming `path` and the OS error.
class WellWriter final : public FrameSink {
 public:
  // Collective over the solver's communicator. Throws IoError (on every rank) if the file
  // cannot be created.
  WellWriter(const std::string& path, const Solver& solver);
  ~WellWriter() override;
  WellWriter(const WellWriter&) = delete;
  WellWriter& operator=(const WellWriter&) = delete;

  void write_frame(int index, const Solver& solver) override;
  void finish() override;
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  // Everything but the frames: attributes, dimensions, boundaries, scalars, the datasets.
  void write_layout(hid_t file, const Solver& solver);

  std::string path_;
  MPI_Comm comm_;
  int n_frames_;
  std::optional<core::h5::AtomicFile> file_;  // made once the path is known to be writable
  std::vector<core::h5::Dataset> fields_;     // t0 datasets, then t1 datasets (closed first)
  std::vector<int> components_;               // 0 for a scalar field
  std::vector<std::string> field_names_;
  std::vector<float> block_;
};

// Checks on rank 0 that `path` can be created (its directory exists and is writable, it is
// not a directory) and throws the same IoError on every rank of `comm` if not.
void require_writable(const std::string& path, MPI_Comm comm);

// Hands the initial state to every sink as frame 0, then runs the member to each later
// frame time and hands over that frame, with a progress line. Returns the wall time in
// seconds.
double run_member(Solver& solver, const std::vector<FrameSink*>& sinks, const core::Logger& log);

}  // namespace surge::solvers
