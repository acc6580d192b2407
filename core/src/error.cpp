#include "surge/core/error.hpp"

#include <hdf5.h>
#include <mpi.h>

#include <cstring>

namespace surge::core {

namespace {
const char* basename_of(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}
}  // namespace

Error::Error(const std::string& message, const char* file, int line)
    : std::runtime_error(message + " [" + basename_of(file) + ":" + std::to_string(line) + "]"),
      message_(message),
      file_(file),
      line_(line) {}

std::string describe(const Error& e) {
  // A configuration error is the user's input, not a fault in surge: the source location
  // would only distract. Every other kind keeps it for bug reports.
  if (dynamic_cast<const ConfigError*>(&e)) return std::string(e.kind()) + ": " + e.message();
  return std::string(e.kind()) + ": " + e.what();
}

namespace detail {

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

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS)
    return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<std::size_t>(length));
}

void throw_hdf5(const char* call, const char* file, int line) {
  std::string detail = hdf5_error_text();
  throw IoError(std::string("HDF5 call failed: ") + call + (detail.empty() ? "" : ": " + detail),
                file, line);
}

void throw_mpi(int code, const char* call, const char* file, int line) {
  throw MpiError(std::string(call) + " failed: " + mpi_error_text(code), file, line);
}

}  // namespace detail
}  // namespace surge::core
