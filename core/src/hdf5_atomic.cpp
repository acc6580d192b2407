#include "surge/core/hdf5_atomic.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

#include "surge/core/atomic_file.hpp"
#include "surge/core/hdf5.hpp"

namespace surge::core::h5 {

namespace {

constexpr const char* kCallPrefix = "HDF5 call failed: ";
// Reserved beyond the file's allocated size before a flush. Every cached metadata entry has
// its address in the file already; this is room for what the close may still allocate.
constexpr hsize_t kReserveMargin = hsize_t{16} << 10;

// Rank 0's `problem` on every rank of `comm` (nothing to do without a communicator).
void share(std::string& problem, MPI_Comm comm) {
  if (comm == MPI_COMM_NULL) return;
  int length = static_cast<int>(problem.size());
  SURGE_MPI_CHECK(MPI_Bcast(&length, 1, MPI_INT, 0, comm));
  problem.resize(static_cast<std::size_t>(length));
  if (length > 0) SURGE_MPI_CHECK(MPI_Bcast(problem.data(), length, MPI_CHAR, 0, comm));
}

int end_process(MPI_Comm, int, void*, void*) {
  std::fflush(nullptr);
  std::_Exit(1);
}

// HDF5 1.10 keeps a broken id after a failed H5Fclose and crashes when it shuts down, at
// MPI_Finalize or at exit. The process then ends with exit code 1 just before: through an
// attribute of MPI_COMM_SELF set after HDF5's (MPI deletes them in reverse order when it
// finalizes) and an exit handler registered after HDF5's (run in reverse order too).
void end_before_hdf5_shuts_down() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    // Best effort, without throwing: where MPI refuses the attribute, the exit handler below
    // still ends the process, only later.
    int initialized = 0, finalized = 0;
    const bool known =
        MPI_Initialized(&initialized) == MPI_SUCCESS && MPI_Finalized(&finalized) == MPI_SUCCESS;
    int key = MPI_KEYVAL_INVALID;
    if (known && initialized && !finalized &&
        MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, &end_process, &key, nullptr) == MPI_SUCCESS &&
        MPI_Comm_set_attr(MPI_COMM_SELF, key, nullptr) != MPI_SUCCESS) {
      (void)MPI_Comm_free_keyval(&key);
    }
    std::atexit([] { (void)end_process(MPI_COMM_SELF, 0, nullptr, nullptr); });
  });
}

}  // namespace

std::string os_error_of(const std::string& hdf5_message) {
  // The sec2 driver's reports: "file write failed: time = ..., errno = 28, error message = ...".
  const std::size_t at = hdf5_message.find("errno = ");
  if (at != std::string::npos) {
    const char* digits = hdf5_message.c_str() + at + 8;
    char* end = nullptr;
    const long code = std::strtol(digits, &end, 10);
    if (end != digits && code > 0) return std::strerror(static_cast<int>(code));
  }
  std::string text = hdf5_message;
  if (text.rfind(kCallPrefix, 0) == 0) {
    // "HDF5 call failed: H5Dwrite(dataset, ...): <description>"
    const std::size_t call_end = text.find("): ");
    text = call_end == std::string::npos ? text.substr(std::strlen(kCallPrefix))
                                         : text.substr(call_end + 3);
  }
  return text.substr(0, text.find('\n'));
}

AtomicFile::AtomicFile(std::string path, MPI_Comm comm)
    : path_(std::move(path)), temporary_(partial_path(path_)), comm_(comm) {
  if (comm_ != MPI_COMM_NULL) SURGE_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  silence_library_errors();
  PropertyList fapl(SURGE_HDF5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
  if (comm_ != MPI_COMM_NULL) SURGE_HDF5_CHECK(H5Pset_fapl_mpio(fapl, comm_, MPI_INFO_NULL));
  // No sieve buffer: raw data reaches the file in the call that writes it, so that its
  // failure is that call's. A sieve buffer is written out by H5Dclose, which a destructor
  // cannot report.
  SURGE_HDF5_CHECK(H5Pset_sieve_buf_size(fapl, 0));
  file_ = H5Fcreate(temporary_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (file_ < 0) {
    const std::string detail = core::detail::hdf5_error_text();
    ::unlink(temporary_.c_str());
    SURGE_THROW(IoError, "cannot write '" << path_ << "': " << os_error_of(detail));
  }
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  discard();
  // A serial file closes safely once discarded: its last writes land in memory. An MPI-IO
  // file stays open: after an error its collective close could fail or wait for ranks that
  // took another way, and surge ends such a process with MPI_Abort.
  if (file_ >= 0 && comm_ == MPI_COMM_NULL && H5Fclose(file_) < 0) end_before_hdf5_shuts_down();
  file_ = -1;
  H5Eclear2(H5E_DEFAULT);
  // Every rank removes the temporary: the rank that failed may be the only one left to do it
  // before the job is aborted.
  ::unlink(temporary_.c_str());
}

void AtomicFile::discard() noexcept {
  if (file_ < 0 || comm_ != MPI_COMM_NULL) return;
  const hid_t fapl = H5Fget_access_plist(file_);
  const bool sec2 = fapl >= 0 && H5Pget_driver(fapl) == H5FD_SEC2;
  if (fapl >= 0) (void)H5Pclose(fapl);  // best effort, as all of discard(): it never throws
  void* handle = nullptr;
  if (sec2 && H5Fget_vfd_handle(file_, H5P_DEFAULT, &handle) >= 0 && handle != nullptr) {
    (void)discard_descriptor(*static_cast<int*>(handle));
  }
  H5Eclear2(H5E_DEFAULT);
}

void AtomicFile::fail(const IoError& e) {
  discard();
  throw IoError("cannot write '" + path_ + "': " + os_error_of(e.message()), e.file(), e.line());
}

void AtomicFile::reserve() {
  // HDF5 1.10 cannot recover from a failed flush (its metadata cache refuses every later one,
  // so the file can no longer be closed): the space a flush and the close write into is
  // reserved first, and a full disk fails here, while the file can still be discarded. An
  // MPI-IO file has no end of allocation to ask for; after an error there, surge ends the job
  // with MPI_Abort, before HDF5 shuts down.
  if (comm_ != MPI_COMM_NULL) return;
  haddr_t allocated = 0;
  SURGE_HDF5_CHECK(H5Fget_eoa(file_, &allocated));
  const int error = reserve_space(temporary_, allocated + kReserveMargin);
  SURGE_REQUIRE(error == 0, IoError, file_error("write", path_, error));
}

void AtomicFile::flush() {
  SURGE_REQUIRE(file_ >= 0, IoError, "cannot write '" << path_ << "': the file is closed");
  try {
    reserve();
  } catch (...) {
    discard();
    throw;
  }
  write([&] { SURGE_HDF5_CHECK(H5Fflush(file_, H5F_SCOPE_GLOBAL)); });
}

void AtomicFile::commit() {
  flush();
  // Objects still open would keep the file open past H5Fclose (and unflushed, in HDF5's
  // default close degree): a bug in the writer.
  const ssize_t open = H5Fget_obj_count(file_, H5F_OBJ_ALL | H5F_OBJ_LOCAL);
  SURGE_REQUIRE(open == 1, IoError,
                "cannot write '" << path_ << "': " << open - 1 << " HDF5 object(s) still open");
  // After a successful flush a close has nothing left to write; should it fail all the same,
  // HDF5 1.10 keeps a broken id.
  if (H5Fclose(std::exchange(file_, -1)) < 0) {
    end_before_hdf5_shuts_down();
    SURGE_THROW(IoError,
                "cannot write '" << path_ << "': " << os_error_of(core::detail::hdf5_error_text()));
  }
  std::string problem;
  if (rank_ == 0) {
    release_reserved_space(temporary_);
    const hid_t check = H5Fopen(temporary_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (check < 0) {
      problem = "cannot write '" + path_ + "': the file written does not open (" +
                os_error_of(core::detail::hdf5_error_text()) + ")";
    } else if (H5Fclose(check) < 0) {
      problem = "cannot write '" + path_ + "': the file written does not close (" +
                os_error_of(core::detail::hdf5_error_text()) + ")";
    } else {
      try {
        commit_file(temporary_, path_);
      } catch (const IoError& e) {
        problem = e.message();
      }
    }
  }
  share(problem, comm_);
  SURGE_REQUIRE(problem.empty(), IoError, problem);
  committed_ = true;
}

}  // namespace surge::core::h5
