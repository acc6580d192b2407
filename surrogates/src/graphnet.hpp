#pragma once
// Library-internal: a MeshGraphNets-style graph network (Pfaff et al. 2021, arXiv:2010.03409)
// as a next_step model. The nx * ny grid points are the nodes of a fixed graph (row-major,
// node i * ny + j); an unstructured mesh of N nodes is carried as a grid of N x 1.

#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "graph.hpp"
#include "message_passing.hpp"
#include "model.hpp"
#include "surge/core/config.hpp"

namespace surge::surrogates::detail {

// `parameters:` of a graph network. The paper uses latent 128 and 15 message-passing steps;
// the defaults are sized for online training on a few CPU cores.
struct GraphNetParameters {
  int latent = 64;
  int message_passing_steps = 6;
  int mlp_layers = 2;
  std::string activation = "relu";
  std::string mesh;

  template <class V>
  void visit(V& v) {
    v("latent", latent,
      "width of the node and edge latents and of every hidden layer (Pfaff et al.: 128; the "
      "cost grows as latent^2)",
      core::at_least(1));
    v("message_passing_steps", message_passing_steps,
      "graph-network blocks; each carries information one edge further. 6 cover an explicit "
      "solver's stride of up to 6 steps (CFL: at most one cell per step) at 40 % of the cost of "
      "the paper's 15",
      core::in_range(1, 64));
    v("mlp_layers", mlp_layers, "hidden layers of every MLP (Pfaff et al.: 2)",
      core::in_range(1, 8));
    v("activation", activation, "activation after every hidden layer (Pfaff et al.: relu)",
      core::one_of({"relu", "silu", "gelu", "tanh"}));
    v("mesh", mesh,
      "mesh file whose nodes are the grid's nx * ny points (format: experiments/meshes/"
      "README.md; a relative path is resolved against the experiment file's directory); "
      "empty: the solver's grid, 4-neighbours, wrapping on periodic axes");
  }
};

// Reads a graph network's parameters (defaults filled in). Throws core::ConfigError.
[[nodiscard]] GraphNetParameters read_graphnet_parameters(
    const YAML::Node& parameters, const core::ConfigSource& source = {},
    const std::string& path = "model.parameters");

// One message-passing step with residual updates (Pfaff et al., "Processor"):
//   e'_k = e_k + f_e(e_k, v_s(k), v_r(k)),  v'_i = v_i + f_v(v_i, sum_{k: r(k) = i} f_e(...)),
// f_e and f_v MLPs ending in LayerNorm. f_e's first layer W [e | v_s | v_r] + b is applied
// per part: W_e e + b on the edges, W_s v and W_r v on the nodes (4 times fewer rows than
// edges on a grid), then gathered and summed per edge in one pass (edge_input).
class GraphNetBlock : public torch::nn::Module {
 public:
  GraphNetBlock(std::int64_t latent, int mlp_layers, const std::string& activation);

  // nodes [B V, latent], edges [B E, latent] of B copies of `graph` -> (nodes', edges').
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& nodes,
                                                  const torch::Tensor& edges,
                                                  const EdgeIndex& graph);

 private:
  torch::nn::Sequential edge_mlp_{nullptr}, node_mlp_{nullptr};
};

// Encode (node MLP of the input channels and the one-hot node type; edge MLP of the edge
// vector and its length, divided by the mean edge length), process (message_passing_steps
// blocks), decode (node MLP without LayerNorm). A batch of B inputs is one graph of B
// disjoint copies. The graph is held in buffers: to(device) moves it, save() writes it.
class GraphNet final : public Model {
 public:
  GraphNet(const GraphNetParameters& p, std::int64_t in_channels, std::int64_t out_channels,
           const Graph& graph);

  // x [batch, in_channels, nx, ny] with nx * ny = the graph's nodes -> [batch, out_channels,
  // nx, ny]. Throws core::ConfigError on another shape.
  torch::Tensor forward(const torch::Tensor& x) override;

  [[nodiscard]] std::int64_t nodes() const { return node_type_.size(0); }

  // Module::load, then the edge index of the loaded graph.
  void load(torch::serialize::InputArchive& archive) override;

 private:
  std::int64_t in_channels_, out_channels_;
  torch::Tensor senders_, receivers_;  // buffers, int64 [E]
  torch::Tensor edge_features_;        // buffer [E, 3]: (dx, dy, |d|) / mean |d|
  torch::Tensor node_type_;            // buffer [N, node_types], one-hot
  EdgeIndex index_;                    // senders_ and receivers_ by sender and by receiver
  torch::nn::Sequential node_encoder_{nullptr}, edge_encoder_{nullptr}, decoder_{nullptr};
  std::vector<std::shared_ptr<GraphNetBlock>> blocks_;
};

// The graph network of `p` on the solver's nx x ny grid (p.mesh empty) or on p.mesh (relative
// paths resolved against base_dir), built from the current torch RNG state. Throws
// core::ConfigError if the mesh is invalid or its node count is not nx * ny, core::IoError if
// it cannot be read.
[[nodiscard]] std::unique_ptr<Model> make_graphnet(const GraphNetParameters& p,
                                                   std::int64_t in_channels,
                                                   std::int64_t out_channels, std::int64_t nx,
                                                   std::int64_t ny, bool periodic_x,
                                                   bool periodic_y,
                                                   const std::string& base_dir = "");

}  // namespace surge::surrogates::detail
