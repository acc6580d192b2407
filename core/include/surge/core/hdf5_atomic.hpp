#pragma once
// An HDF5 file that appears whole or not at all (results.h5, member files): written as
// `<path>.partial`, committed by flushing, closing, checking that it opens, syncing and
// renaming it (core::commit_file). A failure on the way reports one line naming the file and
// the OS error, and discards the file: HDF5 1.10 must never be left to close a file it cannot
// flush, since a failed H5Fclose leaves an id that crashes the library when it shuts down.
// So the room the final flush writes into is reserved first (a full disk or a quota fails
// there, cleanly), and a discarded file's descriptor is pointed at memory before it closes.
// Should a flush fail all the same (an I/O error), the process ends with exit code 1 at
// MPI_Finalize or exit, just before HDF5 would crash.

#include <hdf5.h>
#include <mpi.h>

#include <string>

#include "surge/core/error.hpp"

namespace surge::core::h5 {

class AtomicFile {
 public:
  // Creates `<path>.partial`; with a communicator other than MPI_COMM_NULL through MPI-IO,
  // collectively. Throws IoError "cannot write '<path>': <reason>".
  explicit AtomicFile(std::string path, MPI_Comm comm = MPI_COMM_NULL);
  // Without a commit (an error on the way): discards the file and removes the temporary.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  [[nodiscard]] hid_t id() const noexcept { return file_; }
  operator hid_t() const noexcept { return file_; }  // NOLINT: passes where ids are expected

  // Runs `body`, which writes into the file. An IoError it throws (a failed HDF5 call)
  // becomes "cannot write '<path>': <OS error>"; any exception discards the file.
  template <class F>
  void write(F&& body) {
    try {
      body();
    } catch (const IoError& e) {
      fail(e);
    } catch (...) {
      discard();
      throw;
    }
  }
  // Writes out everything HDF5 still holds for the file. Throws like write().
  void flush();
  // Flushes, closes, checks that the file opens, syncs it and renames it to `path`, then
  // syncs the directory (rank 0, once every rank has closed). Every object opened in the
  // file must be closed first. Collective. Throws IoError on every rank.
  void commit();

  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  [[noreturn]] void fail(const IoError& e);
  void discard() noexcept;
  void reserve();

  std::string path_, temporary_;
  MPI_Comm comm_;
  int rank_ = 0;
  hid_t file_ = -1;
  bool committed_ = false;
};

// The OS error in the message of a failed HDF5 call: the text of the `errno = N` that HDF5's
// file drivers report, else the first line of HDF5's own description.
[[nodiscard]] std::string os_error_of(const std::string& hdf5_message);

}  // namespace surge::core::h5
