// Initialises Kokkos once for a test executable (MPI is initialised by the MPI test main).
#include <gtest/gtest.h>

#include "surge/solvers/kokkos_aliases.hpp"

namespace {
class KokkosEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { Kokkos::initialize(); }
  void TearDown() override { Kokkos::finalize(); }
};
const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new KokkosEnvironment);
}  // namespace
