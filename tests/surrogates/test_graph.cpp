// Graphs for the graph network: aggregation against dense sums, grid graphs (counts,
// symmetry, wrapped edge vectors, boundary), the mesh reader and its errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "graph.hpp"
#include "graph_helpers.hpp"
#include "surge/core/error.hpp"

using namespace surge;
using namespace surge::surrogates::detail;
using namespace surge::surrogates::testing;

namespace {

// ---- aggregate ----

TEST(Aggregate, EqualsDenseSumsIncludingNodesThatReceiveNothing) {
  torch::manual_seed(1);
  // Directed edges on 7 nodes; nodes 3 and 6 receive nothing, node 2 three times.
  const std::vector<std::int64_t> senders = {0, 1, 4, 5, 2, 0, 3, 6, 1};
  const std::vector<std::int64_t> receivers = {2, 2, 2, 0, 1, 4, 5, 5, 0};
  const std::int64_t nodes = 7, edges = 9, features = 3;
  const auto r = torch::tensor(receivers);
  const auto messages = torch::randn({edges, features}, torch::kDouble);

  // Per-edge messages: out = R m, R[i][k] = 1 where receivers[k] = i.
  auto dense = torch::zeros({nodes, features}, torch::kDouble);
  auto m = messages.accessor<double, 2>();
  auto d = dense.accessor<double, 2>();
  for (std::int64_t i = 0; i < nodes; ++i)
    for (std::int64_t k = 0; k < edges; ++k)
      if (receivers[k] == i)
        for (std::int64_t f = 0; f < features; ++f) d[i][f] += m[k][f];
  const auto out = aggregate(messages, r, nodes);
  ASSERT_EQ(out.sizes(), (std::vector<std::int64_t>{nodes, features}));
  EXPECT_LT((out - dense).abs().max().item<double>(), 1e-14);
  EXPECT_EQ(out[3].abs().sum().item<double>(), 0.0);
  EXPECT_EQ(out[6].abs().sum().item<double>(), 0.0);

  // Messages gathered from senders: out = A^T h with A[s][r] the adjacency.
  const auto h = torch::randn({nodes, features}, torch::kDouble);
  auto adjacency = torch::zeros({nodes, nodes}, torch::kDouble);
  for (std::int64_t k = 0; k < edges; ++k) adjacency[senders[k]][receivers[k]] += 1.0;
  auto transposed = torch::zeros({nodes, features}, torch::kDouble);
  auto a = adjacency.accessor<double, 2>();
  auto ha = h.accessor<double, 2>();
  auto ta = transposed.accessor<double, 2>();
  for (std::int64_t i = 0; i < nodes; ++i)
    for (std::int64_t s = 0; s < nodes; ++s)
      for (std::int64_t f = 0; f < features; ++f) ta[i][f] += a[s][i] * ha[s][f];
  const auto gathered = aggregate(h.index_select(0, torch::tensor(senders)), r, nodes);
  EXPECT_LT((gathered - transposed).abs().max().item<double>(), 1e-14);

  // Two disjoint copies (receivers offset by the node count) sum each copy on its own.
  const auto twice =
      aggregate(torch::cat({messages, 2 * messages}), torch::cat({r, r + nodes}), 2 * nodes);
  EXPECT_LT((twice.slice(0, 0, nodes) - dense).abs().max().item<double>(), 1e-14);
  EXPECT_LT((twice.slice(0, nodes) - 2 * dense).abs().max().item<double>(), 1e-14);

  // The gradient of sum(w * out) with respect to message k is w[receivers[k]].
  const auto leaf = messages.clone().requires_grad_(true);
  const auto w = torch::randn({nodes, features}, torch::kDouble);
  (aggregate(leaf, r, nodes) * w).sum().backward();
  EXPECT_LT((leaf.grad() - w.index_select(0, r)).abs().max().item<double>(), 1e-14);

  EXPECT_THROW((void)aggregate(messages, r.slice(0, 1), nodes), core::ConfigError);
}

// ---- grid_graph ----

// Directed edge count: each axis contributes 2 edges per undirected neighbour pair, n - 1 pairs
// per line between walls, n on a periodic line of n >= 3, n - 1 when n <= 2.
std::int64_t grid_edges(std::int64_t nx, std::int64_t ny, bool px, bool py) {
  const std::int64_t pairs_x = (px && nx >= 3 ? nx : nx - 1) * ny;
  const std::int64_t pairs_y = nx * (py && ny >= 3 ? ny : ny - 1);
  return 2 * (pairs_x + pairs_y);
}

// No self edges, no duplicates, every reverse present, edges grouped by receiver.
void expect_symmetric_simple(const Graph& g, const std::string& label) {
  const auto s = to_vector(g.senders), r = to_vector(g.receivers);
  std::set<std::pair<std::int64_t, std::int64_t>> seen;
  for (std::size_t k = 0; k < s.size(); ++k) {
    EXPECT_NE(s[k], r[k]) << label;
    EXPECT_TRUE(s[k] >= 0 && s[k] < g.nodes && r[k] >= 0 && r[k] < g.nodes) << label;
    EXPECT_TRUE(seen.emplace(s[k], r[k]).second) << label << ": duplicate " << s[k] << "->" << r[k];
    if (k > 0) {
      EXPECT_LE(r[k - 1], r[k]) << label;
    }
  }
  for (const auto& [a, b] : seen)
    EXPECT_TRUE(seen.count({b, a})) << label << ": " << a << "->" << b;
  // Opposite edges have opposite vectors.
  const auto v = g.edge_vectors.accessor<float, 2>();
  for (std::size_t k = 0; k < s.size(); ++k)
    for (std::size_t q = 0; q < s.size(); ++q)
      if (s[q] == r[k] && r[q] == s[k]) {
        EXPECT_FLOAT_EQ(v[k][0], -v[q][0]) << label;
        EXPECT_FLOAT_EQ(v[k][1], -v[q][1]) << label;
      }
}

TEST(GridGraph, EdgeCountsAndSymmetryOnEverySizeAndPeriodicity) {
  EXPECT_EQ(grid_edges(4, 5, false, false), 2 * 3 * 5 + 2 * 4 * 4);
  EXPECT_EQ(grid_edges(4, 5, true, true), 4 * 4 * 5);
  for (auto [nx, ny] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {4, 5}, {1, 1}, {1, 5}, {5, 1}, {2, 2}, {2, 3}, {3, 3}, {3, 2}}) {
    for (int periodic = 0; periodic < 4; ++periodic) {
      const bool px = periodic & 1, py = periodic & 2;
      const std::string label = std::to_string(nx) + " x " + std::to_string(ny) +
                                (px ? " periodic x" : "") + (py ? " periodic y" : "");
      const Graph g = grid_graph(nx, ny, px, py);
      EXPECT_EQ(g.nodes, nx * ny) << label;
      EXPECT_EQ(g.senders.numel(), grid_edges(nx, ny, px, py)) << label;
      expect_symmetric_simple(g, label);
    }
  }
  EXPECT_THROW((void)grid_graph(0, 3, false, false), core::ConfigError);
}

TEST(GridGraph, EdgeVectorsWrapTheShortWayOnPeriodicAxes) {
  const std::int64_t nx = 4, ny = 5;
  const Graph g = grid_graph(nx, ny, true, true);
  const auto s = to_vector(g.senders), r = to_vector(g.receivers);
  const auto p = g.positions.accessor<float, 2>();
  const auto v = g.edge_vectors.accessor<float, 2>();
  EXPECT_FLOAT_EQ(p[(nx - 1) * ny][0], 3.0f / 4.0f);  // i / nx on a periodic axis
  EXPECT_FLOAT_EQ(p[ny - 1][1], 4.0f / 5.0f);
  int wrapped_x = 0, wrapped_y = 0;
  for (std::size_t k = 0; k < s.size(); ++k) {
    const float dx = p[s[k]][0] - p[r[k]][0], dy = p[s[k]][1] - p[r[k]][1];
    const float length = std::hypot(v[k][0], v[k][1]);
    if (std::abs(dx) > 0.5f) {
      ++wrapped_x;
      EXPECT_FLOAT_EQ(length, 1.0f / nx);
      EXPECT_FLOAT_EQ(v[k][0], dx > 0 ? dx - 1.0f : dx + 1.0f);
    } else if (std::abs(dy) > 0.5f) {
      ++wrapped_y;
      EXPECT_FLOAT_EQ(length, 1.0f / ny);
      EXPECT_FLOAT_EQ(v[k][1], dy > 0 ? dy - 1.0f : dy + 1.0f);
    } else {
      EXPECT_FLOAT_EQ(v[k][0], dx);
      EXPECT_FLOAT_EQ(v[k][1], dy);
      EXPECT_TRUE(length == 1.0f / nx || length == 1.0f / ny) << length;
    }
  }
  EXPECT_EQ(wrapped_x, 2 * ny);  // the seam between row nx - 1 and row 0, both directions
  EXPECT_EQ(wrapped_y, 2 * nx);

  // Between walls positions span [0, 1] and every vector is the position difference.
  const Graph w = grid_graph(nx, ny, false, false);
  const auto pw = w.positions.accessor<float, 2>();
  EXPECT_FLOAT_EQ(pw[nx * ny - 1][0], 1.0f);
  EXPECT_FLOAT_EQ(pw[nx * ny - 1][1], 1.0f);
  EXPECT_TRUE(torch::allclose(w.edge_vectors, w.positions.index_select(0, w.senders) -
                                                  w.positions.index_select(0, w.receivers)));
}

TEST(GridGraph, BoundaryNodesAreTheFirstAndLastLinesOfWallAxes) {
  const std::int64_t nx = 4, ny = 5;
  for (int periodic = 0; periodic < 4; ++periodic) {
    const bool px = periodic & 1, py = periodic & 2;
    const auto types = to_vector(grid_graph(nx, ny, px, py).node_type);
    int boundary = 0;
    for (std::int64_t i = 0; i < nx; ++i)
      for (std::int64_t j = 0; j < ny; ++j) {
        const bool expected = (!px && (i == 0 || i == nx - 1)) || (!py && (j == 0 || j == ny - 1));
        EXPECT_EQ(types[i * ny + j], expected ? kBoundary : kInterior) << i << ", " << j;
        boundary += expected;
      }
    EXPECT_EQ(boundary, std::vector<int>({14, 8, 10, 0})[periodic]);
  }
  // An axis of one node has no walls: a line of 5 between walls has its two ends only.
  EXPECT_EQ(to_vector(grid_graph(1, 5, false, false).node_type),
            (std::vector<std::int64_t>{1, 0, 0, 0, 1}));
}

// ---- read_mesh ----

TEST(ReadMesh, ReadsTheReadmeExampleAndTheDisk) {
  const std::string path = write_file("square.yaml",
                                      "nodes: [[0, 0], [1, 0], [1, 1], [0, 1]]\n"
                                      "edges: [[0, 1], [1, 2], [2, 3], [3, 0], [0, 2]]\n"
                                      "node_type: [1, 0, 0, 0]\n");
  const Graph g = read_mesh(path);
  EXPECT_EQ(g.nodes, 4);
  EXPECT_EQ(g.senders.numel(), 10);
  EXPECT_EQ(to_vector(g.node_type), (std::vector<std::int64_t>{1, 0, 0, 0}));
  EXPECT_EQ(to_vector(g.receivers), (std::vector<std::int64_t>{0, 0, 0, 1, 1, 2, 2, 2, 3, 3}));
  EXPECT_EQ(to_vector(g.senders), (std::vector<std::int64_t>{1, 2, 3, 0, 2, 0, 1, 3, 0, 2}));
  EXPECT_TRUE(torch::equal(g.edge_vectors, g.positions.index_select(0, g.senders) -
                                               g.positions.index_select(0, g.receivers)));
  expect_symmetric_simple(g, path);
  // node_type is optional.
  EXPECT_EQ(to_vector(read_mesh(write_file("untyped.yaml",
                                           "nodes: [[0, 0], [1, 0]]\n"
                                           "edges: [[1, 0]]\n"))
                          .node_type),
            (std::vector<std::int64_t>{0, 0}));

  // The example disk: a planar triangulation of N nodes with B on the boundary has
  // 3 N - 3 - B edges (Euler); the boundary is the unit circle.
  const Graph disk = read_mesh(kDisk);
  const auto types = to_vector(disk.node_type);
  const auto boundary = std::count(types.begin(), types.end(), kBoundary);
  EXPECT_EQ(disk.nodes, 217);
  EXPECT_EQ(boundary, 48);
  EXPECT_EQ(disk.senders.numel(), 2 * (3 * disk.nodes - 3 - boundary));
  const auto radius = disk.positions.norm(2, 1);
  for (std::int64_t k = 0; k < disk.nodes; ++k) {
    if (types[k] == kBoundary) {
      EXPECT_NEAR(radius[k].item<float>(), 1.0f, 1e-5f);
    } else {
      EXPECT_LT(radius[k].item<float>(), 0.9f);
    }
  }
  expect_symmetric_simple(disk, kDisk);
}

TEST(ReadMesh, EveryBadInputIsAConfigErrorNamingTheFile) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"nodes: [[0, 0], [1, 0]]\nedges: [[0, 2]]\n", "outside [0, 2)"},
      {"nodes: [[0, 0], [1, 0]]\nedges: [[-1, 0]]\n", "outside [0, 2)"},
      {"nodes: [[0, 0], [1, 0]]\nedges: [[1, 1]]\n", "self edge"},
      {"nodes: [[0, 0], [1, 0]]\nedges: [[0, 1], [1, 0]]\n", "appears twice"},
      {"nodes: [[0, 0], [1, 0, 2]]\nedges: [[0, 1]]\n", "list of 2 numbers"},
      {"nodes: [[0, 0], [1, 0]]\nedges: [[0, 1, 1]]\n", "list of 2 numbers"},
      {"nodes: [[0, 0], 1]\nedges: [[0, 1]]\n", "list of 2 numbers"},
      {"nodes: [[0, .nan], [1, 0]]\nedges: [[0, 1]]\n", "finite"},
      {"nodes: [[0, 0], [.inf, 0]]\nedges: [[0, 1]]\n", "finite"},
      {"nodes: [[0, x], [1, 0]]\nedges: [[0, 1]]\n", "must be a number, got 'x'"},
      {"nodes: [[0, 0], [1, 0]]\nedges: [[0, 0.5]]\n", "must be an integer"},
      {"nodes: []\nedges: [[0, 1]]\n", "'nodes' must be a non-empty list"},
      {"edges: [[0, 1]]\n", "needs 'nodes'"},
      {"nodes: [[0, 0], [1, 0]]\n", "needs 'edges'"},
      {"nodes: [[0, 0], [1, 0]]\nedges: []\n", "'edges' must be a non-empty list"},
      {"nodes: [[0, 0], [1, 0]]\nedges: [[0, 1]]\nnode_type: [0]\n", "list of 2 integers"},
      {"nodes: [[0, 0], [1, 0]]\nedges: [[0, 1]]\nnode_type: [0, 2]\n", "node_type[1]"},
      {"nodes: [[0, 0], [1, 0]]\nedges: [[0, 1]]\ncells: []\n", "unknown key 'cells'"},
      {"- [0, 0]\n", "must be a map"},
      {"nodes: [[0, 0], [1, 0]\n", "malformed YAML"},
  };
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const std::string path = write_file("bad_" + std::to_string(c) + ".yaml", cases[c].first);
    try {
      (void)read_mesh(path);
      ADD_FAILURE() << "no error for case " << c << ": " << cases[c].first;
    } catch (const core::ConfigError& e) {
      const std::string message = e.message();
      EXPECT_NE(message.find(path), std::string::npos) << message;
      EXPECT_NE(message.find(cases[c].second), std::string::npos) << message;
    }
  }
  // A node list's line is named: the third line holds the bad edge.
  const std::string path = write_file("line.yaml", "nodes: [[0, 0], [1, 0]]\nedges:\n  - [0, 5]\n");
  try {
    (void)read_mesh(path);
    ADD_FAILURE() << "no error";
  } catch (const core::ConfigError& e) {
    EXPECT_NE(e.message().find(path + ":3:"), std::string::npos) << e.message();
  }
  EXPECT_THROW((void)read_mesh((scratch_dir() / "missing.yaml").string()), core::IoError);
}

// ---- GraphNet structure ----

}  // namespace
