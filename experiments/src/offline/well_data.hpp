#pragma once
// Reading training data from HDF5 files in The Well's layout (`surge train`): surge solve's
// member files (one trajectory each) and Well datasets' files (several trajectories each).
// A file holds `n_trajectories` trajectories of T frames on an nx x ny grid:
//   dimensions/time                  (T) frame times
//   t0_fields/<name>                 (trajectories, T, nx, ny), float32 or float64
//   t1_fields/<name>                 (trajectories, T, nx, ny, components)
//   simulation_parameters (root)     the parameter names; each value is the root attribute of
//                                    that name or, with several trajectories, scalars/<name>
//                                    holding one value per trajectory
//   boundary_conditions/<group>      bc_type PERIODIC on an axis of associated_dims: periodic
// Frames are handed on as streaming::Field, one per (trajectory, frame, field), so that the
// sample builder of `surge run` makes the samples. Every error names the file and dataset
// (core::IoError); HDF5 is touched by one thread at a time.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "surge/streaming/field.hpp"
#include "surge/surrogates/description.hpp"

namespace surge::experiments {

// What every data file must agree on: taken from the first training file.
struct WellLayout {
  std::string first_file;
  std::string dataset_name;                     // root attribute dataset_name ("heat2d")
  std::vector<surrogates::FieldLayout> fields;  // in order; components 1 for t0 fields
  std::vector<std::string> datasets;            // "t0_fields/<name>" or "t1_fields/<name>"
  std::int64_t frames = 0;
  std::vector<std::int64_t> grid;  // nx, ny
  std::vector<std::string> parameter_names;
  std::vector<bool> periodic;  // x, y
};

// One file's trajectories, checked against the layout.
struct WellFile {
  std::string path;
  std::int64_t trajectories = 0;
  std::vector<std::vector<double>> parameters;  // [trajectory][parameter]
  std::vector<double> times;                    // dimensions/time, frames values
  std::uint64_t bytes = 0;                      // size on disk
};

// The files `patterns` name (paths or glob patterns, matches sorted), in order, each once.
// `key` ("data.train") names the list in errors. Throws core::IoError when a pattern matches
// nothing.
[[nodiscard]] std::vector<std::string> expand_data_files(const std::vector<std::string>& patterns,
                                                         const std::string& key);

// The layout of `path`: the fields `names` (empty: every t0 then t1 field, in field_names
// order), grid, frames, parameter names, periodic axes. Throws core::IoError naming the file
// and dataset (not HDF5, a missing dataset, a wrong dtype or rank).
[[nodiscard]] WellLayout read_well_layout(const std::string& path,
                                          const std::vector<std::string>& names);

// Opens `path` and checks it against `layout` (the same fields, shapes, frames, parameter
// names); reads its times and parameters. Throws core::IoError naming the file and dataset.
[[nodiscard]] WellFile scan_well_file(const std::string& path, const WellLayout& layout);

// Reads frames of one file. Not thread-safe; one reader per thread, one thread in HDF5.
class WellReader {
 public:
  WellReader(const WellFile& file, const WellLayout& layout);
  ~WellReader();
  WellReader(const WellReader&) = delete;
  WellReader& operator=(const WellReader&) = delete;

  // Frames [first, first + count) of `trajectory`, every field of each frame after the
  // other (frame-major), as fields of simulation `simulation` with the trajectory's
  // parameters, dtype float32. Throws core::IoError.
  [[nodiscard]] std::vector<streaming::Field> read(std::int64_t trajectory, std::int64_t first,
                                                   std::int64_t count,
                                                   std::uint64_t simulation) const;
  // The same fields as views: each field's frames share one buffer (what H5Dread filled),
  // which lives as long as any of them. No allocation or copy per frame, for a caller that
  // copies each frame on at once (the reader of `surge train` builds samples from them).
  [[nodiscard]] std::vector<streaming::Field> read_views(std::int64_t trajectory,
                                                         std::int64_t first, std::int64_t count,
                                                         std::uint64_t simulation) const;

 private:
  [[nodiscard]] std::vector<streaming::Field> read_frames(std::int64_t trajectory,
                                                          std::int64_t first, std::int64_t count,
                                                          std::uint64_t simulation,
                                                          bool views) const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace surge::experiments
