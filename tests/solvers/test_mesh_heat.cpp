// mesh_heat verification on one rank: the exact discrete solution on a chain of nodes, second
// order on grid meshes, the Laplacian of quadratics on a regular triangulation, fixed walls and
// the maximum principle on the disk mesh, and the errors a user sees for bad meshes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "surge/core/error.hpp"
#include "surge/core/mesh.hpp"
#include "surge/solvers/mesh_heat.hpp"

using surge::solvers::MeshHeat;
using surge::solvers::MeshHeatConfig;
namespace fs = std::filesystem;

namespace {

struct TestMesh {
  std::vector<std::array<double, 2>> nodes;
  std::vector<std::array<int, 2>> edges;
  std::vector<int> types;
};

// A fresh directory per test, removed with it.
class MeshHeatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("surge_mesh_heat_" + std::to_string(getpid()) + "_" + info->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::string write(const std::string& name, const TestMesh& m) const {
    std::string text = "nodes:\n";
    char line[128];
    for (const auto& [x, y] : m.nodes) {
      std::snprintf(line, sizeof line, "  - [%.17g, %.17g]\n", x, y);
      text += line;
    }
    text += "edges:\n";
    for (const auto& [a, b] : m.edges)
      text += "  - [" + std::to_string(a) + ", " + std::to_string(b) + "]\n";
    text += "node_type: [";
    for (std::size_t k = 0; k < m.types.size(); ++k)
      text += (k ? ", " : "") + std::to_string(m.types[k]);
    return write(name, text + "]\n");
  }

  fs::path dir_;
};

// n x n nodes on the unit square, 4-neighbour edges, the outer ring a wall: the 5-point stencil.
TestMesh grid_mesh(int n) {
  TestMesh m;
  const double h = 1.0 / (n - 1);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      m.nodes.push_back({i * h, j * h});
      m.types.push_back(i == 0 || j == 0 || i == n - 1 || j == n - 1);
      if (i + 1 < n) m.edges.push_back({i * n + j, (i + 1) * n + j});
      if (j + 1 < n) m.edges.push_back({i * n + j, i * n + j + 1});
    }
  return m;
}

double max_abs(const std::vector<double>& v) {
  double e = 0.0;
  for (double x : v) e = std::max(e, std::abs(x));
  return e;
}

}  // namespace

TEST_F(MeshHeatTest, ChainEqualsExactDiscreteSolution) {
  // A chain of n nodes with spacing h (d_i = 1, A_i = 1) is the 3-point Laplacian, whose mode
  // sin(pi s) has eigenvalue lambda = 4/h^2 sin^2(pi h / 2); explicit Euler multiplies it by
  // (1 - alpha dt lambda) per step. The chain is turned by 0.3 rad: only distances matter.
  const int n = 21;
  const double h = 1.0 / (n - 1), turn = 0.3;
  TestMesh m;
  for (int k = 0; k < n; ++k) {
    m.nodes.push_back({0.5 + k * h * std::cos(turn), -0.2 + k * h * std::sin(turn)});
    m.types.push_back(k == 0 || k == n - 1);
    if (k + 1 < n) m.edges.push_back({k, k + 1});
  }
  MeshHeatConfig c;
  c.mesh = write("chain.yaml", m);
  c.alpha = 0.7;
  c.t_end = 0.05;
  c.n_outputs = 1;
  MeshHeat heat(c, MPI_COMM_WORLD);
  EXPECT_NEAR(heat.stable_dt(), h * h / (2 * c.alpha), 1e-15);
  EXPECT_LE(heat.dt(), c.cfl * heat.stable_dt() * (1 + 1e-12));

  std::vector<double> mode(n);
  for (int k = 0; k < n; ++k) mode[k] = std::sin(M_PI * k * h);
  heat.set_interior(mode);
  heat.advance_to(c.t_end);
  ASSERT_GT(heat.steps(), 20);
  EXPECT_NEAR(heat.time(), c.t_end, 1e-15);
  const double lambda = 4.0 / (h * h) * std::pow(std::sin(M_PI * h / 2), 2);
  const double factor = std::pow(1.0 - c.alpha * heat.dt() * lambda, heat.steps());
  ASSERT_LT(factor, 0.8);  // the mode has visibly decayed
  const auto u = heat.values();
  std::vector<double> error(n);
  for (int k = 0; k < n; ++k) error[k] = u[k] - factor * mode[k];
  EXPECT_LT(max_abs(error), 1e-10);
}

TEST_F(MeshHeatTest, GridMeshConvergesAtSecondOrder) {
  // sin(pi x) sin(pi y) decays as exp(-2 pi^2 alpha t); explicit steps shrink with h^2, so the
  // whole error is O(h^2).
  const double alpha = 0.5, t = 0.05;
  std::vector<double> errors;
  for (int n : {9, 17, 33}) {
    const TestMesh m = grid_mesh(n);
    MeshHeatConfig c;
    c.mesh = write("grid" + std::to_string(n) + ".yaml", m);
    c.alpha = alpha;
    c.t_end = t;
    c.n_outputs = 2;
    MeshHeat heat(c, MPI_COMM_WORLD);
    std::vector<double> mode(m.nodes.size());
    for (std::size_t k = 0; k < mode.size(); ++k)
      mode[k] = std::sin(M_PI * m.nodes[k][0]) * std::sin(M_PI * m.nodes[k][1]);
    heat.set_interior(mode);
    for (double out : heat.output_times()) heat.advance_to(out);
    const auto u = heat.values();
    const double decay = std::exp(-2 * M_PI * M_PI * alpha * t);
    std::vector<double> error(u.size());
    for (std::size_t k = 0; k < u.size(); ++k) error[k] = u[k] - decay * mode[k];
    errors.push_back(max_abs(error));
  }
  for (std::size_t k = 1; k < errors.size(); ++k) {
    const double order = std::log2(errors[k - 1] / errors[k]);
    EXPECT_GT(order, 1.9) << "errors " << errors[k - 1] << " -> " << errors[k];
    EXPECT_LT(order, 2.1) << "errors " << errors[k - 1] << " -> " << errors[k];
  }
}

TEST_F(MeshHeatTest, RegularTriangulationReproducesTheLaplacianOfQuadratics) {
  // Six neighbours at equal angles (A_i = 6/4): L u = u_xx + u_yy exactly for a quadratic u,
  // so one step adds alpha dt laplacian(u) on every node whose neighbours are all interior.
  const int m = 9;
  const double h = 0.1;
  TestMesh mesh;
  const auto id = [m](int i, int j) { return i * m + j; };
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) {
      mesh.nodes.push_back({(i + 0.5 * j) * h, j * h * std::sqrt(0.75)});
      mesh.types.push_back(i == 0 || j == 0 || i == m - 1 || j == m - 1);
      if (i + 1 < m) mesh.edges.push_back({id(i, j), id(i + 1, j)});
      if (j + 1 < m) mesh.edges.push_back({id(i, j), id(i, j + 1)});
      if (i > 0 && j + 1 < m) mesh.edges.push_back({id(i, j), id(i - 1, j + 1)});
    }
  MeshHeatConfig c;
  c.mesh = write("triangles.yaml", mesh);
  c.alpha = 0.3;
  MeshHeat heat(c, MPI_COMM_WORLD);
  std::vector<double> u0(mesh.nodes.size());
  for (std::size_t k = 0; k < u0.size(); ++k) {
    const auto [x, y] = mesh.nodes[k];
    u0[k] = x * x + 3 * x * y - 0.5 * y * y;  // laplacian 1
  }
  heat.set_interior(u0);
  heat.step();
  const auto u1 = heat.values();
  int checked = 0;
  for (int i = 2; i < m - 2; ++i)
    for (int j = 2; j < m - 2; ++j, ++checked)
      EXPECT_NEAR(u1[id(i, j)] - u0[id(i, j)], c.alpha * heat.dt(), 1e-13) << i << ", " << j;
  EXPECT_EQ(checked, 25);
}

TEST_F(MeshHeatTest, DiskWallsStayFixedAndTheMaximumPrincipleHolds) {
  // At cfl = 1 every update is still a convex combination of old values.
  for (const auto& [amplitude, wall] : {std::array<double, 2>{5.0, 1.0}, {-2.0, 3.0}}) {
    MeshHeatConfig c;
    c.mesh = std::string(SURGE_SOURCE_DIR) + "/experiments/meshes/disk.yaml";
    c.ic_amplitude = amplitude;
    c.boundary = wall;
    c.ic_x = 0.3;
    c.ic_y = -0.2;
    c.ic_width = 0.3;
    c.t_end = 0.2;
    c.n_outputs = 10;
    c.cfl = 1.0;
    MeshHeat heat(c, MPI_COMM_WORLD);
    const auto& types = heat.mesh().node_type;
    const auto u0 = heat.values();
    ASSERT_EQ(u0.size(), 217u);
    const double lo = std::min(*std::min_element(u0.begin(), u0.end()), wall);
    const double hi = std::max(*std::max_element(u0.begin(), u0.end()), wall);
    const auto distance = [wall = wall](const std::vector<double>& u) {
      double d = 0.0;
      for (double v : u) d = std::max(d, std::abs(v - wall));
      return d;
    };
    double last = distance(u0);
    for (double t : heat.output_times()) {
      heat.advance_to(t);
      const auto u = heat.values();
      for (std::size_t k = 0; k < u.size(); ++k) {
        if (types[k] == surge::solvers::kMeshBoundary) {
          ASSERT_EQ(u[k], wall) << "node " << k;
        }
        ASSERT_GE(u[k], lo - 1e-12) << "node " << k << " at t = " << t;
        ASSERT_LE(u[k], hi + 1e-12) << "node " << k << " at t = " << t;
      }
      EXPECT_LE(distance(u), last + 1e-12);
      last = distance(u);
    }
    EXPECT_LT(last, 0.5 * distance(u0));  // the heat has gone somewhere
  }
}

TEST_F(MeshHeatTest, BadMeshesAreConfigErrorsNamingTheProblem) {
  const std::string good_edges = "edges: [[0, 1], [1, 2]]\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"nodes: [[0, 0], [1, 0], [2, 0]]\n" + good_edges, "has no boundary node (node_type 1)"},
      {"nodes: [[0, 0], [1, 0], [1, 0]]\n" + good_edges + "node_type: [1, 0, 0]\n",
       "edge [1, 2] joins two nodes at (1, 0)"},
      {"nodes: [[0, 0], [1, 0], [2, 0]]\nedges: [[0, 1], [1, 0]]\n", "appears twice"},
      {"nodes: [[0, 0], [1, 0], [2, 0]]\nedges: [[0, 3]]\n", "names node 3, outside [0, 3)"},
      {"nodes: [[0, 0], [1, 0], [2, 0]]\nedges: [[1, 1]]\n", "self edge [1, 1]"},
      {"nodes: [[0, 0], [1, 0], [2, 0]]\n" + good_edges + "node_type: [1, 0]\n",
       "'node_type' must be a list of 3 integers"},
      {"nodes: [[0, 0], [1, 0], [2, 0]]\n" + good_edges + "node_type: [2, 0, 0]\n",
       "node_type[0] must be 0 (interior) or 1 (boundary), got 2"},
      {"nodes: [[0, 0], [1, 0, 5]]\nedges: [[0, 1]]\n", "a node [x, y] must be a list of 2"},
      {"nodes: [[0, .nan], [1, 0]]\nedges: [[0, 1]]\n", "node coordinates must be finite"},
      {"nodes: [[0, 0], [1, 0]]\n", "a mesh needs 'edges'"},
      {"nodes: [[0, 0], [1, 0]]\nedges: [[0, 1]]\nfaces: []\n", "unknown key 'faces'"},
  };
  for (std::size_t k = 0; k < cases.size(); ++k) {
    MeshHeatConfig c;
    c.mesh = write("bad" + std::to_string(k) + ".yaml", cases[k].first);
    try {
      MeshHeat heat(c, MPI_COMM_WORLD);
      ADD_FAILURE() << "no error for case " << k << ": " << cases[k].first;
    } catch (const surge::core::ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(cases[k].second), std::string::npos) << what;
      EXPECT_NE(what.find(c.mesh), std::string::npos) << what;  // names the file
    }
  }
}

TEST_F(MeshHeatTest, MissingMeshIsAConfigError) {
  MeshHeatConfig c;
  EXPECT_THROW({ MeshHeat heat(c, MPI_COMM_WORLD); }, surge::core::ConfigError);
  c.mesh = (dir_ / "absent.yaml").string();
  try {
    MeshHeat heat(c, MPI_COMM_WORLD);
    ADD_FAILURE() << "no error for a missing mesh";
  } catch (const surge::core::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no mesh file '" + c.mesh + "'"), std::string::npos)
        << e.what();
  }
}
