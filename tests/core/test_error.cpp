// Typed errors carry file and line; the check macros throw the right type with the text
// of the failing library.
#include <gtest/gtest.h>
#include <hdf5.h>

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
