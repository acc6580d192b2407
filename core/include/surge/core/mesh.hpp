#pragma once
// An unstructured 2D mesh: node positions, undirected edges and node types, read from the YAML
// format of experiments/meshes/README.md. One reader for the solvers (mesh_heat) and the graph
// network (surrogates/src/graph.cpp turns it into tensors).

#include <array>
#include <string>
#include <vector>

namespace surge::core {

constexpr int kMeshInterior = 0;
constexpr int kMeshBoundary = 1;  // a Dirichlet wall

struct Mesh {
  std::vector<std::array<double, 2>> positions;  // node k at positions[k]
  std::vector<std::array<int, 2>> edges;         // undirected, each listed once, a != b
  std::vector<int> node_type;                    // kMeshInterior or kMeshBoundary, per node

  [[nodiscard]] int nodes() const noexcept { return static_cast<int>(positions.size()); }
};

// Reads a mesh file:
//   nodes: [[x, y], ...]          # N >= 1 finite positions
//   edges: [[a, b], ...]          # >= 1 undirected edges, 0-based
//   node_type: [0, 1, ...]        # optional (default all 0): 0 interior, 1 boundary
// Returns the mesh with edges in file order. Throws core::IoError if the file cannot be read,
// core::ConfigError naming the file (and line) for malformed YAML, unknown keys, wrong arity,
// non-finite coordinates, indices out of range, self edges, repeated edges (either direction)
// or an empty node or edge list: the checks of the graph network's reader.
[[nodiscard]] Mesh read_mesh(const std::string& path);

}  // namespace surge::core
