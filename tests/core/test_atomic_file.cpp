// Whole-or-nothing files and directories: a committed file or directory appears complete
// under its final name, an uncommitted one leaves no temporary and the old content intact,
// and a failed write is one IoError naming the file and the OS error. Writes fail without
// root or a full disk through a temporary that is a link to /dev/full (ENOSPC).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "surge/core/atomic_file.hpp"
#include "surge/core/error.hpp"

namespace fs = std::filesystem;
using surge::core::AtomicDirectory;
using surge::core::AtomicFile;

namespace {

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("surge_atomic_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void put(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST_F(AtomicFileTest, CommitPutsTheWholeFileInPlace) {
  put(path("a.txt"), "old");
  {
    AtomicFile f(path("a.txt"));
    f.write("new ");
    EXPECT_EQ(read(path("a.txt")), "old");  // a reader sees the old file until the commit
    f.write("content");
    EXPECT_EQ(f.size(), 11u);
    f.commit();
  }
  EXPECT_EQ(read(path("a.txt")), "new content");
  EXPECT_FALSE(fs::exists(path("a.txt.partial")));
}

TEST_F(AtomicFileTest, WithoutCommitTheOldFileStaysAndNoTemporaryRemains) {
  put(path("a.txt"), "old");
  {
    AtomicFile f(path("a.txt"));
    f.write("half");
  }
  EXPECT_EQ(read(path("a.txt")), "old");
  EXPECT_FALSE(fs::exists(path("a.txt.partial")));
}

TEST_F(AtomicFileTest, FullDiskIsOneLineNamingTheFileAndTheError) {
  fs::create_symlink("/dev/full", path("a.txt.partial"));
  AtomicFile f(path("a.txt"), "shown.txt");
  try {
    f.write("x");
    FAIL() << "no error";
  } catch (const surge::core::IoError& e) {
    EXPECT_EQ(e.message(), "cannot write 'shown.txt': No space left on device");
  }
  EXPECT_THROW(f.commit(), surge::core::IoError);
  EXPECT_FALSE(fs::exists(path("a.txt")));
}

TEST_F(AtomicFileTest, MissingDirectoryIsAnIoError) {
  try {
    AtomicFile f(path("missing/a.txt"));
    FAIL() << "no error";
  } catch (const surge::core::IoError& e) {
    EXPECT_EQ(e.message(),
              "cannot write '" + path("missing/a.txt") + "': No such file or directory");
  }
}

TEST_F(AtomicFileTest, DirectoryIsReplacedWhole) {
  fs::create_directories(path("model"));
  put(path("model/old.txt"), "old");
  {
    AtomicDirectory d(path("model/"));  // a trailing separator names the same directory
    EXPECT_EQ(d.temporary(), path("model.partial"));
    AtomicFile f(d.file("new.txt"));
    f.write("new");
    f.commit();
    EXPECT_TRUE(fs::exists(path("model/old.txt")));  // untouched until the commit
    d.commit();
  }
  EXPECT_EQ(read(path("model/new.txt")), "new");
  EXPECT_FALSE(fs::exists(path("model/old.txt")));
  EXPECT_FALSE(fs::exists(path("model.partial")));
  EXPECT_FALSE(fs::exists(path("model.old")));
}

TEST_F(AtomicFileTest, DirectoryIsCreatedWithItsParents) {
  {
    AtomicDirectory d(path("a/b/model"));
    put(d.file("x.txt"), "x");
    d.commit();
  }
  EXPECT_EQ(read(path("a/b/model/x.txt")), "x");
}

TEST_F(AtomicFileTest, UncommittedDirectoryLeavesTheOldOneAndNoTemporary) {
  fs::create_directories(path("model"));
  put(path("model/old.txt"), "old");
  fs::create_directories(path("model.partial"));  // a stale temporary from a crash
  put(path("model.partial/stale.txt"), "stale");
  {
    AtomicDirectory d(path("model"));
    EXPECT_FALSE(fs::exists(d.file("stale.txt")));
    put(d.file("new.txt"), "new");
  }
  EXPECT_EQ(read(path("model/old.txt")), "old");
  EXPECT_FALSE(fs::exists(path("model/new.txt")));
  EXPECT_FALSE(fs::exists(path("model.partial")));
}

TEST_F(AtomicFileTest, RemoveGuardRemovesUnlessReleased) {
  fs::create_directories(path("t1/sub"));
  fs::create_directories(path("t2"));
  {
    surge::core::RemoveGuard removed(path("t1"));
    surge::core::RemoveGuard kept(path("t2"));
    kept.release();
  }
  EXPECT_FALSE(fs::exists(path("t1")));
  EXPECT_TRUE(fs::exists(path("t2")));
}

TEST_F(AtomicFileTest, CommitFileRenamesAndSyncs) {
  put(path("b.partial"), "b");
  surge::core::commit_file(path("b.partial"), path("b"));
  EXPECT_EQ(read(path("b")), "b");
  EXPECT_THROW(surge::core::commit_file(path("absent"), path("c")), surge::core::IoError);
}

TEST_F(AtomicFileTest, DiscardedDescriptorWritesNowhere) {
  put(path("d.txt"), "kept");
  const int fd = ::open(path("d.txt").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(surge::core::discard_descriptor(fd));
  EXPECT_EQ(::pwrite(fd, "lost", 4, 0), 4);
  EXPECT_EQ(::ftruncate(fd, 1 << 20), 0);
  ::close(fd);
  EXPECT_EQ(read(path("d.txt")), "kept");
}

TEST_F(AtomicFileTest, ReservedSpaceKeepsTheSizeAndIsGivenBack) {
  put(path("r.bin"), "12345");
  EXPECT_EQ(surge::core::reserve_space(path("r.bin"), 1 << 20), 0);
  EXPECT_EQ(fs::file_size(path("r.bin")), 5u);
  surge::core::release_reserved_space(path("r.bin"));
  EXPECT_EQ(read(path("r.bin")), "12345");
  EXPECT_NE(surge::core::reserve_space(path("absent"), 1), 0);
}
