#pragma once
// What a failed call of one of surge's C APIs means: the streaming client's (client.h) and
// the surrogate's (surrogate.h) both turn the exception in flight into a `CallFailure` here,
// so that one exception kind has one meaning in both, then into their own status code.

#include <string>

namespace surge::core::c_api {

// The meaning of a failure, by the kind of exception that carried it.
enum class CallFailure {
  argument,       // ConfigError: the caller's arguments, environment or configuration are wrong
  io,             // IoError: a file the caller named cannot be read or written
  protocol,       // ProtocolError: an exchange with another process failed or broke its rules
  out_of_memory,  // std::bad_alloc
  internal,       // anything else: MpiError, NumericalError, another Error or std::exception
};

struct Failure {
  CallFailure kind = CallFailure::internal;
  std::string message;  // one line, without the source location
};

// Classifies the exception being handled. Call it only inside a `catch` block; a core::Error
// gives its message(), a std::exception the first line of its what() (LibTorch appends a
// backtrace), anything else "unknown exception".
[[nodiscard]] Failure current_failure() noexcept;

}  // namespace surge::core::c_api
