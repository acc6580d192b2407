// A member's HDF5 file, read back with the plain HDF5 C API (not surge's helpers): The
// Well's layout, the parameters, and the frames equal to the solver's state, the initial
// state first.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <utility>

#include "surge/core/error.hpp"
#include "surge/solvers/heat2d.hpp"
#include "surge/solvers/member.hpp"
#include "surge/solvers/solver.hpp"

namespace fs = std::filesystem;
using surge::solvers::WellWriter;

namespace {

std::string read_string_attribute(hid_t obj, const char* name) {
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  EXPECT_GE(a, 0) << name;
  hid_t t = H5Aget_type(a);
  EXPECT_EQ(H5Tis_variable_str(t), 1);
  char* value = nullptr;
  EXPECT_GE(H5Aread(a, t, &value), 0);
  std::string out = value ? value : "";
  H5free_memory(value);
  SURGE_HDF5_CHECK(H5Tclose(t));
  SURGE_HDF5_CHECK(H5Aclose(a));
  return out;
}

double read_double_attribute(hid_t obj, const char* name) {
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  double v = 0;
  EXPECT_GE(H5Aread(a, H5T_NATIVE_DOUBLE, &v), 0);
  SURGE_HDF5_CHECK(H5Aclose(a));
  return v;
}

std::unique_ptr<surge::solvers::Solver> make_solver(const std::string& yaml) {
  return surge::solvers::solver_registry().create({"heat2d", YAML::Load(yaml)}, {}, MPI_COMM_WORLD);
}

// A heat2d member that reports other output times and boundary types, as another solver
// might.
class Relabelled final : public surge::solvers::Solver {
 public:
  Relabelled(std::unique_ptr<Solver> heat, std::vector<double> times, std::string boundary)
      : heat_(std::move(heat)), times_(std::move(times)), boundary_(std::move(boundary)) {}
  std::string name() const override { return heat_->name(); }
  const surge::solvers::Decomposition2D& decomposition() const override {
    return heat_->decomposition();
  }
  std::vector<std::string> field_names() const override { return heat_->field_names(); }
  void copy_field(const std::string& field, std::vector<float>& out) const override {
    heat_->copy_field(field, out);
  }
  std::vector<std::pair<std::string, double>> parameters() const override {
    return heat_->parameters();
  }
  std::vector<double> output_times() const override { return times_; }
  std::vector<surge::solvers::BoundaryCondition> boundary_conditions() const override {
    return {{"x", boundary_, {"temperature"}, {}}};
  }
  void advance_to(double t) override { heat_->advance_to(t); }
  double time() const override { return heat_->time(); }
  YAML::Node resolved_config() const override { return heat_->resolved_config(); }
  std::string summary() const override { return heat_->summary(); }

 private:
  std::unique_ptr<Solver> heat_;
  std::vector<double> times_;
  std::string boundary_;
};

}  // namespace

TEST(WellFile, LayoutAndFramesReadBackThroughTheCApi) {
  const std::string path = std::string(SURGE_BINARY_DIR) + "/well_roundtrip.h5";
  fs::remove(path);
  const char* config = "{nx: 12, ny: 9, n_outputs: 3, t_end: 0.03, ic: 7, alpha: 0.5}";
  auto solver = make_solver(config);
  std::vector<float> initial;
  make_solver(config)->copy_field("temperature", initial);
  surge::core::Logger log("test");
  std::vector<float> last;
  {
    WellWriter writer(path, *solver);
    EXPECT_TRUE(fs::exists(path + ".partial"));
    EXPECT_FALSE(fs::exists(path));
    (void)surge::solvers::run_member(*solver, {&writer}, log);
    solver->copy_field("temperature", last);
  }
  EXPECT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".partial"));

  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  EXPECT_EQ(read_string_attribute(f, "dataset_name"), "heat2d");
  EXPECT_EQ(read_string_attribute(f, "grid_type"), "cartesian");
  EXPECT_EQ(read_double_attribute(f, "ic"), 7.0);
  EXPECT_EQ(read_double_attribute(f, "alpha"), 0.5);
  EXPECT_NE(read_string_attribute(f, "surge_config").find("nx: 12"), std::string::npos);
  for (const char* group :
       {"dimensions", "boundary_conditions/x_wall", "boundary_conditions/y_wall", "scalars",
        "t0_fields", "t1_fields", "t2_fields"}) {
    EXPECT_GT(H5Lexists(f, group, H5P_DEFAULT) >= 0 && H5Oexists_by_name(f, group, H5P_DEFAULT), 0)
        << group;
  }

  hid_t g = H5Gopen2(f, "boundary_conditions/x_wall", H5P_DEFAULT);
  EXPECT_EQ(read_string_attribute(g, "bc_type"), "WALL");
  SURGE_HDF5_CHECK(H5Gclose(g));

  // time = (0, 0.01, 0.02, 0.03): the initial state, then n_outputs frames; x = i / 11.
  hid_t d = H5Dopen2(f, "dimensions/time", H5P_DEFAULT);
  float time[4];
  ASSERT_GE(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, time), 0);
  SURGE_HDF5_CHECK(H5Dclose(d));
  EXPECT_EQ(time[0], 0.0f);
  EXPECT_FLOAT_EQ(time[1], 0.01f);
  EXPECT_FLOAT_EQ(time[3], 0.03f);
  d = H5Dopen2(f, "dimensions/x", H5P_DEFAULT);
  float x[12];
  ASSERT_GE(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x), 0);
  SURGE_HDF5_CHECK(H5Dclose(d));
  EXPECT_FLOAT_EQ(x[11], 1.0f);
  EXPECT_FLOAT_EQ(x[1], 1.0f / 11.0f);

  d = H5Dopen2(f, "t0_fields/temperature", H5P_DEFAULT);
  ASSERT_GE(d, 0);
  hid_t space = H5Dget_space(d);
  hsize_t dims[4] = {0, 0, 0, 0};
  ASSERT_EQ(H5Sget_simple_extent_ndims(space), 4);
  H5Sget_simple_extent_dims(space, dims, nullptr);
  EXPECT_EQ(dims[0], 1u);
  EXPECT_EQ(dims[1], 4u);
  EXPECT_EQ(dims[2], 12u);
  EXPECT_EQ(dims[3], 9u);
  hid_t type = H5Dget_type(d);
  EXPECT_EQ(H5Tget_class(type), H5T_FLOAT);
  EXPECT_EQ(H5Tget_size(type), 4u);
  SURGE_HDF5_CHECK(H5Tclose(type));
  std::vector<float> all(4 * 12 * 9);
  ASSERT_GE(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, all.data()), 0);
  SURGE_HDF5_CHECK(H5Sclose(space));
  SURGE_HDF5_CHECK(H5Dclose(d));
  SURGE_HDF5_CHECK(H5Fclose(f));
  // Frame 0 is the initial condition exactly, the last frame the final state; the boundary
  // node x = 0 holds b1 in every frame.
  ASSERT_EQ(initial.size(), 12u * 9u);
  for (std::size_t k = 0; k < initial.size(); ++k) EXPECT_EQ(all[k], initial[k]) << k;
  EXPECT_EQ(all[6 * 9 + 4], 7.0f);  // an interior node holds ic
  for (std::size_t k = 0; k < last.size(); ++k) EXPECT_EQ(all[3 * 12 * 9 + k], last[k]) << k;
  for (int frame = 0; frame < 4; ++frame) EXPECT_EQ(all[frame * 12 * 9 + 4], 500.0f);
  fs::remove(path);
}

TEST(WellFile, AnUnfinishedWriterLeavesNoFile) {
  const std::string path = std::string(SURGE_BINARY_DIR) + "/well_unfinished.h5";
  fs::remove(path);
  auto solver = make_solver("{nx: 8, ny: 8, n_outputs: 4}");
  {
    WellWriter writer(path, *solver);
    writer.write_frame(0, *solver);
    solver->advance_to(solver->output_times()[0]);
    writer.write_frame(1, *solver);
    // Leaves scope without finish(), as when a later step throws.
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".partial"));
}

TEST(WellFile, UnwritablePathIsOneClearError) {
  auto solver = make_solver("{nx: 8, ny: 8}");
  try {
    WellWriter writer("/nonexistent-dir/out.h5", *solver);
    FAIL() << "no error";
  } catch (const surge::core::IoError& e) {
    EXPECT_EQ(
        e.message(),
        "cannot write '/nonexistent-dir/out.h5': directory '/nonexistent-dir' does not exist");
  }
}

TEST(WellFile, FrameTimesAreTheInitialTimeThenTheOutputTimes) {
  auto heat = make_solver("{nx: 8, ny: 8, n_outputs: 4, t_end: 0.04}");
  EXPECT_EQ(surge::solvers::frame_times(*heat), (std::vector<double>{0.0, 0.01, 0.02, 0.03, 0.04}));
  // A solver whose first output is its initial time: that frame is not written twice.
  Relabelled solver(std::move(heat), {0.0, 0.01, 0.02}, "periodic");
  EXPECT_EQ(surge::solvers::frame_times(solver), (std::vector<double>{0.0, 0.01, 0.02}));
  const std::string path = std::string(SURGE_BINARY_DIR) + "/well_frame_times.h5";
  fs::remove(path);
  {
    WellWriter writer(path, solver);
    (void)surge::solvers::run_member(solver, {&writer}, surge::core::Logger("test"));
  }
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t d = H5Dopen2(f, "t0_fields/temperature", H5P_DEFAULT);
  hid_t space = H5Dget_space(d);
  hsize_t dims[4] = {0, 0, 0, 0};
  H5Sget_simple_extent_dims(space, dims, nullptr);
  EXPECT_EQ(dims[1], 3u);
  SURGE_HDF5_CHECK(H5Sclose(space));
  SURGE_HDF5_CHECK(H5Dclose(d));
  hid_t g = H5Gopen2(f, "boundary_conditions/x_periodic", H5P_DEFAULT);
  ASSERT_GE(g, 0);
  EXPECT_EQ(read_string_attribute(g, "bc_type"), "PERIODIC");
  SURGE_HDF5_CHECK(H5Gclose(g));
  SURGE_HDF5_CHECK(H5Fclose(f));
  fs::remove(path);
}

TEST(WellFile, ABoundaryTypeTheWellLacksIsAConfigErrorAndNoFile) {
  const std::string path = std::string(SURGE_BINARY_DIR) + "/well_neumann.h5";
  fs::remove(path);
  Relabelled solver(make_solver("{nx: 8, ny: 8}"), {0.1}, "neumann");
  try {
    WellWriter writer(path, solver);
    FAIL() << "no error";
  } catch (const surge::core::ConfigError& e) {
    EXPECT_EQ(e.message(), "boundary type 'neumann' has no Well bc_type (WALL, OPEN, PERIODIC)");
  }
  EXPECT_FALSE(fs::exists(path + ".partial"));
}
