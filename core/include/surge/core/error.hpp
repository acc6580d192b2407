#pragma once
// Typed exceptions that carry the source file and line where they were raised, and the
// macros that raise them. Every surge executable catches `surge::core::Error` in main,
// prints one line and exits non-zero.

#include <sstream>
#include <stdexcept>
#include <string>

namespace surge::core {

class Error : public std::runtime_error {
 public:
  Error(const std::string& message, const char* file, int line);

  // The message without the source location, for users.
  [[nodiscard]] const std::string& message() const noexcept { return message_; }
  [[nodiscard]] const char* file() const noexcept { return file_; }
  [[nodiscard]] int line() const noexcept { return line_; }
  // The kind shown to users ("config", "I/O", ...).
  [[nodiscard]] virtual const char* kind() const noexcept { return "error"; }

 private:
  std::string message_;
  const char* file_;
  int line_;
};

// Bad configuration or command-line input.
class ConfigError : public Error {
 public:
  using Error::Error;
  [[nodiscard]] const char* kind() const noexcept override { return "config error"; }
};
// A file could not be read or written, or HDF5 reported a failure.
class IoError : public Error {
 public:
  using Error::Error;
  [[nodiscard]] const char* kind() const noexcept override { return "I/O error"; }
};
// An MPI call failed or ranks disagree.
class MpiError : public Error {
 public:
  using Error::Error;
  [[nodiscard]] const char* kind() const noexcept override { return "MPI error"; }
};
// A malformed or unexpected message on the wire.
class ProtocolError : public Error {
 public:
  using Error::Error;
  [[nodiscard]] const char* kind() const noexcept override { return "protocol error"; }
};
// A numerical method failed (no convergence, non-finite values).
class NumericalError : public Error {
 public:
  using Error::Error;
  [[nodiscard]] const char* kind() const noexcept override { return "numerical error"; }
};

// One line for a user: "<kind>: <message> [file.cpp:42]" (no location for ConfigError).
[[nodiscard]] std::string describe(const Error& e);

// Helpers of SURGE_HDF5_CHECK and SURGE_MPI_CHECK, defined in surge::core (hdf5.cpp, mpi.cpp):
// code using the macros links surge::core; the errors alone need only surge::core_base.
namespace detail {
// The innermost description on the HDF5 error stack (then clears the stack), or "".
[[nodiscard]] std::string hdf5_error_text();
// The text MPI gives for an error code.
[[nodiscard]] std::string mpi_error_text(int code);
[[noreturn]] void throw_hdf5(const char* call, const char* file, int line);
[[noreturn]] void throw_mpi(int code, const char* call, const char* file, int line);

template <class T>
T hdf5_check(T value, const char* call, const char* file, int line) {
  if (value < 0) throw_hdf5(call, file, line);
  return value;
}
}  // namespace detail
}  // namespace surge::core

// Throws surge::core::<Kind>(msg) when cond is false; msg may use `<<`.
#define SURGE_REQUIRE(cond, Kind, msg)                                        \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::ostringstream surge_require_os_;                                   \
      surge_require_os_ << msg;                                               \
      throw ::surge::core::Kind(surge_require_os_.str(), __FILE__, __LINE__); \
    }                                                                         \
  } while (0)

#define SURGE_THROW(Kind, msg) SURGE_REQUIRE(false, Kind, msg)

// Wraps an MPI call; throws MpiError with MPI's own text on failure.
#define SURGE_MPI_CHECK(call)                                                     \
  do {                                                                            \
    int surge_mpi_rc_ = (call);                                                   \
    if (surge_mpi_rc_ != 0)                                                       \
      ::surge::core::detail::throw_mpi(surge_mpi_rc_, #call, __FILE__, __LINE__); \
  } while (0)

// Wraps an HDF5 call returning herr_t or hid_t; yields the value, throws IoError if < 0.
#define SURGE_HDF5_CHECK(call) ::surge::core::detail::hdf5_check((call), #call, __FILE__, __LINE__)
