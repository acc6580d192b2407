#include "offline/well_data.hpp"

#include <glob.h>
#include <hdf5.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "surge/core/error.hpp"
#include "surge/core/hdf5.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;
namespace h5 = core::h5;

namespace {

std::string shape_text(const std::vector<hsize_t>& dims) {
  std::string out = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + (dims.size() == 1 ? ",)" : ")");
}

h5::File open_data_file(const std::string& path) {
  h5::silence_library_errors();
  // H5Fis_hdf5 is negative for a file it cannot open, 0 for one that is not HDF5.
  SURGE_REQUIRE(H5Fis_hdf5(path.c_str()) > 0, IoError, path << ": not an HDF5 file");
  return h5::open_file(path);
}

bool has_attribute(hid_t obj, const char* name) {
  return SURGE_HDF5_CHECK(H5Aexists(obj, name)) > 0;
}

// Names of a group's datasets: its field_names attribute (The Well's order) or, without
// one, its links by name.
std::vector<std::string> group_fields(hid_t file, const std::string& group) {
  if (!h5::exists(file, group)) return {};
  const h5::Group g = h5::open_group(file, group);
  if (has_attribute(g, "field_names")) return h5::read_attribute_strings(g, "field_names");
  std::vector<std::string> names;
  SURGE_HDF5_CHECK(H5Literate(
      g, H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
        static_cast<std::vector<std::string>*>(out)->emplace_back(name);
        return 0;
      },
      &names));
  return names;
}

// The shape of a field dataset after checking that it exists, is floating point and has
// the rank of its group: (trajectories, frames, nx, ny) or (..., components).
std::vector<hsize_t> field_shape(hid_t file, const std::string& path, const std::string& where) {
  SURGE_REQUIRE(h5::exists(file, where), IoError, path << ": no dataset " << where);
  const h5::Dataset d(SURGE_HDF5_CHECK(H5Dopen2(file, where.c_str(), H5P_DEFAULT)));
  const h5::Datatype type(SURGE_HDF5_CHECK(H5Dget_type(d)));
  const H5T_class_t kind = H5Tget_class(type);
  SURGE_REQUIRE(kind == H5T_FLOAT, IoError,
                path << ": " << where << " is "
                     << (kind == H5T_INTEGER ? "integer" : "not a number")
                     << " data; surge reads float32 or float64 fields");
  const std::vector<hsize_t> dims = h5::shape(d);
  const bool vector = where.rfind("t1_fields/", 0) == 0;
  SURGE_REQUIRE(dims.size() == (vector ? 5u : 4u), IoError,
                path << ": " << where << " has shape " << shape_text(dims) << "; surge reads "
                     << (vector ? "(trajectories, frames, nx, ny, components)"
                                : "(trajectories, frames, nx, ny)")
                     << ": 2D fields that vary with trajectory and time");
  return dims;
}

std::vector<std::string> spatial_dims(hid_t file) {
  if (h5::exists(file, "dimensions")) {
    const h5::Group g = h5::open_group(file, "dimensions");
    if (has_attribute(g, "spatial_dims")) return h5::read_attribute_strings(g, "spatial_dims");
  }
  return {"x", "y"};
}

// Axes that a boundary_conditions/ group declares PERIODIC.
std::vector<bool> periodic_axes(hid_t file) {
  std::vector<bool> periodic = {false, false};
  if (!h5::exists(file, "boundary_conditions")) return periodic;
  const auto axes = spatial_dims(file);
  const h5::Group bcs = h5::open_group(file, "boundary_conditions");
  for (const auto& name : group_fields(file, "boundary_conditions")) {
    if (SURGE_HDF5_CHECK(H5Oexists_by_name(bcs, name.c_str(), H5P_DEFAULT)) == 0) continue;
    const h5::Group g = h5::open_group(bcs, name);
    if (!has_attribute(g, "bc_type") || !has_attribute(g, "associated_dims")) continue;
    std::string type = h5::read_attribute_strings(g, "bc_type").at(0);
    std::transform(type.begin(), type.end(), type.begin(), ::toupper);
    if (type != "PERIODIC") continue;
    for (const auto& dim : h5::read_attribute_strings(g, "associated_dims")) {
      for (std::size_t a = 0; a < axes.size() && a < 2; ++a) {
        if (axes[a] == dim) periodic[a] = true;
      }
    }
  }
  return periodic;
}

std::vector<std::string> parameter_names(hid_t file) {
  if (!has_attribute(file, "simulation_parameters")) return {};
  return h5::read_attribute_strings(file, "simulation_parameters");
}

}  // namespace

std::vector<std::string> expand_data_files(const std::vector<std::string>& patterns,
                                           const std::string& key) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& pattern : patterns) {
    glob_t g{};
    const int rc = glob(pattern.c_str(), 0, nullptr, &g);
    std::vector<std::string> matches;
    if (rc == 0) {
      for (std::size_t i = 0; i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
    }
    globfree(&g);
    SURGE_REQUIRE(!matches.empty(), IoError, key << ": no files match '" << pattern << "'");
    for (auto& m : matches) {
      if (seen.insert(fs::absolute(m).lexically_normal().string()).second)
        out.push_back(std::move(m));
    }
  }
  return out;
}

WellLayout read_well_layout(const std::string& path, const std::vector<std::string>& names) {
  const h5::File file = open_data_file(path);
  WellLayout layout;
  layout.first_file = path;
  if (has_attribute(file, "dataset_name"))
    layout.dataset_name = h5::read_attribute_string(file, "dataset_name");
  const auto t0 = group_fields(file, "t0_fields"), t1 = group_fields(file, "t1_fields");
  std::vector<std::string> wanted = names;
  if (wanted.empty()) {
    wanted = t0;
    wanted.insert(wanted.end(), t1.begin(), t1.end());
  }
  SURGE_REQUIRE(!wanted.empty(), IoError,
                path << ": no dataset in t0_fields/ or t1_fields/ (nothing to learn)");
  std::vector<hsize_t> first;
  for (const auto& name : wanted) {
    const bool vector = std::find(t1.begin(), t1.end(), name) != t1.end();
    SURGE_REQUIRE(vector || std::find(t0.begin(), t0.end(), name) != t0.end() ||
                      h5::exists(file, "t0_fields/" + name),
                  IoError, path << ": no dataset t0_fields/" << name << " or t1_fields/" << name);
    const std::string where = (vector ? "t1_fields/" : "t0_fields/") + name;
    const auto dims = field_shape(file, path, where);
    if (first.empty()) first = dims;
    SURGE_REQUIRE(std::equal(dims.begin(), dims.begin() + 4, first.begin()), IoError,
                  path << ": " << where << " has shape " << shape_text(dims) << ", "
                       << layout.datasets.front() << " " << shape_text(first)
                       << ": every field needs the same trajectories, frames and grid");
    layout.fields.push_back({name, vector ? static_cast<int>(dims[4]) : 1});
    layout.datasets.push_back(where);
  }
  layout.frames = static_cast<std::int64_t>(first[1]);
  layout.grid = {static_cast<std::int64_t>(first[2]), static_cast<std::int64_t>(first[3])};
  layout.parameter_names = parameter_names(file);
  layout.periodic = periodic_axes(file);
  return layout;
}

WellFile scan_well_file(const std::string& path, const WellLayout& layout) {
  const h5::File file = open_data_file(path);
  WellFile out;
  out.path = path;
  std::error_code ec;
  out.bytes = fs::file_size(path, ec);
  for (std::size_t k = 0; k < layout.fields.size(); ++k) {
    const std::string& where = layout.datasets[k];
    const auto dims = field_shape(file, path, where);
    std::vector<hsize_t> expected = {dims[0], static_cast<hsize_t>(layout.frames),
                                     static_cast<hsize_t>(layout.grid[0]),
                                     static_cast<hsize_t>(layout.grid[1])};
    if (where.rfind("t1_fields/", 0) == 0)
      expected.push_back(static_cast<hsize_t>(layout.fields[k].components));
    if (out.trajectories == 0) out.trajectories = static_cast<std::int64_t>(dims[0]);
    expected[0] = static_cast<hsize_t>(out.trajectories);
    SURGE_REQUIRE(dims == expected, IoError,
                  path << ": " << where << " has shape " << shape_text(dims) << ", not "
                       << shape_text(expected) << " (frames and grid of " << layout.first_file
                       << ")");
  }
  SURGE_REQUIRE(out.trajectories >= 1, IoError,
                path << ": " << layout.datasets.front() << " holds no trajectory");
  SURGE_REQUIRE(h5::exists(file, "dimensions/time"), IoError,
                path << ": no dataset dimensions/time");
  std::vector<hsize_t> tdims;
  const auto times = h5::read_dataset<double>(file, "dimensions/time", &tdims);
  SURGE_REQUIRE(!tdims.empty() && tdims.back() == static_cast<hsize_t>(layout.frames), IoError,
                path << ": dimensions/time has shape " << shape_text(tdims) << " for "
                     << layout.frames << " frames");
  out.times.assign(times.begin(), times.begin() + layout.frames);

  const auto names = parameter_names(file);
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& n : v) s += (s.empty() ? "" : ", ") + n;
    return "(" + s + ")";
  };
  SURGE_REQUIRE(names == layout.parameter_names, IoError,
                path << ": simulation_parameters " << list(names) << " differ from "
                     << list(layout.parameter_names) << " in " << layout.first_file);
  out.parameters.assign(static_cast<std::size_t>(out.trajectories), {});
  for (const auto& name : names) {
    // One value per trajectory in scalars/<name>, or the file's value (the root attribute,
    // in double precision in surge's files; else a single scalars/<name>).
    std::vector<double> values;
    const std::string where = "scalars/" + name;
    if (h5::exists(file, where)) values = h5::read_dataset<double>(file, where);
    const bool per_trajectory =
        out.trajectories > 1 && static_cast<std::int64_t>(values.size()) == out.trajectories;
    if (!per_trajectory && has_attribute(file, name.c_str())) {
      values = {h5::read_attribute_double(file, name)};
    }
    SURGE_REQUIRE(per_trajectory || values.size() == 1, IoError,
                  path << ": parameter '" << name << "' has " << values.size() << " values in "
                       << where << " (and no root attribute) for " << out.trajectories
                       << " trajectories");
    for (std::int64_t t = 0; t < out.trajectories; ++t) {
      out.parameters[static_cast<std::size_t>(t)].push_back(
          values[per_trajectory ? static_cast<std::size_t>(t) : 0]);
    }
  }
  return out;
}

struct WellReader::Impl {
  const WellFile& file;
  const WellLayout& layout;
  h5::File handle;
  std::vector<h5::Dataset> datasets;
};

WellReader::WellReader(const WellFile& file, const WellLayout& layout)
    : impl_(new Impl{file, layout, open_data_file(file.path), {}}) {
  for (const auto& where : layout.datasets) {
    impl_->datasets.emplace_back(
        SURGE_HDF5_CHECK(H5Dopen2(impl_->handle, where.c_str(), H5P_DEFAULT)));
  }
}

WellReader::~WellReader() = default;

std::vector<streaming::Field> WellReader::read(std::int64_t trajectory, std::int64_t first,
                                               std::int64_t count, std::uint64_t simulation) const {
  return read_frames(trajectory, first, count, simulation, false);
}

std::vector<streaming::Field> WellReader::read_views(std::int64_t trajectory, std::int64_t first,
                                                     std::int64_t count,
                                                     std::uint64_t simulation) const {
  return read_frames(trajectory, first, count, simulation, true);
}

std::vector<streaming::Field> WellReader::read_frames(std::int64_t trajectory, std::int64_t first,
                                                      std::int64_t count, std::uint64_t simulation,
                                                      bool views) const {
  const WellLayout& layout = impl_->layout;
  const auto nx = static_cast<std::uint64_t>(layout.grid[0]);
  const auto ny = static_cast<std::uint64_t>(layout.grid[1]);
  // Not zeroed: H5Dread fills every element (or throws).
  std::vector<std::shared_ptr<float[]>> blocks(layout.fields.size());
  for (std::size_t k = 0; k < layout.fields.size(); ++k) {
    const auto c = static_cast<hsize_t>(layout.fields[k].components);
    const bool vector = layout.datasets[k].rfind("t1_fields/", 0) == 0;
    std::vector<hsize_t> start = {static_cast<hsize_t>(trajectory), static_cast<hsize_t>(first), 0,
                                  0};
    std::vector<hsize_t> extent = {1, static_cast<hsize_t>(count), nx, ny};
    if (vector) {
      start.push_back(0);
      extent.push_back(c);
    }
    blocks[k].reset(new float[static_cast<std::size_t>(count) * nx * ny * c]);
    const h5::Dataspace file_space(SURGE_HDF5_CHECK(H5Dget_space(impl_->datasets[k])));
    SURGE_HDF5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr,
                                         extent.data(), nullptr));
    const h5::Dataspace memory(SURGE_HDF5_CHECK(
        H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr)));
    try {
      SURGE_HDF5_CHECK(H5Dread(impl_->datasets[k], H5T_NATIVE_FLOAT, memory, file_space,
                               H5P_DEFAULT, blocks[k].get()));
    } catch (const core::IoError& e) {
      SURGE_THROW(IoError, impl_->file.path << ": reading " << layout.datasets[k]
                                            << " failed: " << e.message());
    }
  }
  std::vector<streaming::Field> out;
  out.reserve(static_cast<std::size_t>(count) * layout.fields.size());
  const auto& parameters = impl_->file.parameters.at(static_cast<std::size_t>(trajectory));
  for (std::int64_t f = 0; f < count; ++f) {
    for (std::size_t k = 0; k < layout.fields.size(); ++k) {
      const auto c = static_cast<std::size_t>(layout.fields[k].components);
      const std::size_t n = nx * ny * c;
      streaming::Field field;
      field.simulation = simulation;
      field.field_id = static_cast<std::uint32_t>(k);
      field.name = layout.fields[k].name;
      field.step = first + f;
      field.time = impl_->file.times.at(static_cast<std::size_t>(first + f));
      field.dtype = streaming::DType::float32;
      field.shape = {nx, ny};
      if (layout.datasets[k].rfind("t1_fields/", 0) == 0) field.shape.push_back(c);
      field.parameters = parameters;
      const float* frame = blocks[k].get() + static_cast<std::size_t>(f) * n;
      if (views) {
        field.data = streaming::FieldBuffer::adopt(reinterpret_cast<const std::byte*>(frame),
                                                   n * sizeof(float), blocks[k]);
      } else {
        field.data = streaming::FieldBuffer::allocate_for_overwrite(n * sizeof(float));
        std::memcpy(field.data.writable(), frame, n * sizeof(float));
      }
      out.push_back(std::move(field));
    }
  }
  return out;
}

}  // namespace surge::experiments
