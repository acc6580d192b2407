#pragma once
// Library-internal: the graph a graph network passes messages on, built from a solver's grid
// or read from a mesh file, and the sum of incoming messages per node.

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace surge::surrogates::detail {

// Node types of a graph (one-hot inputs of a graph network).
enum NodeType : std::int64_t { kInterior = 0, kBoundary = 1 };

// A directed graph in which every edge's reverse is present. Edge k goes from senders[k] to
// receivers[k]; edge_vectors[k] is the position of the sender relative to the receiver
// (MeshGraphNets' convention), the short way round on periodic axes, so that it need not
// equal positions[senders[k]] - positions[receivers[k]].
struct Graph {
  torch::Tensor senders, receivers;  // int64 [E]
  torch::Tensor edge_vectors;        // float [E, 2]
  torch::Tensor positions;           // float [N, 2]
  torch::Tensor node_type;           // int64 [N]: NodeType
  std::int64_t nodes = 0;
  int node_types = 2;
};

// The nodes of an nx x ny grid, node i * ny + j at (i / (nx - 1), j / (ny - 1)), or i / nx
// along a periodic axis, each joined to its distinct 4-neighbours (wrapping on periodic axes)
// in both directions: no self edges, no duplicates. Boundary nodes are the first and last
// rows (columns) along a wall axis of >= 2 nodes; an axis of one node has no boundary.
// Edges are grouped by receiver, in node order. Throws core::ConfigError for nx or ny < 1.
[[nodiscard]] Graph grid_graph(std::int64_t nx, std::int64_t ny, bool periodic_x, bool periodic_y);

// Reads a mesh file (format in experiments/meshes/README.md):
//   nodes: [[x, y], ...]          # N >= 1 finite positions
//   edges: [[a, b], ...]          # >= 1 undirected edges, 0-based, both directions added
//   node_type: [0, 1, ...]        # optional (default all 0): 0 interior, 1 boundary
// Throws core::IoError if the file cannot be read, core::ConfigError naming the file (and
// line) for malformed YAML, unknown keys, wrong arity, non-finite coordinates, indices out
// of range, self edges, repeated edges or an empty node or edge list.
[[nodiscard]] Graph read_mesh(const std::string& path);

// Sum of the messages [M, F] arriving at each of `nodes` nodes, receivers [M] int64:
// [nodes, F], zero for a node that receives nothing. Differentiable in `messages`.
[[nodiscard]] torch::Tensor aggregate(const torch::Tensor& messages, const torch::Tensor& receivers,
                                      std::int64_t nodes);

}  // namespace surge::surrogates::detail
