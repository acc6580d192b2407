// Typed errors carry file and line; the check macros throw the right type with the text
// of the failing library; each kind has one meaning for the C APIs (c_api.hpp).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <new>
#include <stdexcept>

#include "surge/core/c_api.hpp"
#include "surge/core/error.hpp"
#include "surge/core/hdf5.hpp"

namespace core = surge::core;

TEST(Error, RequireThrowsTypedErrorWithLocation) {
  const int line = __LINE__ + 2;
  try {
    SURGE_REQUIRE(1 + 1 == 3, ConfigError,
                  "arithmetic is "
                      << "broken: " << 42);
    FAIL();
  } catch (const core::ConfigError& e) {
    EXPECT_EQ(e.message(), "arithmetic is broken: 42");
    EXPECT_EQ(e.line(), line);
    EXPECT_NE(std::string(e.file()).find("test_error.cpp"), std::string::npos);
    EXPECT_EQ(core::describe(e), "config error: arithmetic is broken: 42");
    EXPECT_EQ(std::string(e.what()),
              "arithmetic is broken: 42 [test_error.cpp:" + std::to_string(line) + "]");
  }
  EXPECT_NO_THROW(SURGE_REQUIRE(true, IoError, "never"));
  try {
    SURGE_THROW(IoError, "disk full");
  } catch (const core::IoError& e) {
    EXPECT_EQ(core::describe(e).rfind("I/O error: disk full [test_error.cpp:", 0), 0u);
  }
}

TEST(Error, KindsAreDistinct) {
  EXPECT_THROW(SURGE_THROW(IoError, "x"), core::IoError);
  EXPECT_THROW(SURGE_THROW(MpiError, "x"), core::MpiError);
  EXPECT_THROW(SURGE_THROW(ProtocolError, "x"), core::ProtocolError);
  EXPECT_THROW(SURGE_THROW(NumericalError, "x"), core::Error);
}

TEST(Error, Hdf5CheckPassesValuesAndThrowsWithLibraryText) {
  core::h5::silence_library_errors();
  EXPECT_EQ(SURGE_HDF5_CHECK(7), 7);
  try {
    (void)SURGE_HDF5_CHECK(H5Fopen("/nonexistent/dir/file.h5", H5F_ACC_RDONLY, H5P_DEFAULT));
    FAIL();
  } catch (const core::IoError& e) {
    EXPECT_NE(e.message().find("H5Fopen"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("unable to open file"), std::string::npos) << e.message();
  }
}

TEST(Error, OpenMissingFileNamesThePath) {
  try {
    (void)core::h5::open_file("/nonexistent/results.h5");
    FAIL();
  } catch (const core::IoError& e) {
    EXPECT_NE(e.message().find("cannot open HDF5 file '/nonexistent/results.h5'"),
              std::string::npos)
        << e.message();
  }
}

namespace {
// What current_failure() makes of `thrown`, thrown and caught.
template <class E>
core::c_api::Failure failure_of(const E& thrown) {
  try {
    throw thrown;
  } catch (...) {
    return core::c_api::current_failure();
  }
}
}  // namespace

TEST(CApiFailure, EachKindHasOneMeaning) {
  using core::c_api::CallFailure;
  const auto config = failure_of(core::ConfigError("bad key", "f.cpp", 1));
  EXPECT_EQ(config.kind, CallFailure::argument);
  EXPECT_EQ(config.message, "bad key");
  EXPECT_EQ(failure_of(core::IoError("unreadable", "f.cpp", 1)).kind, CallFailure::io);
  EXPECT_EQ(failure_of(core::ProtocolError("no answer", "f.cpp", 1)).kind, CallFailure::protocol);
  EXPECT_EQ(failure_of(core::MpiError("m", "f.cpp", 1)).kind, CallFailure::internal);
  EXPECT_EQ(failure_of(core::NumericalError("n", "f.cpp", 1)).kind, CallFailure::internal);
  EXPECT_EQ(failure_of(core::Error("plain", "f.cpp", 1)).kind, CallFailure::internal);
  const auto memory = failure_of(std::bad_alloc());
  EXPECT_EQ(memory.kind, CallFailure::out_of_memory);
  EXPECT_EQ(memory.message, "out of memory");
  const auto other = failure_of(std::runtime_error("first line\nbacktrace ..."));
  EXPECT_EQ(other.kind, CallFailure::internal);
  EXPECT_EQ(other.message, "first line");
  const auto unknown = failure_of(42);
  EXPECT_EQ(unknown.kind, CallFailure::internal);
  EXPECT_EQ(unknown.message, "unknown exception");
}
