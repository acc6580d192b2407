#pragma once
// When a study stops. After every batch, and every 50 ms while the last members finish, the
// ranks agree on three things: to stop (Ctrl-C, or a failure on any rank), to write a study
// checkpoint (rank 0's clock), and whether reception is over on every rank. At the end they
// agree on the exit code. MPI on the main thread only.

#include <chrono>

namespace surge::experiments {

class StopAgreement {
 public:
  // `checkpoint_every_s` <= 0: no study checkpoints.
  explicit StopAgreement(double checkpoint_every_s);

  struct Verdict {
    bool stop = false;        // some rank asked to stop
    bool checkpoint = false;  // a study checkpoint is due
    bool drained = false;     // every rank's source is drained
  };
  // Collective over MPI_COMM_WORLD. Throws core::MpiError.
  [[nodiscard]] Verdict agree(bool stop_here, bool drained_here);
  // A checkpoint was written (or tried): the clock starts again.
  void checkpoint_done();

  // The study's exit code, the same on every rank: 1 if any rank failed, else 130 if any was
  // interrupted, else 0. Collective. Throws core::MpiError.
  [[nodiscard]] static int exit_code(bool failed_here, bool interrupted_here);

 private:
  double every_s_;
  std::chrono::steady_clock::time_point last_checkpoint_;
};

}  // namespace surge::experiments
