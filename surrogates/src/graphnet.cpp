// The graph network: its MLPs, the message-passing block, encode-process-decode, the factory.
#include "graphnet.hpp"

#include <filesystem>

#include "surge/core/error.hpp"

namespace surge::surrogates::detail {

GraphNetParameters read_graphnet_parameters(const YAML::Node& parameters,
                                            const core::ConfigSource& source,
                                            const std::string& path) {
  return core::read_config<GraphNetParameters>(parameters, source, path);
}

namespace {

// in -> hidden_layers x (Linear(latent), activation) -> Linear(out) [-> LayerNorm], as in
// DeepMind's EncodeProcessDecode._make_mlp.
torch::nn::Sequential make_mlp(std::int64_t in, std::int64_t latent, int hidden_layers,
                               std::int64_t out, const std::string& activation, bool layer_norm) {
  using torch::nn::Linear;
  torch::nn::Sequential mlp;
  for (int l = 0; l < hidden_layers; ++l) {
    mlp->push_back(Linear(l == 0 ? in : latent, latent));
    if (activation == "relu")
      mlp->push_back(torch::nn::ReLU());
    else if (activation == "silu")
      mlp->push_back(torch::nn::SiLU());
    else if (activation == "gelu")
      mlp->push_back(torch::nn::GELU());
    else if (activation == "tanh")
      mlp->push_back(torch::nn::Tanh());
    else
      SURGE_THROW(ConfigError, "unknown graph network activation '" << activation << "'");
  }
  mlp->push_back(Linear(hidden_layers > 0 ? latent : in, out));
  if (layer_norm) mlp->push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({out})));
  return mlp;
}

}  // namespace

// ---- GraphNetBlock ----

GraphNetBlock::GraphNetBlock(std::int64_t latent, int mlp_layers, const std::string& activation) {
  edge_mlp_ = register_module("edge_mlp",
                              make_mlp(3 * latent, latent, mlp_layers, latent, activation, true));
  node_mlp_ = register_module("node_mlp",
                              make_mlp(2 * latent, latent, mlp_layers, latent, activation, true));
}

std::pair<torch::Tensor, torch::Tensor> GraphNetBlock::forward(const torch::Tensor& nodes,
                                                               const torch::Tensor& edges,
                                                               const EdgeIndex& graph) {
  // f_e's first layer, split: [e | v_s | v_r] W^T + b = (e W_e^T + b) + (v W_s^T)[s] +
  // (v W_r^T)[r], with the node products for both endpoints in one matrix product.
  const auto first = edge_mlp_->ptr<torch::nn::LinearImpl>(0);
  const std::int64_t latent = edges.size(1);
  const torch::Tensor& w = first->weight;  // [latent, 3 latent]
  const torch::Tensor edge_part = torch::addmm(first->bias, edges, w.narrow(1, 0, latent).t());
  const torch::Tensor node_part = torch::mm(
      nodes, torch::cat({w.narrow(1, latent, latent).t(), w.narrow(1, 2 * latent, latent).t()}, 1));
  torch::Tensor messages = edge_input(edge_part, node_part, graph);
  for (auto layer = edge_mlp_->begin() + 1; layer != edge_mlp_->end(); ++layer)
    messages = layer->forward(messages);
  const torch::Tensor update =
      node_mlp_->forward(torch::cat({nodes, sum_at_receivers(messages, graph)}, 1));
  // The sum uses the updated edges, the residuals the old latents (DeepMind's GraphNetBlock).
  return {nodes + update, edges + messages};
}

// ---- GraphNet ----

GraphNet::GraphNet(const GraphNetParameters& p, std::int64_t in_channels, std::int64_t out_channels,
                   const Graph& graph)
    : in_channels_(in_channels), out_channels_(out_channels) {
  SURGE_REQUIRE(in_channels >= 1 && out_channels >= 1, ConfigError,
                "a graph network needs >= 1 input and output channels, got "
                    << in_channels << " and " << out_channels);
  SURGE_REQUIRE(p.latent >= 1 && p.message_passing_steps >= 1 && p.mlp_layers >= 1, ConfigError,
                "invalid graph network parameters");
  const std::int64_t edges = graph.senders.numel();
  SURGE_REQUIRE(graph.nodes >= 1 && edges >= 1 && graph.receivers.numel() == edges &&
                    graph.edge_vectors.size(0) == edges && graph.node_type.numel() == graph.nodes,
                ConfigError,
                "a graph network needs a graph of >= 1 node and edge, got "
                    << graph.nodes << " nodes and " << edges << " edges");

  senders_ = register_buffer("senders", graph.senders.to(torch::kInt64).contiguous());
  receivers_ = register_buffer("receivers", graph.receivers.to(torch::kInt64).contiguous());
  index_ = EdgeIndex::build(senders_, receivers_, graph.nodes);
  // MeshGraphNets normalises edge features by running statistics; a fixed graph's features
  // are known up front, and dividing by the mean length keeps them O(1) on any mesh size.
  const torch::Tensor d = graph.edge_vectors.to(torch::kFloat);
  const torch::Tensor length = d.norm(2, 1, true);
  const torch::Tensor scale = length.mean().clamp_min(1e-12);
  edge_features_ = register_buffer("edge_features", torch::cat({d, length}, 1) / scale);
  node_type_ = register_buffer(
      "node_type",
      torch::one_hot(graph.node_type.to(torch::kInt64), graph.node_types).to(torch::kFloat));

  const std::int64_t latent = p.latent;
  node_encoder_ = register_module(
      "node_encoder",
      make_mlp(in_channels + graph.node_types, latent, p.mlp_layers, latent, p.activation, true));
  edge_encoder_ = register_module("edge_encoder",
                                  make_mlp(3, latent, p.mlp_layers, latent, p.activation, true));
  for (int k = 0; k < p.message_passing_steps; ++k) {
    blocks_.push_back(
        register_module("block" + std::to_string(k),
                        std::make_shared<GraphNetBlock>(latent, p.mlp_layers, p.activation)));
  }
  decoder_ = register_module(
      "decoder", make_mlp(latent, latent, p.mlp_layers, out_channels, p.activation, false));
}

torch::Tensor GraphNet::forward(const torch::Tensor& x) {
  const std::int64_t nodes = node_type_.size(0);
  SURGE_REQUIRE(
      x.dim() == 4 && x.size(1) == in_channels_ && x.size(2) * x.size(3) == nodes, ConfigError,
      "a graph network on " << nodes << " nodes expects [batch, " << in_channels_
                            << ", nx, ny] with nx * ny = " << nodes << ", got " << x.sizes());
  const std::int64_t batch = x.size(0), nx = x.size(2), ny = x.size(3);
  const std::int64_t types = node_type_.size(1);

  // Node features [batch * nodes, in + types], node b * nodes + i for grid point i of input b.
  const torch::Tensor features =
      torch::cat({x.flatten(2).transpose(1, 2), node_type_.expand({batch, nodes, types})}, 2)
          .view({batch * nodes, in_channels_ + types});
  torch::Tensor v = node_encoder_->forward(features);
  // Every copy of the graph has the same edges: encode them once, tile the latents.
  torch::Tensor e = edge_encoder_->forward(edge_features_).repeat({batch, 1});
  for (const auto& block : blocks_) std::tie(v, e) = block->forward(v, e, index_);
  return decoder_->forward(v)
      .view({batch, nodes, out_channels_})
      .transpose(1, 2)
      .reshape({batch, out_channels_, nx, ny});
}

void GraphNet::load(torch::serialize::InputArchive& archive) {
  Model::load(archive);
  index_ = EdgeIndex::build(senders_, receivers_, node_type_.size(0));
}

std::unique_ptr<Model> make_graphnet(const GraphNetParameters& p, std::int64_t in_channels,
                                     std::int64_t out_channels, std::int64_t nx, std::int64_t ny,
                                     bool periodic_x, bool periodic_y,
                                     const std::string& base_dir) {
  if (p.mesh.empty()) {
    return std::make_unique<GraphNet>(p, in_channels, out_channels,
                                      grid_graph(nx, ny, periodic_x, periodic_y));
  }
  std::filesystem::path path(p.mesh);
  if (path.is_relative() && !base_dir.empty()) path = std::filesystem::path(base_dir) / path;
  const Graph graph = read_mesh(path.string());
  SURGE_REQUIRE(graph.nodes == nx * ny, ConfigError,
                "mesh '" << path.string() << "' has " << graph.nodes << " nodes, but the grid has "
                         << nx << " x " << ny << " = " << nx * ny
                         << " (a mesh of N nodes is carried as a grid of N x 1)");
  return std::make_unique<GraphNet>(p, in_channels, out_channels, graph);
}

}  // namespace surge::surrogates::detail
