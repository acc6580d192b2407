#pragma once
// Ctrl-C (SIGINT), Slurm's SIGTERM and, under mpirun, Open MPI's SIGCONT turned into a flag
// that a study polls: it stops cleanly, with its results.

#include <atomic>

namespace surge::experiments {

// Installs the handler (under mpirun also SIGCONT, Open MPI's first word of a Ctrl-C, SIGTSTP
// for Ctrl-Z, and death with mpirun).
void install_interrupt_handler();
// Set once the handler has seen an interrupt.
[[nodiscard]] bool interrupted() noexcept;
// The flag itself, for threads that poll it (the feeder).
[[nodiscard]] std::atomic<int>& interrupt_flag() noexcept;

}  // namespace surge::experiments
