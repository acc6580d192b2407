#include "surge/core/mpi.hpp"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "surge/core/error.hpp"
#include "surge/core/log.hpp"

extern char** environ;

namespace surge::core {

bool mpi_fabric_present(const std::string& sys_class, const std::string& dev) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const char* cls : {"infiniband", "cxi"}) {
    const fs::path dir = fs::path(sys_class) / cls;
    if (fs::is_directory(dir, ec) && !fs::is_empty(dir, ec) && !ec) return true;
  }
  fs::directory_iterator it(dev, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("hfi1", 0) == 0 || name.rfind("ipath", 0) == 0) return true;
  }
  return false;
}

std::vector<std::string> mpi_start_environment(bool fabric_present,
                                               const std::vector<std::string>& environment) {
#ifdef OPEN_MPI
  if (fabric_present) return {};
  for (const std::string& e : environment) {
    if (e.rfind("OMPI_MCA_pml=", 0) == 0 || e.rfind("OMPI_MCA_mtl=", 0) == 0) return {};
  }
  return {"OMPI_MCA_pml=ob1"};
#else
  (void)fabric_present;
  (void)environment;
  return {};
#endif
}

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialised = 0;
  SURGE_MPI_CHECK(MPI_Initialized(&initialised));
  if (!initialised) {
#ifdef OPEN_MPI
    // Open MPI's own MPI-IO component (OMPIO) has lost blocks of collective HDF5 writes here
    // (Open MPI 4.1.4, shared-memory transport without single-copy: whole ranks' hyperslabs
    // read back as zeros) and has a record of such bugs (open-mpi/ompi#6285, #10546); ROMIO
    // writes them correctly. Prefer ROMIO unless the user chose an io component.
    setenv("OMPI_MCA_io", "^ompio", /*overwrite=*/0);
#endif
    std::vector<std::string> environment;
    for (char** e = environ; e && *e; ++e) environment.emplace_back(*e);
    for (const std::string& e : mpi_start_environment(mpi_fabric_present(), environment)) {
      const auto eq = e.find('=');
      setenv(e.substr(0, eq).c_str(), e.substr(eq + 1).c_str(), /*overwrite=*/0);
    }
    int provided = 0;
    SURGE_MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
    owns_ = true;
  }
  // Errors come back as codes, so SURGE_MPI_CHECK can turn them into MpiError.
  SURGE_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  SURGE_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  SURGE_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  Logger::configure(rank_);
}

MpiSession::~MpiSession() {
  if (!owns_) return;
  if (const int rc = MPI_Finalize(); rc != MPI_SUCCESS)  // a destructor reports, never throws
    Logger("mpi").warn("MPI_Finalize failed: " + detail::mpi_error_text(rc));
}

int comm_rank(MPI_Comm comm) {
  int r = 0;
  SURGE_MPI_CHECK(MPI_Comm_rank(comm, &r));
  return r;
}

int comm_size(MPI_Comm comm) {
  int s = 0;
  SURGE_MPI_CHECK(MPI_Comm_size(comm, &s));
  return s;
}

// The MPI side of SURGE_MPI_CHECK (declared in error.hpp).
namespace detail {

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS)
    return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<std::size_t>(length));
}

void throw_mpi(int code, const char* call, const char* file, int line) {
  throw MpiError(std::string(call) + " failed: " + mpi_error_text(code), file, line);
}

}  // namespace detail

}  // namespace surge::core
