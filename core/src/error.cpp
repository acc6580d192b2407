// The typed errors. MPI-free and HDF5-free (surge::core_base): the MPI and HDF5 helpers of
// the check macros live with their libraries, in mpi.cpp and hdf5.cpp.
#include "surge/core/error.hpp"

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

}  // namespace surge::core
