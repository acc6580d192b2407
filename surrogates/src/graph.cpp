// Graphs for graph networks: the grid graph of a solver, the mesh file reader, aggregation.
#include "graph.hpp"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "surge/core/error.hpp"
#include "surge/core/mesh.hpp"

namespace surge::surrogates::detail {

namespace {

// Directed edges and per-node data as plain vectors, turned into tensors once.
struct GraphBuilder {
  std::vector<std::int64_t> senders, receivers, node_type;
  std::vector<float> edge_vectors, positions;

  Graph finish() const {
    const auto edges = static_cast<std::int64_t>(senders.size());
    const auto nodes = static_cast<std::int64_t>(node_type.size());
    const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
    Graph g;
    g.senders = torch::tensor(senders, i64).view({edges});
    g.receivers = torch::tensor(receivers, i64).view({edges});
    g.edge_vectors = torch::tensor(edge_vectors, torch::kFloat).view({edges, 2});
    g.positions = torch::tensor(positions, torch::kFloat).view({nodes, 2});
    g.node_type = torch::tensor(node_type, i64).view({nodes});
    g.nodes = nodes;
    return g;
  }
};

}  // namespace

Graph grid_graph(std::int64_t nx, std::int64_t ny, bool periodic_x, bool periodic_y) {
  SURGE_REQUIRE(nx >= 1 && ny >= 1, ConfigError,
                "a grid graph needs nx, ny >= 1, got " << nx << " x " << ny);
  // On a periodic axis of two nodes the wrapped neighbour is the direct one: it is joined
  // once, by the direct edge, so that the two edge vectors stay opposite.
  const bool wrap_x = periodic_x && nx >= 3, wrap_y = periodic_y && ny >= 3;
  auto spacing = [](std::int64_t n, bool periodic) {
    return n == 1     ? 0.0
           : periodic ? 1.0 / static_cast<double>(n)
                      : 1.0 / static_cast<double>(n - 1);
  };
  const double hx = spacing(nx, periodic_x), hy = spacing(ny, periodic_y);
  const bool walls_x = !periodic_x && nx >= 2, walls_y = !periodic_y && ny >= 2;

  GraphBuilder b;
  constexpr std::int64_t kSteps[4][2] = {{-1, 0}, {1, 0}, {0, -1}, {0, 1}};
  for (std::int64_t i = 0; i < nx; ++i) {
    for (std::int64_t j = 0; j < ny; ++j) {
      const std::int64_t receiver = i * ny + j;
      b.positions.push_back(static_cast<float>(i * hx));
      b.positions.push_back(static_cast<float>(j * hy));
      const bool boundary =
          (walls_x && (i == 0 || i == nx - 1)) || (walls_y && (j == 0 || j == ny - 1));
      b.node_type.push_back(boundary ? kBoundary : kInterior);
      const auto first = b.senders.size();
      for (const auto& step : kSteps) {
        std::int64_t si = i + step[0], sj = j + step[1];
        if (si < 0 || si >= nx) {
          if (!wrap_x) continue;
          si = (si + nx) % nx;
        }
        if (sj < 0 || sj >= ny) {
          if (!wrap_y) continue;
          sj = (sj + ny) % ny;
        }
        const std::int64_t sender = si * ny + sj;
        if (std::find(b.senders.begin() + static_cast<std::ptrdiff_t>(first), b.senders.end(),
                      sender) != b.senders.end()) {
          continue;
        }
        b.senders.push_back(sender);
        b.receivers.push_back(receiver);
        b.edge_vectors.push_back(static_cast<float>(step[0] * hx));
        b.edge_vectors.push_back(static_cast<float>(step[1] * hy));
      }
    }
  }
  return b.finish();
}

Graph read_mesh(const std::string& path) {
  const core::Mesh mesh = core::read_mesh(path);  // every check of the file is there
  GraphBuilder b;
  for (const auto& p : mesh.positions) {
    b.positions.push_back(static_cast<float>(p[0]));
    b.positions.push_back(static_cast<float>(p[1]));
  }
  for (int t : mesh.node_type)
    b.node_type.push_back(t == core::kMeshBoundary ? kBoundary : kInterior);
  // (receiver, sender) pairs, sorted so that edges are grouped by receiver like grid_graph's.
  std::set<std::pair<std::int64_t, std::int64_t>> directed;
  for (const auto& [a, c] : mesh.edges) {
    directed.emplace(c, a);
    directed.emplace(a, c);
  }
  for (const auto& [receiver, sender] : directed) {
    b.senders.push_back(sender);
    b.receivers.push_back(receiver);
    for (std::size_t k = 0; k < 2; ++k) {
      b.edge_vectors.push_back(b.positions[static_cast<std::size_t>(sender) * 2 + k] -
                               b.positions[static_cast<std::size_t>(receiver) * 2 + k]);
    }
  }
  return b.finish();
}

torch::Tensor aggregate(const torch::Tensor& messages, const torch::Tensor& receivers,
                        std::int64_t nodes) {
  SURGE_REQUIRE(
      messages.dim() == 2 && receivers.dim() == 1 && receivers.size(0) == messages.size(0),
      ConfigError,
      "aggregate expects messages [M, F] and receivers [M], got " << messages.sizes() << " and "
                                                                  << receivers.sizes());
  return torch::zeros({nodes, messages.size(1)}, messages.options())
      .index_add_(0, receivers, messages);
}

}  // namespace surge::surrogates::detail
