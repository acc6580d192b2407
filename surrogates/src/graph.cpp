// Graphs for graph networks: the grid graph of a solver, the mesh file reader, aggregation.
#include "graph.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <type_traits>
#include <utility>
#include <vector>

#include "surge/core/config.hpp"
#include "surge/core/error.hpp"

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

namespace {

// "path:line: " for a node of the mesh file.
std::string where(const std::string& path, const YAML::Node& node) {
  return path + ":" + std::to_string(node.Mark().line + 1) + ": ";
}

template <class T>
T scalar(const std::string& path, const YAML::Node& node, const char* what) {
  if (node.IsScalar()) {
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
    }
  }
  SURGE_THROW(ConfigError, where(path, node)
                               << what << " must be "
                               << (std::is_integral_v<T> ? "an integer" : "a number") << ", got "
                               << (node.IsScalar() ? "'" + node.Scalar() + "'"
                                                   : std::string("a list or map")));
}

// A list of `arity` scalars, e.g. [x, y].
template <class T>
std::vector<T> tuple(const std::string& path, const YAML::Node& node, std::size_t arity,
                     const char* what) {
  SURGE_REQUIRE(node.IsSequence() && node.size() == arity, ConfigError,
                where(path, node) << what << " must be a list of " << arity << " numbers");
  std::vector<T> values;
  for (const auto& v : node) values.push_back(scalar<T>(path, v, what));
  return values;
}

YAML::Node non_empty_list(const std::string& path, const YAML::Node& root, const char* key) {
  const YAML::Node list = root[key];
  SURGE_REQUIRE(list.IsDefined() && !list.IsNull(), ConfigError,
                path << ": a mesh needs '" << key << "'");
  SURGE_REQUIRE(list.IsSequence() && list.size() > 0, ConfigError,
                where(path, list) << "'" << key << "' must be a non-empty list");
  return list;
}

}  // namespace

Graph read_mesh(const std::string& path) {
  const YAML::Node root = core::load_yaml_file(path);
  SURGE_REQUIRE(root.IsMap(), ConfigError,
                path << ": a mesh file must be a map of nodes, edges and node_type");
  for (const auto& entry : root) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "<a list or map>";
    SURGE_REQUIRE(key == "nodes" || key == "edges" || key == "node_type", ConfigError,
                  where(path, entry.first)
                      << "unknown key '" << key << "' (known: nodes, edges, node_type)");
  }

  GraphBuilder b;
  for (const auto& node : non_empty_list(path, root, "nodes")) {
    for (double c : tuple<double>(path, node, 2, "a node [x, y]")) {
      SURGE_REQUIRE(std::isfinite(c), ConfigError,
                    where(path, node) << "node coordinates must be finite, got " << c);
      b.positions.push_back(static_cast<float>(c));
    }
  }
  const auto nodes = static_cast<std::int64_t>(b.positions.size() / 2);

  b.node_type.assign(static_cast<std::size_t>(nodes), kInterior);
  if (const YAML::Node types = root["node_type"]; types.IsDefined() && !types.IsNull()) {
    SURGE_REQUIRE(types.IsSequence() && static_cast<std::int64_t>(types.size()) == nodes,
                  ConfigError,
                  where(path, types)
                      << "'node_type' must be a list of " << nodes << " integers, one per node");
    for (std::size_t k = 0; k < types.size(); ++k) {
      const auto t = scalar<std::int64_t>(path, types[k], "a node type");
      SURGE_REQUIRE(t == kInterior || t == kBoundary, ConfigError,
                    where(path, types[k]) << "node_type[" << k << "] must be 0 (interior) or 1 "
                                          << "(boundary), got " << t);
      b.node_type[k] = t;
    }
  }

  // (receiver, sender) pairs, sorted so that edges are grouped by receiver like grid_graph's.
  std::set<std::pair<std::int64_t, std::int64_t>> directed;
  for (const auto& edge : non_empty_list(path, root, "edges")) {
    const auto ends = tuple<std::int64_t>(path, edge, 2, "an edge [a, b]");
    for (std::int64_t e : ends) {
      SURGE_REQUIRE(e >= 0 && e < nodes, ConfigError,
                    where(path, edge) << "edge [" << ends[0] << ", " << ends[1] << "] names node "
                                      << e << ", outside [0, " << nodes << ")");
    }
    SURGE_REQUIRE(ends[0] != ends[1], ConfigError,
                  where(path, edge) << "self edge [" << ends[0] << ", " << ends[1] << "]");
    SURGE_REQUIRE(directed.emplace(ends[1], ends[0]).second, ConfigError,
                  where(path, edge) << "edge [" << ends[0] << ", " << ends[1]
                                    << "] appears twice (edges are undirected)");
    directed.emplace(ends[0], ends[1]);
  }
  for (const auto& [receiver, sender] : directed) {
    b.senders.push_back(sender);
    b.receivers.push_back(receiver);
    for (std::size_t c = 0; c < 2; ++c) {
      b.edge_vectors.push_back(b.positions[static_cast<std::size_t>(sender) * 2 + c] -
                               b.positions[static_cast<std::size_t>(receiver) * 2 + c]);
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
