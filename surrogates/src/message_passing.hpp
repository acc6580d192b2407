#pragma once
// Library-internal: the two sparse operations of a graph network's message passing, on a batch
// of B disjoint copies of one graph, with their gradients written as sums over each node's
// edges (CSR order) rather than as index_add_, which LibTorch 1.13 runs one row at a time:
//   edge_input:       h_k = c_k + a[s(k)] + b[r(k)]  (the first edge layer, split per endpoint)
//   sum_at_receivers: m_i = sum_{k: r(k) = i} messages_k
// Sums run in edge order for every node, so results do not depend on the thread count.

#include <torch/torch.h>

#include <cstdint>

namespace surge::surrogates::detail {

// A graph's edges indexed both ways: by sender and by receiver (stable orders, CSR offsets).
struct EdgeIndex {
  torch::Tensor senders, receivers;             // int64 [E]
  torch::Tensor by_sender, sender_offsets;      // int64 [E], [N + 1]
  torch::Tensor by_receiver, receiver_offsets;  // int64 [E], [N + 1]
  std::int64_t nodes = 0, edges = 0;

  // From senders and receivers int64 [E] with values in [0, nodes).
  [[nodiscard]] static EdgeIndex build(const torch::Tensor& senders, const torch::Tensor& receivers,
                                       std::int64_t nodes);
};

// h [B E, F] with h[b E + k] = edge_part[b E + k] + node_part[b N + s(k), 0:F] +
// node_part[b N + r(k), F:2F], for edge_part [B E, F] and node_part [B N, 2F] (each node's
// sender half, then its receiver half). Differentiable in both.
[[nodiscard]] torch::Tensor edge_input(const torch::Tensor& edge_part,
                                       const torch::Tensor& node_part, const EdgeIndex& graph);

// [B N, F]: the sum of messages [B E, F] arriving at each node (zero where none arrives).
// Differentiable in messages.
[[nodiscard]] torch::Tensor sum_at_receivers(const torch::Tensor& messages, const EdgeIndex& graph);

}  // namespace surge::surrogates::detail
