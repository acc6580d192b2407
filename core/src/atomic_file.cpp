// Whole-or-nothing files and directories (POSIX; surge::core_base).
#include "surge/core/atomic_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

#include "surge/core/error.hpp"

namespace surge::core {

namespace fs = std::filesystem;

namespace {

std::string parent_of(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// Syncs `path` (a file or directory); returns 0 or the errno of the failure.
int sync_path(const std::string& path, bool directory) noexcept {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0) return errno;
  int error = ::fsync(fd) == 0 ? 0 : errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  return error;
}

// Puts `from` in place of the directory `to`; returns where the old content went ("" if
// there was none). Throws IoError.
std::string swap_in(const std::string& from, const std::string& to) {
#if defined(__linux__) && defined(RENAME_EXCHANGE)
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_EXCHANGE) == 0) return from;
  const int error = errno;
  // ENOENT: nothing to exchange with; the others: a file system without the exchange.
  if (error != ENOENT && error != EINVAL && error != ENOSYS && error != EOPNOTSUPP)
    SURGE_THROW(IoError, file_error("replace", to, error));
#endif
  std::string aside;
  if (::access(to.c_str(), F_OK) == 0) {
    aside = to + ".old";
    std::error_code ec;
    fs::remove_all(aside, ec);
    const int error = ::rename(to.c_str(), aside.c_str()) == 0 ? 0 : errno;
    SURGE_REQUIRE(error == 0, IoError, file_error("replace", to, error));
  }
  if (::rename(from.c_str(), to.c_str()) != 0) {
    const int error = errno;
    if (!aside.empty()) (void)::rename(aside.c_str(), to.c_str());
    SURGE_THROW(IoError, file_error("replace", to, error));
  }
  return aside;
}

}  // namespace

int write_all(int fd, const void* data, std::size_t size) noexcept {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return 0;
}

std::string partial_path(const std::string& path) { return path + ".partial"; }

std::string file_error(const std::string& action, const std::string& path, int error) {
  return "cannot " + action + " '" + path + "': " + std::strerror(error);
}

void sync_file(const std::string& path) {
  const int error = sync_path(path, false);
  SURGE_REQUIRE(error == 0, IoError, file_error("sync", path, error));
}

void sync_directory(const std::string& dir) {
  const int error = sync_path(dir, true);
  // Some file systems cannot sync a directory (EINVAL): their renames are as durable as
  // they get.
  SURGE_REQUIRE(error == 0 || error == EINVAL || error == EOPNOTSUPP, IoError,
                file_error("sync", dir, error));
}

void commit_file(const std::string& temporary, const std::string& path) {
  sync_file(temporary);
  const int error = ::rename(temporary.c_str(), path.c_str()) == 0 ? 0 : errno;
  SURGE_REQUIRE(
      error == 0, IoError,
      "cannot rename '" << temporary << "' to '" << path << "': " << std::strerror(error));
  sync_directory(parent_of(path));
}

int reserve_space(const std::string& path, std::uint64_t size) noexcept {
#if defined(__linux__) && defined(FALLOC_FL_KEEP_SIZE)
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int error = 0;
  while (::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(size)) != 0) {
    if (errno == EINTR) continue;
    error = errno;
    break;
  }
  ::close(fd);
  return error == EOPNOTSUPP || error == ENOSYS ? 0 : error;
#else
  (void)path;
  (void)size;
  return 0;
#endif
}

void release_reserved_space(const std::string& path) noexcept {
  // A truncation frees every block beyond the new end, those reserved with it: grow by a
  // byte, then shrink back.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && ::ftruncate(fd, st.st_size + 1) == 0)
    (void)::ftruncate(fd, st.st_size);
  ::close(fd);
}

bool discard_descriptor(int fd) noexcept {
  int sink = -1;
#ifdef __linux__
  sink = ::memfd_create("surge-discard", MFD_CLOEXEC);
#endif
  if (sink < 0) {
    char name[] = "/tmp/surge-discard-XXXXXX";
    sink = ::mkstemp(name);
    if (sink >= 0) ::unlink(name);
  }
  if (sink < 0) return false;
  const bool ok = ::dup2(sink, fd) == fd;
  if (ok) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::close(sink);
  return ok;
}

RemoveGuard::~RemoveGuard() {
  if (released_) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

// ---- AtomicFile ----

AtomicFile::AtomicFile(std::string path, std::string shown_as)
    : path_(std::move(path)),
      temporary_(partial_path(path_)),
      shown_as_(shown_as.empty() ? path_ : std::move(shown_as)) {
  fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd_ < 0) error_ = errno;
  SURGE_REQUIRE(fd_ >= 0, IoError, file_error("write", shown_as_, error_));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temporary_.c_str());
}

void AtomicFile::write(const void* data, std::size_t size) {
  SURGE_REQUIRE(fd_ >= 0, IoError, "cannot write '" << shown_as_ << "': already committed");
  if (error_ == 0) error_ = write_all(fd_, data, size);
  SURGE_REQUIRE(error_ == 0, IoError, file_error("write", shown_as_, error_));
  written_ += size;
}

void AtomicFile::commit() {
  SURGE_REQUIRE(fd_ >= 0, IoError, "cannot write '" << shown_as_ << "': already committed");
  struct stat st {};
  if (error_ == 0 && ::fsync(fd_) != 0) error_ = errno;
  if (error_ == 0 && ::fstat(fd_, &st) != 0) error_ = errno;
  SURGE_REQUIRE(error_ == 0, IoError, file_error("write", shown_as_, error_));
  SURGE_REQUIRE(static_cast<std::uint64_t>(st.st_size) == written_, IoError,
                "cannot write '" << shown_as_ << "': " << st.st_size << " of " << written_
                                 << " bytes reached the file");
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) error_ = errno;
  SURGE_REQUIRE(error_ == 0, IoError, file_error("write", shown_as_, error_));
  const int error = ::rename(temporary_.c_str(), path_.c_str()) == 0 ? 0 : errno;
  SURGE_REQUIRE(
      error == 0, IoError,
      "cannot rename '" << temporary_ << "' to '" << path_ << "': " << std::strerror(error));
  committed_ = true;
  sync_directory(parent_of(path_));
}

// ---- AtomicDirectory ----

AtomicDirectory::AtomicDirectory(std::string path) {
  fs::path p = fs::path(std::move(path)).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "model/" names "model"
  path_ = p.string();
  temporary_ = partial_path(path_);
  std::error_code ec;
  const std::string parent = parent_of(path_);
  fs::create_directories(parent, ec);
  SURGE_REQUIRE(!ec, IoError, file_error("create", parent, ec.value()));
  fs::remove_all(temporary_, ec);
  SURGE_REQUIRE(!ec, IoError, file_error("remove", temporary_, ec.value()));
  const int error = ::mkdir(temporary_.c_str(), 0777) == 0 ? 0 : errno;
  SURGE_REQUIRE(error == 0, IoError, file_error("write", path_, error));
}

AtomicDirectory::~AtomicDirectory() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(temporary_, ec);
}

std::string AtomicDirectory::file(const std::string& name) const {
  return (fs::path(temporary_) / name).string();
}

void AtomicDirectory::commit() {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(temporary_, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_directory(ec)) {
      sync_directory(it->path().string());
    } else if (it->is_regular_file(ec)) {
      sync_file(it->path().string());
    }
  }
  SURGE_REQUIRE(!ec, IoError, file_error("read", temporary_, ec.value()));
  sync_directory(temporary_);
  const std::string old = swap_in(temporary_, path_);
  committed_ = true;
  sync_directory(parent_of(path_));
  if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace surge::core
