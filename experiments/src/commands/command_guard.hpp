#pragma once
// How every surge executable (`surge`, `surge-solve`) ends a command that throws: one line on
// stderr and an exit code (2 for configuration errors, 1 for failures), and MPI_Abort when
// other ranks may be waiting in a collective call.

#include <functional>

namespace surge::experiments {

// Runs `command` and returns its exit code, or the code of the error it threw (printed).
int run_guarded(int rank, int size, const std::function<int()>& command);

}  // namespace surge::experiments
