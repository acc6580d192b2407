#include "surge/solvers/member.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "surge/core/config.hpp"
#include "surge/core/error.hpp"
#include "surge/core/mesh_hdf5.hpp"
#include "surge/core/mpi.hpp"
#include "surge/core/progress.hpp"
#include "surge/core/version.hpp"

namespace surge::solvers {

namespace fs = std::filesystem;
namespace h5 = core::h5;

namespace {

// A solver's boundary type as The Well's bc_type, which WellDataset looks up in its enum
// BoundaryCondition {WALL, OPEN, PERIODIC} (fixed values are walls, zero-gradient outflow
// is open), and the group-name suffix its checker expects (x_wall).
struct WellBoundary {
  const char* type;
  const char* suffix;
};
WellBoundary well_boundary(const std::string& type) {
  if (type == "dirichlet" || type == "WALL") return {"WALL", "wall"};
  if (type == "outflow" || type == "OPEN") return {"OPEN", "open"};
  if (type == "periodic" || type == "PERIODIC") return {"PERIODIC", "periodic"};
  SURGE_THROW(ConfigError,
              "boundary type '" << type << "' has no Well bc_type (WALL, OPEN, PERIODIC)");
}

}  // namespace

std::vector<double> frame_times(const Solver& solver) {
  std::vector<double> times = {solver.time()};
  for (double t : solver.output_times())
    if (times.size() > 1 || t != times.front()) times.push_back(t);
  return times;
}

void require_writable(const std::string& path, MPI_Comm comm) {
  const int rank = core::comm_rank(comm);
  std::string problem;
  if (rank == 0) {
    const fs::path p = fs::absolute(path);
    const fs::path dir = p.parent_path();
    std::error_code ec;
    if (path.empty()) {
      problem = "the output path is empty";
    } else if (!fs::is_directory(dir, ec)) {
      problem = "directory '" + dir.string() + "' does not exist";
    } else if (access(dir.c_str(), W_OK) != 0) {
      problem = "directory '" + dir.string() + "' is not writable";
    } else if (fs::is_directory(p, ec)) {
      problem = "'" + p.string() + "' is a directory";
    }
  }
  int length = static_cast<int>(problem.size());
  SURGE_MPI_CHECK(MPI_Bcast(&length, 1, MPI_INT, 0, comm));
  problem.resize(static_cast<std::size_t>(length));
  if (length > 0) SURGE_MPI_CHECK(MPI_Bcast(problem.data(), length, MPI_CHAR, 0, comm));
  SURGE_REQUIRE(problem.empty(), IoError, "cannot write '" << path << "': " << problem);
}

WellWriter::WellWriter(const std::string& path, const Solver& solver)
    : path_(path),
      comm_(solver.decomposition().comm()),
      n_frames_(static_cast<int>(frame_times(solver).size())) {
  require_writable(path_, comm_);
  for (const auto& bc : solver.boundary_conditions()) (void)well_boundary(bc.type);
  file_.emplace(path_, solver.decomposition().size() > 1 ? comm_ : MPI_COMM_NULL);
  file_->write([&] { write_layout(*file_, solver); });
}

void WellWriter::write_layout(hid_t file, const Solver& solver) {
  const auto& d = solver.decomposition();
  // Root attributes: the member's parameters, one attribute each plus their list.
  std::vector<std::string> names;
  for (const auto& [name, value] : solver.parameters()) {
    names.push_back(name);
    h5::write_attribute(file, name, value);
  }
  h5::write_attribute(file, "simulation_parameters", names);
  h5::write_attribute(file, "dataset_name", solver.name());
  h5::write_attribute(file, "grid_type", "cartesian");
  h5::write_attribute(file, "n_spatial_dims", std::int64_t{2});
  h5::write_attribute(file, "n_trajectories", std::int64_t{1});
  h5::write_attribute(file, "surge_version", std::string(kVersion) + " (" + kGitRevision + ")");
  h5::write_attribute(file, "surge_config", core::to_yaml_text(solver.resolved_config()));

  // dimensions/: the time of each frame and the node coordinates.
  {
    h5::Group g = h5::create_group(file, "dimensions");
    h5::write_attribute(g, "spatial_dims", std::vector<std::string>{"x", "y"});
    std::vector<float> time;
    for (double t : frame_times(solver)) time.push_back(static_cast<float>(t));
    h5::write_dataset(g, "time", time);
    for (int axis = 0; axis < 2; ++axis) {
      const std::vector<float> coords = solver.coordinates(axis);
      const char* name = axis == 0 ? "x" : "y";
      h5::write_dataset(g, name, coords);
      h5::Dataset ds(SURGE_HDF5_CHECK(H5Dopen2(g, name, H5P_DEFAULT)));
      h5::write_attribute(ds, "sample_varying", false);
      h5::write_attribute(ds, "time_varying", false);
    }
    h5::Dataset t(SURGE_HDF5_CHECK(H5Dopen2(g, "time", H5P_DEFAULT)));
    h5::write_attribute(t, "sample_varying", false);
    h5::write_attribute(t, "time_varying", true);
  }
  // mesh/: the real coordinates of fields on a mesh's nodes (dimensions/ holds grid axes).
  if (const core::Mesh* mesh = solver.mesh()) h5::write_mesh_group(file, *mesh);
  // boundary_conditions/: one group per axis named after it and its type (x_wall), mask on
  // the end nodes. Neither varies: a file holds one trajectory, whose boundary values are
  // also parameters in scalars/; `values` holds them on the masked nodes (0 elsewhere).
  {
    h5::Group g = h5::create_group(file, "boundary_conditions");
    for (const auto& bc : solver.boundary_conditions()) {
      const WellBoundary well = well_boundary(bc.type);
      h5::Group b = h5::create_group(g, bc.axis + "_" + well.suffix);
      h5::write_attribute(b, "associated_dims", std::vector<std::string>{bc.axis});
      h5::write_attribute(b, "associated_fields", bc.fields);
      h5::write_attribute(b, "bc_type", well.type);
      h5::write_attribute(b, "sample_varying", false);
      h5::write_attribute(b, "time_varying", false);
      const std::size_t n = static_cast<std::size_t>(bc.axis == "x" ? d.nx() : d.ny());
      std::vector<bool> mask(n, false);
      mask.front() = mask.back() = true;
      h5::write_dataset(b, "mask", mask);
      if (bc.values.size() == 2) {
        std::vector<float> values(n, 0.0f);
        values.front() = static_cast<float>(bc.values[0]);
        values.back() = static_cast<float>(bc.values[1]);
        h5::write_dataset(b, "values", values);
      }
    }
  }
  // scalars/: the parameters again, as the Well's scalar datasets.
  {
    h5::Group g = h5::create_group(file, "scalars");
    h5::write_attribute(g, "field_names", names);
    for (const auto& [name, value] : solver.parameters()) {
      h5::write_dataset(g, name, std::vector<float>{static_cast<float>(value)});
      h5::Dataset ds(SURGE_HDF5_CHECK(H5Dopen2(g, name.c_str(), H5P_DEFAULT)));
      h5::write_attribute(ds, "sample_varying", true);
      h5::write_attribute(ds, "time_varying", false);
    }
  }
  // t0_fields/ (scalar fields), t1_fields/ (vector fields, components last); t2 (tensor)
  // is empty.
  {
    const hsize_t frames = static_cast<hsize_t>(n_frames_), nx = static_cast<hsize_t>(d.nx()),
                  ny = static_cast<hsize_t>(d.ny());
    for (int order = 0; order < 2; ++order) {
      std::vector<std::string> names;
      for (const auto& field : solver.fields())
        if (field.order == order) names.push_back(field.name);
      h5::Group g = h5::create_group(file, order == 0 ? "t0_fields" : "t1_fields");
      h5::write_attribute(g, "field_names", names);
      for (const auto& field : solver.fields()) {
        if (field.order != order) continue;
        std::vector<hsize_t> dims = {1, frames, nx, ny};
        if (order == 1) dims.push_back(static_cast<hsize_t>(field.components));
        h5::Dataset ds = h5::create_dataset(g, field.name, H5T_IEEE_F32LE, dims);
        h5::write_attribute(ds, "dim_varying", std::vector<bool>{true, true});
        h5::write_attribute(ds, "sample_varying", true);
        h5::write_attribute(ds, "time_varying", true);
        fields_.push_back(std::move(ds));
        components_.push_back(order == 1 ? field.components : 0);
        field_names_.push_back(field.name);
      }
    }
    h5::Group empty = h5::create_group(file, "t2_fields");
    h5::write_attribute(empty, "field_names", std::vector<std::string>{});
  }
}

WellWriter::~WellWriter() {
  // An unfinished file is discarded and its temporary removed (core::h5::AtomicFile); the
  // datasets close before it.
  fields_.clear();
  file_.reset();
}

void WellWriter::write_frame(int index, const Solver& solver) {
  SURGE_REQUIRE(index >= 0 && index < n_frames_, IoError,
                "frame " << index << " is outside [0, " << n_frames_ << ")");
  const auto& d = solver.decomposition();
  for (std::size_t f = 0; f < fields_.size(); ++f) {
    std::vector<hsize_t> offset = {0, static_cast<hsize_t>(index),
                                   static_cast<hsize_t>(d.offset_x()),
                                   static_cast<hsize_t>(d.offset_y())};
    std::vector<hsize_t> count = {1, 1, static_cast<hsize_t>(d.local_nx()),
                                  static_cast<hsize_t>(d.local_ny())};
    if (components_[f] > 0) {  // a vector field: all its components
      offset.push_back(0);
      count.push_back(static_cast<hsize_t>(components_[f]));
    }
    solver.copy_field(field_names_[f], block_);
    file_->write([&] { h5::write_block(fields_[f], offset, count, block_.data()); });
  }
}

void WellWriter::finish() {
  fields_.clear();
  file_->commit();
}

double run_member(Solver& solver, const std::vector<FrameSink*>& sinks, const core::Logger& log) {
  const auto start = std::chrono::steady_clock::now();
  const auto times = frame_times(solver);
  SURGE_LOG(log, info, solver.summary());
  core::Progress progress(log, "frames", static_cast<std::int64_t>(times.size()));
  for (std::size_t k = 0; k < times.size(); ++k) {
    if (k > 0) solver.advance_to(times[k]);
    for (FrameSink* sink : sinks) sink->write_frame(static_cast<int>(k), solver);
    char detail[64];
    std::snprintf(detail, sizeof detail, "t = %.4g", solver.time());
    progress.update(static_cast<std::int64_t>(k + 1), detail);
  }
  for (FrameSink* sink : sinks) sink->finish();
  progress.finish();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace surge::solvers
