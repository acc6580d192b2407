#pragma once
// MPI lifetime and small helpers. `MpiSession` initialises MPI (thread level FUNNELED, the
// most the solver needs) and finalises it; it also aborts the job cleanly if one rank
// leaves with an exception while the others wait in a collective.

#include <mpi.h>

#include <string>

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

[[nodiscard]] int comm_rank(MPI_Comm comm);
[[nodiscard]] int comm_size(MPI_Comm comm);

}  // namespace surge::core
