#pragma once
// MPI lifetime and small helpers. `MpiSession` initialises MPI (thread level FUNNELED, the
// most the solver needs) and finalises it; it also aborts the job cleanly if one rank
// leaves with an exception while the others wait in a collective.

#include <mpi.h>

#include <string>
#include <vector>

namespace surge::core {

class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  [[nodiscard]] int rank() const noexcept { return rank_; }
  [[nodiscard]] int size() const noexcept { return size_; }

 private:
  int rank_ = 0;
  int size_ = 1;
  bool owns_ = false;
};

// Whether this node has a high-speed fabric device for MPI: InfiniBand, Omni-Path or EFA
// (entries under <sys_class>/infiniband), HPE Slingshot (<sys_class>/cxi), or an Omni-Path /
// InfiniPath character device (<dev>/hfi1*, <dev>/ipath*).
[[nodiscard]] bool mpi_fabric_present(const std::string& sys_class = "/sys/class",
                                      const std::string& dev = "/dev");

// The Open MPI variables an MPI process (and every member surge starts) should get on this
// node, as NAME=value, given its `environment` (NAME=value entries): OMPI_MCA_pml=ob1 where no
// fabric device is present and the environment chooses neither OMPI_MCA_pml nor OMPI_MCA_mtl. Open
// MPI picks ob1 there anyway, but only after its PSM, PSM2 and OFI transports' libraries have
// searched for Omni-Path hardware at each MPI_Init, sleeping about 0.2 s (libpsm2 and
// libinfinipath: ~870 usleep calls a process, measured with perf on Debian 12's Open MPI 4.1.4):
// half of a one-rank member's start. Elsewhere, empty: the fabric's transport stays Open MPI's
// choice.
[[nodiscard]] std::vector<std::string> mpi_start_environment(
    bool fabric_present, const std::vector<std::string>& environment);

[[nodiscard]] int comm_rank(MPI_Comm comm);
[[nodiscard]] int comm_size(MPI_Comm comm);

}  // namespace surge::core
