#pragma once
// The bound of bench_operators' graph network: MeshGraphNets (Pfaff et al. 2021) written the
// plain way, as a PyTorch user would (torch.cat of edge, sender and receiver latents, one
// index_select per endpoint, index_add_ for the sum of messages), with the same layers,
// sizes and graph as surge's graph network, and no surge code in its forward pass.

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "graph.hpp"

namespace surge::bench {

class PlainGraphNet : public torch::nn::Module {
 public:
  PlainGraphNet(std::int64_t in_channels, std::int64_t out_channels, std::int64_t latent, int steps,
                const surrogates::detail::Graph& graph)
      : out_channels_(out_channels) {
    senders_ = graph.senders.to(torch::kInt64);
    receivers_ = graph.receivers.to(torch::kInt64);
    const torch::Tensor d = graph.edge_vectors.to(torch::kFloat);
    const torch::Tensor length = d.norm(2, 1, true);
    edge_features_ = torch::cat({d, length}, 1) / length.mean();
    node_type_ =
        torch::one_hot(graph.node_type.to(torch::kInt64), graph.node_types).to(torch::kFloat);
    node_encoder_ =
        register_module("node_encoder", mlp(in_channels + graph.node_types, latent, latent, true));
    edge_encoder_ = register_module("edge_encoder", mlp(3, latent, latent, true));
    for (int k = 0; k < steps; ++k) {
      edge_mlps_.push_back(
          register_module("edge" + std::to_string(k), mlp(3 * latent, latent, latent, true)));
      node_mlps_.push_back(
          register_module("node" + std::to_string(k), mlp(2 * latent, latent, latent, true)));
    }
    decoder_ = register_module("decoder", mlp(latent, latent, out_channels, false));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const std::int64_t batch = x.size(0), nodes = node_type_.size(0);
    const torch::Tensor features =
        torch::cat(
            {x.flatten(2).transpose(1, 2), node_type_.expand({batch, nodes, node_type_.size(1)})},
            2)
            .reshape({batch * nodes, -1});
    torch::Tensor v = node_encoder_->forward(features);
    torch::Tensor e = edge_encoder_->forward(edge_features_).repeat({batch, 1});
    const torch::Tensor offsets = torch::arange(batch, senders_.options()).mul_(nodes).unsqueeze(1);
    const torch::Tensor s = (senders_.unsqueeze(0) + offsets).view(-1);
    const torch::Tensor r = (receivers_.unsqueeze(0) + offsets).view(-1);
    for (std::size_t k = 0; k < edge_mlps_.size(); ++k) {
      const torch::Tensor m =
          edge_mlps_[k]->forward(torch::cat({e, v.index_select(0, s), v.index_select(0, r)}, 1));
      const torch::Tensor sum = torch::zeros_like(v).index_add_(0, r, m);
      v = v + node_mlps_[k]->forward(torch::cat({v, sum}, 1));
      e = e + m;
    }
    return decoder_->forward(v)
        .view({batch, nodes, out_channels_})
        .transpose(1, 2)
        .reshape({batch, out_channels_, x.size(2), x.size(3)});
  }

 private:
  // Linear, ReLU, Linear, ReLU, Linear [, LayerNorm]: two hidden layers, as surge's default.
  static torch::nn::Sequential mlp(std::int64_t in, std::int64_t hidden, std::int64_t out,
                                   bool layer_norm) {
    torch::nn::Sequential m(torch::nn::Linear(in, hidden), torch::nn::ReLU(),
                            torch::nn::Linear(hidden, hidden), torch::nn::ReLU(),
                            torch::nn::Linear(hidden, out));
    if (layer_norm) m->push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({out})));
    return m;
  }

  std::int64_t out_channels_;
  torch::Tensor senders_, receivers_, edge_features_, node_type_;
  torch::nn::Sequential node_encoder_{nullptr}, edge_encoder_{nullptr}, decoder_{nullptr};
  std::vector<torch::nn::Sequential> edge_mlps_, node_mlps_;
};

}  // namespace surge::bench
