#pragma once
// RAII handles for HDF5 ids (Parthenon's H5Handle idiom) and helpers for the attributes,
// small datasets and distributed blocks that surge writes. Files opened with an MPI
// communicator use MPI-IO; every helper is then collective over that communicator.

#include <hdf5.h>
#include <mpi.h>

#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "surge/core/error.hpp"

namespace surge::core::h5 {

template <herr_t (*Close)(hid_t)>
class Handle {
 public:
  Handle() = default;
  // Takes ownership of a valid id (>= 0); use SURGE_HDF5_CHECK on the call that made it.
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, -1)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, -1);
    }
    return *this;
  }
  [[nodiscard]] hid_t get() const noexcept { return id_; }
  operator hid_t() const noexcept { return id_; }  // NOLINT: handles pass where ids are expected
  [[nodiscard]] explicit operator bool() const noexcept { return id_ >= 0; }
  // Closes now; a close failure (e.g. a full disk on flush) throws IoError.
  void close() {
    if (id_ >= 0) {
      const hid_t id = std::exchange(id_, -1);
      SURGE_HDF5_CHECK(Close(id));
    }
  }
  void reset() noexcept {
    if (id_ >= 0) Close(std::exchange(id_, -1));
  }

 private:
  hid_t id_ = -1;
};

using File = Handle<&H5Fclose>;
using Group = Handle<&H5Gclose>;
using Dataset = Handle<&H5Dclose>;
using Dataspace = Handle<&H5Sclose>;
using PropertyList = Handle<&H5Pclose>;
using Attribute = Handle<&H5Aclose>;
using Datatype = Handle<&H5Tclose>;

// Turns off HDF5's automatic error-stack printing: failures become one IoError line.
void silence_library_errors();

// Creates (truncating) a file. With a communicator other than MPI_COMM_NULL the file is
// opened through MPI-IO and the call is collective. Throws IoError naming the path.
[[nodiscard]] File create_file(const std::string& path, MPI_Comm comm = MPI_COMM_NULL);
// Opens an existing file read-only (or read-write). Throws IoError naming the path.
[[nodiscard]] File open_file(const std::string& path, bool writable = false,
                             MPI_Comm comm = MPI_COMM_NULL);

[[nodiscard]] Group create_group(hid_t loc, const std::string& name);
[[nodiscard]] Group open_group(hid_t loc, const std::string& name);
[[nodiscard]] bool exists(hid_t loc, const std::string& path);

// The HDF5 type of a C++ scalar.
template <class T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, float>)
    return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, double>)
    return H5T_NATIVE_DOUBLE;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return H5T_NATIVE_INT32;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return H5T_NATIVE_INT64;
  else if constexpr (std::is_same_v<T, std::uint64_t>)
    return H5T_NATIVE_UINT64;
  else if constexpr (std::is_same_v<T, std::uint8_t>)
    return H5T_NATIVE_UINT8;
  else
    static_assert(!sizeof(T), "no HDF5 type for this C++ type");
}
// h5py's boolean: an 8-bit enum {FALSE = 0, TRUE = 1}, read by numpy as bool.
[[nodiscard]] Datatype bool_type();
// Variable-length UTF-8 string, what h5py writes for `str`.
[[nodiscard]] Datatype string_type();

// Attributes (created or replaced). In a parallel file every rank must pass the same value.
void write_attribute(hid_t obj, const std::string& name, double value);
void write_attribute(hid_t obj, const std::string& name, std::int64_t value);
void write_attribute(hid_t obj, const std::string& name, bool value);
void write_attribute(hid_t obj, const std::string& name, const std::string& value);
void write_attribute(hid_t obj, const std::string& name, const char* value);
void write_attribute(hid_t obj, const std::string& name, const std::vector<double>& value);
void write_attribute(hid_t obj, const std::string& name, const std::vector<bool>& value);
void write_attribute(hid_t obj, const std::string& name, const std::vector<std::string>& value);

[[nodiscard]] double read_attribute_double(hid_t obj, const std::string& name);
[[nodiscard]] std::int64_t read_attribute_int(hid_t obj, const std::string& name);
[[nodiscard]] bool read_attribute_bool(hid_t obj, const std::string& name);
[[nodiscard]] std::string read_attribute_string(hid_t obj, const std::string& name);
[[nodiscard]] std::vector<std::string> read_attribute_strings(hid_t obj, const std::string& name);
[[nodiscard]] std::vector<double> read_attribute_doubles(hid_t obj, const std::string& name);

// Creates a dataset of element type `type` and shape `dims` (optionally chunked).
[[nodiscard]] Dataset create_dataset(hid_t loc, const std::string& name, hid_t type,
                                     const std::vector<hsize_t>& dims,
                                     const std::vector<hsize_t>& chunk = {});

// Writes a block [offset, offset + count) of a dataset from `data` (count elements in
// row-major order, type `mem_type`). In a parallel file this is a collective write: every
// rank calls it, each with its own block; a rank with nothing to write passes empty counts.
void write_block(hid_t dataset, const std::vector<hsize_t>& offset,
                 const std::vector<hsize_t>& count, hid_t mem_type, const void* data);

template <class T>
void write_block(hid_t dataset, const std::vector<hsize_t>& offset,
                 const std::vector<hsize_t>& count, const T* data) {
  write_block(dataset, offset, count, native_type<T>(), data);
}

// A whole small dataset at once. In a parallel file rank 0 writes, the others take part
// in the collective call with an empty selection.
namespace detail {
void write_whole(hid_t dataset, const std::vector<hsize_t>& dims, hid_t mem_type, const void* data);
}
template <class T>
void write_dataset(hid_t loc, const std::string& name, const std::vector<T>& data,
                   std::vector<hsize_t> dims = {}) {
  if (dims.empty()) dims = {static_cast<hsize_t>(data.size())};
  Dataset d = create_dataset(loc, name, native_type<T>(), dims);
  detail::write_whole(d, dims, native_type<T>(), data.data());
}
void write_dataset(hid_t loc, const std::string& name, const std::vector<bool>& data);

// Shape of a dataset.
[[nodiscard]] std::vector<hsize_t> shape(hid_t dataset);

// Reads a whole dataset (converted to T); `dims` receives its shape if not null.
template <class T>
std::vector<T> read_dataset(hid_t loc, const std::string& name,
                            std::vector<hsize_t>* dims = nullptr) {
  Dataset d(SURGE_HDF5_CHECK(H5Dopen2(loc, name.c_str(), H5P_DEFAULT)));
  const std::vector<hsize_t> s = shape(d);
  hsize_t n = 1;
  for (hsize_t e : s) n *= e;
  std::vector<T> out(n);
  if (n > 0)
    SURGE_HDF5_CHECK(H5Dread(d, native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()));
  if (dims) *dims = s;
  return out;
}

}  // namespace surge::core::h5
