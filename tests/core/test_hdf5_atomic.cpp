// HDF5 files written whole or not at all. A committed file opens under its final name; a
// write that fails (here: past a file-size limit, RLIMIT_FSIZE, which needs no root) is one
// IoError naming the file and the OS error, leaves no temporary, and leaves HDF5 able to shut
// down: each test runs in its own process, whose exit would crash with the broken file id
// that a failed H5Fclose leaves in HDF5 1.10.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "surge/core/hdf5.hpp"
#include "surge/core/hdf5_atomic.hpp"

namespace fs = std::filesystem;
namespace h5 = surge::core::h5;

namespace {

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("surge_h5atomic_" + std::to_string(::getpid()) + name))
      .string();
}

// Files of this process may not grow past `bytes` while it lives (writes fail with EFBIG).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    std::signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &saved_);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() { setrlimit(RLIMIT_FSIZE, &saved_); }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
};

void write_floats(hid_t file, std::size_t n) {
  h5::write_dataset(file, "x", std::vector<float>(n, 1.5f));
  h5::Group g = h5::create_group(file, "g");
  h5::write_attribute(g, "note", std::string(200, 'n'));
}

}  // namespace

TEST(Hdf5Atomic, CommittedFileOpensUnderItsName) {
  const std::string path = temp_path("ok.h5");
  {
    h5::AtomicFile f(path);
    f.write([&] { write_floats(f, 1000); });
    EXPECT_FALSE(fs::exists(path));
    f.commit();
  }
  EXPECT_FALSE(fs::exists(path + ".partial"));
  {
    h5::File f = h5::open_file(path);
    EXPECT_EQ(h5::read_dataset<float>(f, "x"), std::vector<float>(1000, 1.5f));
  }
  fs::remove(path);
}

TEST(Hdf5Atomic, FailedWriteIsOneLineAndLeavesNothing) {
  const std::string path = temp_path("big.h5");
  {
    h5::AtomicFile f(path);
    const FileSizeLimit limit(64 << 10);  // lifted before the file is discarded and closed
    try {
      f.write([&] { write_floats(f, 1 << 20); });
      FAIL() << "no error";
    } catch (const surge::core::IoError& e) {
      EXPECT_EQ(e.message(), "cannot write '" + path + "': File too large");
    }
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".partial"));
}

// A flush that fails for another reason than room (here the size limit, which the
// reservation does not see) leaves HDF5 1.10 unable to shut down: the process ends with exit
// code 1 instead of crashing, after one line.
TEST(Hdf5AtomicDeathTest, FailedFlushEndsTheProcessWithoutACrash) {
  const std::string path = temp_path("flush.h5");
  const auto scenario = [&] {
    {
      h5::AtomicFile f(path);
      f.write([&] { h5::write_dataset(f, "y", std::vector<float>(1 << 16, 1.0f)); });
      hsize_t size = 0;
      H5Fget_filesize(f, &size);
      const FileSizeLimit limit(size);  // metadata made from now on cannot be written
      try {
        f.write([&] {
          for (int i = 0; i < 64; ++i) {
            h5::Group g = h5::create_group(f, "g" + std::to_string(i));
            h5::write_attribute(g, "note", std::string(100, 'n'));
          }
        });
        f.commit();
      } catch (const surge::core::IoError& e) {
        std::fprintf(stderr, "%s\n", e.message().c_str());
      }
    }
    std::exit(fs::exists(path) || fs::exists(path + ".partial") ? 3 : 0);
  };
  EXPECT_EXIT(scenario(), ::testing::ExitedWithCode(1),
              "cannot write '.*flush.h5': File too large");
}

TEST(Hdf5Atomic, UnfinishedFileIsDiscarded) {
  const std::string path = temp_path("unfinished.h5");
  {
    h5::AtomicFile f(path);
    f.write([&] { write_floats(f, 100); });
  }
  EXPECT_FALSE(fs::exists(path + ".partial"));
  EXPECT_FALSE(fs::exists(path));
}

TEST(Hdf5Atomic, OsErrorOfHdf5Messages) {
  EXPECT_EQ(h5::os_error_of("HDF5 call failed: H5Dwrite(a, b): file write failed: time = x\n, "
                            "errno = 28, error message = 'No space left on device'"),
            "No space left on device");
  EXPECT_EQ(h5::os_error_of("HDF5 call failed: H5Fflush(f, s): unable to flush\nmore"),
            "unable to flush");
  EXPECT_EQ(h5::os_error_of("something else"), "something else");
}
