#include "commands/command_guard.hpp"

#include <mpi.h>

#include <cstdio>
#include <exception>
#include <string>

#include "surge/core/error.hpp"

namespace surge::experiments {

int run_guarded(int rank, int size, const std::function<int()>& command) {
  try {
    return command();
  } catch (const core::ConfigError& e) {
    // Every rank read the same input and failed the same way: one line, from rank 0.
    if (rank == 0) std::fprintf(stderr, "surge: %s\n", core::describe(e).c_str());
    return 2;
  } catch (const core::Error& e) {
    std::fprintf(stderr, "surge: %s%s\n",
                 size > 1 ? ("rank " + std::to_string(rank) + ": ").c_str() : "",
                 core::describe(e).c_str());
    // Other ranks may be waiting in a collective call: end the whole job.
    if (size > 1) MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "surge: internal error: %s\n", e.what());
    if (size > 1) MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
  }
}

}  // namespace surge::experiments
