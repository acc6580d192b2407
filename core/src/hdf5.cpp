#include "surge/core/hdf5.hpp"

#include <cstring>

namespace surge::core::h5 {

namespace {

// Rank of this process in the file's MPI-IO communicator, or -1 for a serial file.
int mpio_rank(hid_t obj) {
  File file(SURGE_HDF5_CHECK(H5Iget_file_id(obj)));
  PropertyList fapl(SURGE_HDF5_CHECK(H5Fget_access_plist(file)));
  if (SURGE_HDF5_CHECK(H5Pget_driver(fapl)) != H5FD_MPIO) return -1;
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Info info = MPI_INFO_NULL;
  SURGE_HDF5_CHECK(H5Pget_fapl_mpio(fapl, &comm, &info));
  int rank = 0;
  SURGE_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  SURGE_MPI_CHECK(MPI_Comm_free(&comm));
  if (info != MPI_INFO_NULL) SURGE_MPI_CHECK(MPI_Info_free(&info));
  return rank;
}

Attribute fresh_attribute(hid_t obj, const std::string& name, hid_t type, hid_t space) {
  if (SURGE_HDF5_CHECK(H5Aexists(obj, name.c_str())) > 0) {
    SURGE_HDF5_CHECK(H5Adelete(obj, name.c_str()));
  }
  return Attribute(
      SURGE_HDF5_CHECK(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT)));
}

Dataspace scalar_space() { return Dataspace(SURGE_HDF5_CHECK(H5Screate(H5S_SCALAR))); }
Dataspace vector_space(std::size_t n) {
  const hsize_t dims[1] = {static_cast<hsize_t>(n)};
  return Dataspace(SURGE_HDF5_CHECK(H5Screate_simple(1, dims, nullptr)));
}

Attribute open_attribute(hid_t obj, const std::string& name) {
  SURGE_REQUIRE(H5Aexists(obj, name.c_str()) > 0, IoError,
                "HDF5 attribute '" << name << "' is missing");
  return Attribute(SURGE_HDF5_CHECK(H5Aopen(obj, name.c_str(), H5P_DEFAULT)));
}

hsize_t element_count(hid_t attr) {
  Dataspace space(SURGE_HDF5_CHECK(H5Aget_space(attr)));
  return static_cast<hsize_t>(SURGE_HDF5_CHECK(H5Sget_simple_extent_npoints(space)));
}

}  // namespace

void silence_library_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

File create_file(const std::string& path, MPI_Comm comm) {
  silence_library_errors();
  PropertyList fapl(SURGE_HDF5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
  if (comm != MPI_COMM_NULL) SURGE_HDF5_CHECK(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (id < 0) {
    const std::string detail = core::detail::hdf5_error_text();
    SURGE_THROW(IoError, "cannot create HDF5 file '" << path << "'" << (detail.empty() ? "" : ": ")
                                                     << detail);
  }
  return File(id);
}

File open_file(const std::string& path, bool writable, MPI_Comm comm) {
  silence_library_errors();
  PropertyList fapl(SURGE_HDF5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
  if (comm != MPI_COMM_NULL) SURGE_HDF5_CHECK(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  const hid_t id = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
  if (id < 0) {
    const std::string detail = core::detail::hdf5_error_text();
    SURGE_THROW(IoError,
                "cannot open HDF5 file '" << path << "'" << (detail.empty() ? "" : ": ") << detail);
  }
  return File(id);
}

Group create_group(hid_t loc, const std::string& name) {
  return Group(
      SURGE_HDF5_CHECK(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
}

Group open_group(hid_t loc, const std::string& name) {
  SURGE_REQUIRE(exists(loc, name), IoError, "HDF5 group '" << name << "' is missing");
  return Group(SURGE_HDF5_CHECK(H5Gopen2(loc, name.c_str(), H5P_DEFAULT)));
}

bool exists(hid_t loc, const std::string& path) {
  // H5Lexists needs every intermediate link to exist, so check the path piece by piece.
  for (std::size_t end = path.find('/', 1);; end = path.find('/', end + 1)) {
    const std::string prefix = path.substr(0, end);
    if (SURGE_HDF5_CHECK(H5Lexists(loc, prefix.c_str(), H5P_DEFAULT)) == 0) return false;
    if (end == std::string::npos) return true;
  }
}

Datatype bool_type() {
  Datatype t(SURGE_HDF5_CHECK(H5Tenum_create(H5T_NATIVE_INT8)));
  const std::int8_t f = 0, tr = 1;
  SURGE_HDF5_CHECK(H5Tenum_insert(t, "FALSE", &f));
  SURGE_HDF5_CHECK(H5Tenum_insert(t, "TRUE", &tr));
  return t;
}

Datatype string_type() {
  Datatype t(SURGE_HDF5_CHECK(H5Tcopy(H5T_C_S1)));
  SURGE_HDF5_CHECK(H5Tset_size(t, H5T_VARIABLE));
  SURGE_HDF5_CHECK(H5Tset_cset(t, H5T_CSET_UTF8));
  return t;
}

void write_attribute(hid_t obj, const std::string& name, double value) {
  Attribute a = fresh_attribute(obj, name, H5T_NATIVE_DOUBLE, scalar_space());
  SURGE_HDF5_CHECK(H5Awrite(a, H5T_NATIVE_DOUBLE, &value));
}

void write_attribute(hid_t obj, const std::string& name, std::int64_t value) {
  Attribute a = fresh_attribute(obj, name, H5T_NATIVE_INT64, scalar_space());
  SURGE_HDF5_CHECK(H5Awrite(a, H5T_NATIVE_INT64, &value));
}

void write_attribute(hid_t obj, const std::string& name, bool value) {
  Datatype t = bool_type();
  Attribute a = fresh_attribute(obj, name, t, scalar_space());
  const std::int8_t v = value ? 1 : 0;
  SURGE_HDF5_CHECK(H5Awrite(a, t, &v));
}

void write_attribute(hid_t obj, const std::string& name, const char* value) {
  write_attribute(obj, name, std::string(value));
}

void write_attribute(hid_t obj, const std::string& name, const std::string& value) {
  Datatype t = string_type();
  Attribute a = fresh_attribute(obj, name, t, scalar_space());
  const char* ptr = value.c_str();
  SURGE_HDF5_CHECK(H5Awrite(a, t, &ptr));
}

void write_attribute(hid_t obj, const std::string& name, const std::vector<double>& value) {
  Attribute a = fresh_attribute(obj, name, H5T_NATIVE_DOUBLE, vector_space(value.size()));
  if (!value.empty()) SURGE_HDF5_CHECK(H5Awrite(a, H5T_NATIVE_DOUBLE, value.data()));
}

void write_attribute(hid_t obj, const std::string& name, const std::vector<bool>& value) {
  Datatype t = bool_type();
  Attribute a = fresh_attribute(obj, name, t, vector_space(value.size()));
  std::vector<std::int8_t> bytes(value.begin(), value.end());
  if (!bytes.empty()) SURGE_HDF5_CHECK(H5Awrite(a, t, bytes.data()));
}

void write_attribute(hid_t obj, const std::string& name, const std::vector<std::string>& value) {
  Datatype t = string_type();
  Attribute a = fresh_attribute(obj, name, t, vector_space(value.size()));
  std::vector<const char*> ptrs;
  for (const auto& s : value) ptrs.push_back(s.c_str());
  if (!ptrs.empty()) SURGE_HDF5_CHECK(H5Awrite(a, t, ptrs.data()));
}

double read_attribute_double(hid_t obj, const std::string& name) {
  Attribute a = open_attribute(obj, name);
  double v = 0;
  SURGE_HDF5_CHECK(H5Aread(a, H5T_NATIVE_DOUBLE, &v));
  return v;
}

std::int64_t read_attribute_int(hid_t obj, const std::string& name) {
  Attribute a = open_attribute(obj, name);
  std::int64_t v = 0;
  SURGE_HDF5_CHECK(H5Aread(a, H5T_NATIVE_INT64, &v));
  return v;
}

bool read_attribute_bool(hid_t obj, const std::string& name) {
  Attribute a = open_attribute(obj, name);
  Datatype t = bool_type();
  std::int8_t v = 0;
  SURGE_HDF5_CHECK(H5Aread(a, t, &v));
  return v != 0;
}

std::vector<std::string> read_attribute_strings(hid_t obj, const std::string& name) {
  Attribute a = open_attribute(obj, name);
  Datatype file_type(SURGE_HDF5_CHECK(H5Aget_type(a)));
  SURGE_REQUIRE(H5Tget_class(file_type) == H5T_STRING, IoError,
                "HDF5 attribute '" << name << "' is not a string");
  const hsize_t n = element_count(a);
  std::vector<std::string> out;
  if (n == 0) return out;
  if (SURGE_HDF5_CHECK(H5Tis_variable_str(file_type)) > 0) {
    Datatype mem = string_type();
    std::vector<char*> ptrs(n, nullptr);
    SURGE_HDF5_CHECK(H5Aread(a, mem, ptrs.data()));
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    Dataspace space(SURGE_HDF5_CHECK(H5Aget_space(a)));
    SURGE_HDF5_CHECK(H5Dvlen_reclaim(mem, space, H5P_DEFAULT, ptrs.data()));
  } else {
    const std::size_t size = H5Tget_size(file_type);
    SURGE_REQUIRE(size > 0, IoError, "HDF5 attribute '" << name << "': no string size");
    std::vector<char> buffer(n * size);
    SURGE_HDF5_CHECK(H5Aread(a, file_type, buffer.data()));
    for (hsize_t i = 0; i < n; ++i) {
      const char* s = buffer.data() + i * size;
      out.emplace_back(s, strnlen(s, size));
    }
  }
  return out;
}

std::string read_attribute_string(hid_t obj, const std::string& name) {
  auto all = read_attribute_strings(obj, name);
  SURGE_REQUIRE(all.size() == 1, IoError, "HDF5 attribute '" << name << "' is not a single string");
  return all.front();
}

std::vector<double> read_attribute_doubles(hid_t obj, const std::string& name) {
  Attribute a = open_attribute(obj, name);
  std::vector<double> out(element_count(a));
  SURGE_HDF5_CHECK(H5Aread(a, H5T_NATIVE_DOUBLE, out.data()));
  return out;
}

Dataset create_dataset(hid_t loc, const std::string& name, hid_t type,
                       const std::vector<hsize_t>& dims, const std::vector<hsize_t>& chunk) {
  Dataspace space(
      SURGE_HDF5_CHECK(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr)));
  PropertyList dcpl(SURGE_HDF5_CHECK(H5Pcreate(H5P_DATASET_CREATE)));
  if (!chunk.empty()) {
    SURGE_HDF5_CHECK(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()));
  }
  return Dataset(
      SURGE_HDF5_CHECK(H5Dcreate2(loc, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)));
}

std::vector<hsize_t> shape(hid_t dataset) {
  Dataspace space(SURGE_HDF5_CHECK(H5Dget_space(dataset)));
  const int rank = SURGE_HDF5_CHECK(H5Sget_simple_extent_ndims(space));
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  SURGE_HDF5_CHECK(H5Sget_simple_extent_dims(space, dims.data(), nullptr));
  return dims;
}

void write_block(hid_t dataset, const std::vector<hsize_t>& offset,
                 const std::vector<hsize_t>& count, hid_t mem_type, const void* data) {
  Dataspace file_space(SURGE_HDF5_CHECK(H5Dget_space(dataset)));
  const int rank = SURGE_HDF5_CHECK(H5Sget_simple_extent_ndims(file_space));
  bool empty = count.empty();
  for (hsize_t c : count) empty = empty || c == 0;
  Dataspace mem_space;
  if (empty) {
    const hsize_t one = 1;
    mem_space = Dataspace(SURGE_HDF5_CHECK(H5Screate_simple(1, &one, nullptr)));
    SURGE_HDF5_CHECK(H5Sselect_none(mem_space));
    SURGE_HDF5_CHECK(H5Sselect_none(file_space));
  } else {
    SURGE_REQUIRE(static_cast<int>(count.size()) == rank && offset.size() == count.size(), IoError,
                  "block rank " << count.size() << " does not match dataset rank " << rank);
    mem_space = Dataspace(
        SURGE_HDF5_CHECK(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr)));
    SURGE_HDF5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, offset.data(), nullptr,
                                         count.data(), nullptr));
  }
  PropertyList dxpl(SURGE_HDF5_CHECK(H5Pcreate(H5P_DATASET_XFER)));
  if (mpio_rank(dataset) >= 0) SURGE_HDF5_CHECK(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  SURGE_HDF5_CHECK(H5Dwrite(dataset, mem_type, mem_space, file_space, dxpl, data));
}

namespace detail {
// Rank 0 writes the whole small dataset; other ranks of a parallel file join with nothing.
void write_whole(hid_t dataset, const std::vector<hsize_t>& dims, hid_t mem_type,
                 const void* data) {
  const int rank = mpio_rank(dataset);
  if (rank > 0) {
    write_block(dataset, {}, {}, mem_type, nullptr);
  } else {
    write_block(dataset, std::vector<hsize_t>(dims.size(), 0), dims, mem_type, data);
  }
}
}  // namespace detail

void write_dataset(hid_t loc, const std::string& name, const std::vector<bool>& data) {
  Datatype t = bool_type();
  const std::vector<hsize_t> dims = {static_cast<hsize_t>(data.size())};
  Dataset d = create_dataset(loc, name, t, dims);
  std::vector<std::int8_t> bytes(data.begin(), data.end());
  detail::write_whole(d, dims, t, bytes.data());
}

}  // namespace surge::core::h5

// The HDF5 side of SURGE_HDF5_CHECK (declared in error.hpp).
namespace surge::core::detail {

std::string hdf5_error_text() {
  std::string innermost;
  auto walk = [](unsigned n, const H5E_error2_t* err, void* data) -> herr_t {
    auto* out = static_cast<std::string*>(data);
    if (n == 0 && err->desc) *out = err->desc;  // walking upward: n == 0 is the innermost
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk, &innermost);
  H5Eclear2(H5E_DEFAULT);
  return innermost;
}

void throw_hdf5(const char* call, const char* file, int line) {
  std::string detail = hdf5_error_text();
  throw IoError(std::string("HDF5 call failed: ") + call + (detail.empty() ? "" : ": " + detail),
                file, line);
}

}  // namespace surge::core::detail
