// main() for GoogleTest executables that run under mpirun: initialises MPI, runs the
// tests on every rank, prints results from rank 0 only, and makes every rank agree on
// the outcome so mpirun's exit code reflects a failure on any rank.
#include <gtest/gtest.h>
#include <mpi.h>

#include "surge/core/mpi.hpp"

int main(int argc, char** argv) {
  surge::core::MpiSession mpi(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  if (mpi.rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int failed = RUN_ALL_TESTS();
  int any_failed = 0;
  if (MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS)
    return 1;  // the ranks could not agree: count it as a failure
  return any_failed;
}
