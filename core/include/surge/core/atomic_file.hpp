#pragma once
// Files and directories that appear whole or not at all. Content goes to a temporary name
// (`<path>.partial`), is flushed to the device and checked, then renamed into place and the
// directory synced, so that neither a reader nor a crash or power loss ever finds a partial
// file under a final name. A write that fails removes its temporary and throws one IoError
// line naming the file and the OS error. POSIX only: no MPI, HDF5 or Torch.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace surge::core {

// Where `path` is written before it is committed: "<path>.partial".
[[nodiscard]] std::string partial_path(const std::string& path);

// "cannot <action> '<path>': <strerror(error)>", the one line of a failed file operation.
[[nodiscard]] std::string file_error(const std::string& action, const std::string& path, int error);

// Writes all of [data, data + size) to the open descriptor `fd`, again after EINTR and short
// writes. Returns 0, or the errno of the failure (EIO where write() made no progress). Never
// throws.
[[nodiscard]] int write_all(int fd, const void* data, std::size_t size) noexcept;

// Flushes a file's data and size to the device (fsync). Throws IoError.
void sync_file(const std::string& path);
// Flushes a directory's entries (after a create or a rename); a file system that cannot
// sync directories is accepted. Throws IoError.
void sync_directory(const std::string& dir);
// Syncs `temporary`, renames it to `path` (atomic: a reader sees the old or the new file)
// and syncs the directory of `path`. Throws IoError; `temporary` is then left to the caller.
void commit_file(const std::string& temporary, const std::string& path);

// Reserves the disk blocks of the first `size` bytes of the file `path` without changing its
// size (Linux fallocate, FALLOC_FL_KEEP_SIZE), so that writing anywhere in that range cannot
// fail for lack of space. Returns 0, or the errno of the failure (ENOSPC, EDQUOT...); where
// the file system cannot reserve, nothing is reserved and 0 is returned. Never throws.
[[nodiscard]] int reserve_space(const std::string& path, std::uint64_t size) noexcept;
// Gives back the blocks reserve_space() kept beyond the end of `path`. Never throws.
void release_reserved_space(const std::string& path) noexcept;

// Points the open descriptor `fd` at an anonymous in-memory file, so that the writes a
// library still makes to a file being abandoned (HDF5 flushes its caches on close) cannot
// fail for lack of space. Returns false if no such file could be made. Never throws.
bool discard_descriptor(int fd) noexcept;

// Removes a file or directory tree when it goes out of scope, unless released: the
// temporary of a write that did not complete. Never throws.
class RemoveGuard {
 public:
  explicit RemoveGuard(std::string path) : path_(std::move(path)) {}
  ~RemoveGuard();
  RemoveGuard(const RemoveGuard&) = delete;
  RemoveGuard& operator=(const RemoveGuard&) = delete;
  void release() noexcept { released_ = true; }

 private:
  std::string path_;
  bool released_ = false;
};

// One file written through a POSIX descriptor: bytes go to `<path>.partial`; commit() syncs
// them, checks that every byte reached the file, and renames it to `path`. Destroyed
// without a commit (an error on the way), it removes the temporary.
class AtomicFile {
 public:
  // Creates (truncates) the temporary. Errors call the file `shown_as` (default: `path`),
  // e.g. its final name when `path` is inside an AtomicDirectory. Throws IoError.
  explicit AtomicFile(std::string path, std::string shown_as = {});
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends bytes. Throws IoError "cannot write '<path>': <OS error>".
  void write(const void* data, std::size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Syncs, checks the size, renames into place and syncs the directory. Throws IoError.
  void commit();

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] std::uint64_t size() const noexcept { return written_; }

 private:
  std::string path_, temporary_, shown_as_;
  int fd_ = -1;
  std::uint64_t written_ = 0;
  int error_ = 0;  // errno of the first failure
  bool committed_ = false;
};

// A directory replaced whole (an exported model): its files are written into
// `<path>.partial/`; commit() syncs every file in it and the directory, then puts it in place
// of `path` in one step, so that `path` is never half old and half new. Destroyed without a
// commit, it removes the temporary directory and leaves `path` as it was.
class AtomicDirectory {
 public:
  // Creates the parent directories and an empty temporary directory (a stale one from an
  // earlier crash is removed first). Throws IoError naming `path`.
  explicit AtomicDirectory(std::string path);
  ~AtomicDirectory();
  AtomicDirectory(const AtomicDirectory&) = delete;
  AtomicDirectory& operator=(const AtomicDirectory&) = delete;

  // The path of `name` inside the temporary directory, where it is written.
  [[nodiscard]] std::string file(const std::string& name) const;
  // Syncs the content and swaps it in: renameat2(RENAME_EXCHANGE) where the file system has
  // it, else the old directory is first renamed aside (`path` is then briefly absent, never
  // mixed). The old content is removed afterwards. Throws IoError.
  void commit();

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] const std::string& temporary() const noexcept { return temporary_; }

 private:
  std::string path_, temporary_;
  bool committed_ = false;
};

}  // namespace surge::core
