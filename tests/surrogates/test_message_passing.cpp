// The sparse operations of message passing (edge_input, sum_at_receivers) against the
// index_select / index_add_ formulation, in values and gradients, on a graph with uneven
// degrees and nodes that send or receive nothing, over a batch of copies and on 1 and 2
// intra-op threads (bit-identical: sums run in edge order).
#include <gtest/gtest.h>

#include "message_passing.hpp"
#include "surge/core/error.hpp"

using namespace surge;
using namespace surge::surrogates::detail;

namespace {

// 9 directed edges on 7 nodes; node 3 sends and receives nothing, node 6 only sends.
const std::vector<std::int64_t> kSenders = {0, 1, 4, 5, 2, 0, 6, 6, 1};
const std::vector<std::int64_t> kReceivers = {2, 2, 2, 0, 1, 4, 5, 5, 0};
constexpr std::int64_t kNodes = 7, kEdges = 9, kBatch = 3, kFeatures = 5;

torch::Tensor tiled(const std::vector<std::int64_t>& index) {
  const auto t = torch::tensor(index);
  return torch::cat({t, t + kNodes, t + 2 * kNodes});
}

struct Result {
  torch::Tensor out, grad_a, grad_b;
};

// Sums of both operations and their gradients for a weighted sum of the outputs.
Result run(bool reference, const torch::Tensor& edge_part, const torch::Tensor& node_part,
           const torch::Tensor& w_edges, const torch::Tensor& w_nodes) {
  const EdgeIndex g = EdgeIndex::build(torch::tensor(kSenders), torch::tensor(kReceivers), kNodes);
  const auto c = edge_part.clone().requires_grad_(true);
  const auto a = node_part.clone().requires_grad_(true);
  torch::Tensor h, m;
  if (reference) {
    h = c + a.narrow(1, 0, kFeatures).index_select(0, tiled(kSenders)) +
        a.narrow(1, kFeatures, kFeatures).index_select(0, tiled(kReceivers));
    m = torch::zeros({kBatch * kNodes, kFeatures}).index_add_(0, tiled(kReceivers), h);
  } else {
    h = edge_input(c, a, g);
    m = sum_at_receivers(h, g);
  }
  ((h * w_edges).sum() + (m * w_nodes).sum()).backward();
  return {torch::cat({h.flatten(), m.flatten()}), c.grad(), a.grad()};
}

TEST(MessagePassing, EqualsIndexSelectAndIndexAddInValuesAndGradients) {
  torch::manual_seed(7);
  const auto edge_part = torch::randn({kBatch * kEdges, kFeatures});
  const auto node_part = torch::randn({kBatch * kNodes, 2 * kFeatures});
  const auto w_edges = torch::randn({kBatch * kEdges, kFeatures});
  const auto w_nodes = torch::randn({kBatch * kNodes, kFeatures});
  const Result want = run(true, edge_part, node_part, w_edges, w_nodes);
  const int threads = torch::get_num_threads();
  std::vector<Result> got;
  for (int t : {1, 2}) {
    torch::set_num_threads(t);
    got.push_back(run(false, edge_part, node_part, w_edges, w_nodes));
  }
  torch::set_num_threads(threads);
  for (const Result& r : got) {
    EXPECT_LT((r.out - want.out).abs().max().item<float>(), 1e-5);
    EXPECT_LT((r.grad_a - want.grad_a).abs().max().item<float>(), 1e-5);
    EXPECT_LT((r.grad_b - want.grad_b).abs().max().item<float>(), 1e-5);
  }
  EXPECT_TRUE(torch::equal(got[0].out, got[1].out));
  EXPECT_TRUE(torch::equal(got[0].grad_b, got[1].grad_b));
  // Node 3 of every copy receives nothing, and nothing flows back to it.
  const auto sums = got[0]
                        .out.narrow(0, kBatch * kEdges * kFeatures, kBatch * kNodes * kFeatures)
                        .view({kBatch, kNodes, kFeatures});
  EXPECT_EQ(sums.select(1, 3).abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(got[0].grad_b.view({kBatch, kNodes, -1}).select(1, 3).abs().sum().item<float>(), 0.0f);
}

TEST(MessagePassing, BadShapesAndIndicesAreConfigErrors) {
  const auto s = torch::tensor(kSenders), r = torch::tensor(kReceivers);
  EXPECT_THROW((void)EdgeIndex::build(s, r.slice(0, 1), kNodes), core::ConfigError);
  EXPECT_THROW((void)EdgeIndex::build(s, r, 6), core::ConfigError);  // node 6 out of range
  const EdgeIndex g = EdgeIndex::build(s, r, kNodes);
  EXPECT_THROW((void)sum_at_receivers(torch::zeros({kEdges + 1, 2}), g), core::ConfigError);
  EXPECT_THROW((void)edge_input(torch::zeros({kEdges, 2}), torch::zeros({kNodes, 2}), g),
               core::ConfigError);
}

}  // namespace
