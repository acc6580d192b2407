#include "surge/core/mesh.hpp"

#include <yaml-cpp/yaml.h>

#include <climits>
#include <cmath>
#include <fstream>
#include <set>
#include <type_traits>
#include <utility>

#include "surge/core/config.hpp"
#include "surge/core/error.hpp"

namespace surge::core {

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

// A list of two scalars, e.g. [x, y].
template <class T>
std::array<T, 2> pair(const std::string& path, const YAML::Node& node, const char* what) {
  SURGE_REQUIRE(node.IsSequence() && node.size() == 2, ConfigError,
                where(path, node) << what << " must be a list of 2 numbers");
  return {scalar<T>(path, node[0], what), scalar<T>(path, node[1], what)};
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

Mesh read_mesh(const std::string& path) {
  SURGE_REQUIRE(std::ifstream(path).good(), IoError, "cannot read mesh file '" << path << "'");
  const YAML::Node root = core::load_yaml_file(path);
  SURGE_REQUIRE(root.IsMap(), ConfigError,
                path << ": a mesh file must be a map of nodes, edges and node_type");
  for (const auto& entry : root) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "<a list or map>";
    SURGE_REQUIRE(key == "nodes" || key == "edges" || key == "node_type", ConfigError,
                  where(path, entry.first)
                      << "unknown key '" << key << "' (known: nodes, edges, node_type)");
  }

  Mesh mesh;
  const YAML::Node nodes = non_empty_list(path, root, "nodes");
  SURGE_REQUIRE(nodes.size() < static_cast<std::size_t>(INT_MAX), ConfigError,
                where(path, nodes) << "too many nodes (" << nodes.size() << ")");
  for (const auto& node : nodes) {
    const auto xy = pair<double>(path, node, "a node [x, y]");
    for (double c : xy) {
      SURGE_REQUIRE(std::isfinite(c), ConfigError,
                    where(path, node) << "node coordinates must be finite, got " << c);
    }
    mesh.positions.push_back(xy);
  }
  const int n = mesh.nodes();

  mesh.node_type.assign(static_cast<std::size_t>(n), kMeshInterior);
  if (const YAML::Node types = root["node_type"]; types.IsDefined() && !types.IsNull()) {
    SURGE_REQUIRE(types.IsSequence() && types.size() == static_cast<std::size_t>(n), ConfigError,
                  where(path, types)
                      << "'node_type' must be a list of " << n << " integers, one per node");
    for (std::size_t k = 0; k < types.size(); ++k) {
      const int t = scalar<int>(path, types[k], "a node type");
      SURGE_REQUIRE(t == kMeshInterior || t == kMeshBoundary, ConfigError,
                    where(path, types[k]) << "node_type[" << k << "] must be 0 (interior) or 1 "
                                          << "(boundary), got " << t);
      mesh.node_type[k] = t;
    }
  }

  std::set<std::pair<int, int>> seen;  // (min, max) of every edge so far
  for (const auto& edge : non_empty_list(path, root, "edges")) {
    const auto ends = pair<long long>(path, edge, "an edge [a, b]");
    for (long long e : ends) {
      SURGE_REQUIRE(e >= 0 && e < n, ConfigError,
                    where(path, edge) << "edge [" << ends[0] << ", " << ends[1] << "] names node "
                                      << e << ", outside [0, " << n << ")");
    }
    const int a = static_cast<int>(ends[0]), b = static_cast<int>(ends[1]);
    SURGE_REQUIRE(a != b, ConfigError, where(path, edge) << "self edge [" << a << ", " << b << "]");
    SURGE_REQUIRE(seen.emplace(std::min(a, b), std::max(a, b)).second, ConfigError,
                  where(path, edge)
                      << "edge [" << a << ", " << b << "] appears twice (edges are undirected)");
    mesh.edges.push_back({a, b});
  }
  return mesh;
}

}  // namespace surge::core
