#include "pipeline/stop_agreement.hpp"

#include <mpi.h>

#include "surge/core/error.hpp"
#include "surge/core/mpi.hpp"

namespace surge::experiments {

StopAgreement::StopAgreement(double checkpoint_every_s)
    : every_s_(checkpoint_every_s), last_checkpoint_(std::chrono::steady_clock::now()) {}

StopAgreement::Verdict StopAgreement::agree(bool stop_here, bool drained_here) {
  const bool due =
      core::comm_rank(MPI_COMM_WORLD) == 0 && every_s_ > 0 &&
      std::chrono::duration<double>(std::chrono::steady_clock::now() - last_checkpoint_).count() >=
          every_s_;
  int flags[3] = {stop_here ? 1 : 0, due ? 1 : 0, drained_here ? 0 : 1};
  if (core::comm_size(MPI_COMM_WORLD) > 1)
    SURGE_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, flags, 3, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
  return Verdict{flags[0] != 0, flags[1] != 0, flags[2] == 0};
}

void StopAgreement::checkpoint_done() { last_checkpoint_ = std::chrono::steady_clock::now(); }

int StopAgreement::exit_code(bool failed_here, bool interrupted_here) {
  int ends[2] = {failed_here ? 1 : 0, interrupted_here ? 1 : 0};
  if (core::comm_size(MPI_COMM_WORLD) > 1)
    SURGE_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, ends, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
  return ends[0] ? 1 : (ends[1] ? 130 : 0);
}

}  // namespace surge::experiments
