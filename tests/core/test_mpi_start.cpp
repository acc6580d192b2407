// How surge's MPI processes start on a node without a fabric device (core/mpi.hpp): the
// devices looked for, and the Open MPI variable chosen only where the user chose none.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "surge/core/mpi.hpp"

namespace fs = std::filesystem;

namespace {

struct Node {
  fs::path root = fs::temp_directory_path() / ("surge_mpi_node_" + std::to_string(getpid()));
  Node() {
    fs::remove_all(root);
    fs::create_directories(root / "sys" / "class" / "net" / "lo");
    fs::create_directories(root / "dev");
    std::ofstream(root / "dev" / "null");
  }
  ~Node() { fs::remove_all(root); }
  [[nodiscard]] bool fabric() const {
    return surge::core::mpi_fabric_present((root / "sys" / "class").string(),
                                           (root / "dev").string());
  }
};

TEST(MpiFabric, NoneOnANodeWithOnlyEthernet) {
  Node n;
  EXPECT_FALSE(n.fabric());
  fs::create_directories(n.root / "sys" / "class" / "infiniband");  // the class, no device
  EXPECT_FALSE(n.fabric());
  EXPECT_FALSE(surge::core::mpi_fabric_present("/surely/not/here", "/surely/not/here/either"));
}

TEST(MpiFabric, InfinibandOmniPathEfaAndSlingshotDevicesAreSeen) {
  {
    Node n;
    fs::create_directories(n.root / "sys" / "class" / "infiniband" / "mlx5_0");
    EXPECT_TRUE(n.fabric());
  }
  {
    Node n;
    fs::create_directories(n.root / "sys" / "class" / "cxi" / "cxi0");
    EXPECT_TRUE(n.fabric());
  }
  for (const char* device : {"hfi1_0", "ipath0"}) {
    Node n;
    std::ofstream(n.root / "dev" / device);
    EXPECT_TRUE(n.fabric()) << device;
  }
}

TEST(MpiStartEnvironment, PlainTransportOnlyWithoutAFabricAndWithoutTheUsersChoice) {
#ifdef OPEN_MPI
  const std::vector<std::string> plain = {"OMPI_MCA_pml=ob1"};
  EXPECT_EQ(surge::core::mpi_start_environment(false, {}), plain);
  EXPECT_EQ(surge::core::mpi_start_environment(false, {"PATH=/usr/bin", "OMPI_MCA_io=^ompio"}),
            plain);
  EXPECT_TRUE(surge::core::mpi_start_environment(false, {"OMPI_MCA_pml=ucx"}).empty());
  EXPECT_TRUE(surge::core::mpi_start_environment(false, {"OMPI_MCA_mtl=psm2"}).empty());
  EXPECT_TRUE(surge::core::mpi_start_environment(true, {}).empty());
#else
  EXPECT_TRUE(surge::core::mpi_start_environment(false, {}).empty());  // not Open MPI's variables
#endif
}

}  // namespace
