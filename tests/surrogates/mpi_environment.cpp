// Initialises MPI once for a serial test executable (the trainer takes a communicator).
#include <gtest/gtest.h>
#include <mpi.h>

namespace {
class MpiEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) MPI_Init(nullptr, nullptr);
  }
  void TearDown() override { MPI_Finalize(); }
};
const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new MpiEnvironment);
}  // namespace
