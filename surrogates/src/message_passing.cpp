// The sparse operations of message passing (message_passing.hpp): row loops over CSR lists on
// the host, parallel over rows in LibTorch's intra-op pool; other devices and dtypes take the
// index_select / index_add_ formulation.
#include "message_passing.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>

#include "surge/core/error.hpp"

namespace surge::surrogates::detail {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr std::int64_t kGrain = 256;  // rows per parallel task

// out[b N + i, col : col + F] = sum over j in [offsets[i], offsets[i + 1]) of
// in[b E + order[j], 0 : F], for every b and i; `out` rows are `out_width` floats apart.
void segment_sums(const float* in, std::int64_t features, const std::int64_t* order,
                  const std::int64_t* offsets, std::int64_t nodes, std::int64_t edges,
                  std::int64_t batch, float* out, std::int64_t out_width, std::int64_t col) {
  at::parallel_for(0, batch * nodes, kGrain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t row = begin; row < end; ++row) {
      const std::int64_t b = row / nodes, i = row % nodes;
      float* o = out + row * out_width + col;
      std::fill(o, o + features, 0.0f);
      for (std::int64_t j = offsets[i]; j < offsets[i + 1]; ++j) {
        const float* src = in + (b * edges + order[j]) * features;
        for (std::int64_t f = 0; f < features; ++f) o[f] += src[f];
      }
    }
  });
}

std::int64_t batch_of(const torch::Tensor& rows, std::int64_t per_graph, const char* what) {
  SURGE_REQUIRE(rows.dim() == 2 && per_graph > 0 && rows.size(0) % per_graph == 0, ConfigError,
                what << " has " << rows.sizes() << " rows, not a multiple of " << per_graph);
  return rows.size(0) / per_graph;
}

bool on_host_float(const torch::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == torch::kFloat;
}

// The batch's senders (or receivers) as global node indices: graph b's node i is b N + i.
torch::Tensor tiled(const torch::Tensor& index, std::int64_t batch, std::int64_t nodes) {
  const torch::Tensor offsets = torch::arange(batch, index.options()).mul_(nodes).unsqueeze(1);
  return (index.unsqueeze(0) + offsets).view(-1);
}

struct EdgeInputFunction : torch::autograd::Function<EdgeInputFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& edge_part,
                               const torch::Tensor& node_part, const EdgeIndex& g) {
    const torch::Tensor c = edge_part.contiguous(), a = node_part.contiguous();
    const std::int64_t f = c.size(1), batch = batch_of(c, g.edges, "edge_input's edges");
    SURGE_REQUIRE(a.size(0) == batch * g.nodes && a.size(1) == 2 * f, ConfigError,
                  "edge_input: node part " << a.sizes() << " for " << batch << " graphs of "
                                           << g.nodes << " nodes and " << f << " features");
    torch::Tensor out = torch::empty_like(c);
    const float* cp = c.data_ptr<float>();
    const float* ap = a.data_ptr<float>();
    const std::int64_t* s = g.senders.data_ptr<std::int64_t>();
    const std::int64_t* r = g.receivers.data_ptr<std::int64_t>();
    float* o = out.data_ptr<float>();
    const std::int64_t nodes = g.nodes, edges = g.edges;
    at::parallel_for(0, batch * edges, kGrain, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t row = begin; row < end; ++row) {
        const std::int64_t b = row / edges, k = row % edges;
        const float* cs = cp + row * f;
        const float* as = ap + (b * nodes + s[k]) * 2 * f;
        const float* ar = ap + (b * nodes + r[k]) * 2 * f + f;
        float* os = o + row * f;
        for (std::int64_t j = 0; j < f; ++j) os[j] = cs[j] + as[j] + ar[j];
      }
    });
    ctx->saved_data["by_sender"] = g.by_sender;
    ctx->saved_data["sender_offsets"] = g.sender_offsets;
    ctx->saved_data["by_receiver"] = g.by_receiver;
    ctx->saved_data["receiver_offsets"] = g.receiver_offsets;
    ctx->saved_data["nodes"] = nodes;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const torch::Tensor g = grads[0].contiguous();
    const std::int64_t nodes = ctx->saved_data["nodes"].toInt();
    const torch::Tensor by_sender = ctx->saved_data["by_sender"].toTensor();
    const torch::Tensor by_receiver = ctx->saved_data["by_receiver"].toTensor();
    const std::int64_t edges = by_sender.numel(), f = g.size(1), batch = g.size(0) / edges;
    torch::Tensor node_grad = torch::empty({batch * nodes, 2 * f}, g.options());
    segment_sums(g.data_ptr<float>(), f, by_sender.data_ptr<std::int64_t>(),
                 ctx->saved_data["sender_offsets"].toTensor().data_ptr<std::int64_t>(), nodes,
                 edges, batch, node_grad.data_ptr<float>(), 2 * f, 0);
    segment_sums(g.data_ptr<float>(), f, by_receiver.data_ptr<std::int64_t>(),
                 ctx->saved_data["receiver_offsets"].toTensor().data_ptr<std::int64_t>(), nodes,
                 edges, batch, node_grad.data_ptr<float>(), 2 * f, f);
    return {g, node_grad, torch::Tensor()};
  }
};

struct SumAtReceiversFunction : torch::autograd::Function<SumAtReceiversFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& messages,
                               const EdgeIndex& g) {
    const torch::Tensor m = messages.contiguous();
    const std::int64_t f = m.size(1), batch = batch_of(m, g.edges, "sum_at_receivers' messages");
    torch::Tensor out = torch::empty({batch * g.nodes, f}, m.options());
    segment_sums(m.data_ptr<float>(), f, g.by_receiver.data_ptr<std::int64_t>(),
                 g.receiver_offsets.data_ptr<std::int64_t>(), g.nodes, g.edges, batch,
                 out.data_ptr<float>(), f, 0);
    ctx->saved_data["receivers"] = g.receivers;
    ctx->saved_data["nodes"] = g.nodes;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    // d m_i / d messages_k = 1 where r(k) = i: each message's gradient is its receiver's.
    const torch::Tensor g = grads[0].contiguous();
    const torch::Tensor receivers = ctx->saved_data["receivers"].toTensor();
    const std::int64_t nodes = ctx->saved_data["nodes"].toInt();
    const std::int64_t edges = receivers.numel(), f = g.size(1), batch = g.size(0) / nodes;
    torch::Tensor out = torch::empty({batch * edges, f}, g.options());
    const float* gp = g.data_ptr<float>();
    const std::int64_t* r = receivers.data_ptr<std::int64_t>();
    float* o = out.data_ptr<float>();
    at::parallel_for(0, batch * edges, kGrain, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t row = begin; row < end; ++row) {
        const std::int64_t b = row / edges, k = row % edges;
        std::memcpy(o + row * f, gp + (b * nodes + r[k]) * f,
                    static_cast<std::size_t>(f) * sizeof(float));
      }
    });
    return {out, torch::Tensor()};
  }
};

}  // namespace

EdgeIndex EdgeIndex::build(const torch::Tensor& senders, const torch::Tensor& receivers,
                           std::int64_t nodes) {
  SURGE_REQUIRE(senders.dim() == 1 && receivers.sizes() == senders.sizes() && nodes >= 1,
                ConfigError,
                "an edge index needs senders and receivers [E], got " << senders.sizes() << " and "
                                                                      << receivers.sizes());
  EdgeIndex g;
  g.senders = senders.to(torch::kCPU, torch::kInt64).contiguous();
  g.receivers = receivers.to(torch::kCPU, torch::kInt64).contiguous();
  g.nodes = nodes;
  g.edges = senders.numel();
  SURGE_REQUIRE(g.edges == 0 || (g.senders.min().item<std::int64_t>() >= 0 &&
                                 g.receivers.min().item<std::int64_t>() >= 0 &&
                                 g.senders.max().item<std::int64_t>() < nodes &&
                                 g.receivers.max().item<std::int64_t>() < nodes),
                ConfigError, "an edge index has node indices outside [0, " << nodes << ")");
  auto csr = [&](const torch::Tensor& ends, torch::Tensor& order, torch::Tensor& offsets) {
    order = std::get<1>(ends.sort(c10::optional<bool>(true), 0)).contiguous();
    offsets = torch::zeros({nodes + 1}, torch::kInt64);
    offsets.narrow(0, 1, nodes).copy_(torch::bincount(ends, {}, nodes).cumsum(0));
  };
  csr(g.senders, g.by_sender, g.sender_offsets);
  csr(g.receivers, g.by_receiver, g.receiver_offsets);
  return g;
}

torch::Tensor edge_input(const torch::Tensor& edge_part, const torch::Tensor& node_part,
                         const EdgeIndex& graph) {
  if (on_host_float(edge_part) && on_host_float(node_part))
    return EdgeInputFunction::apply(edge_part, node_part, graph);
  const std::int64_t batch = batch_of(edge_part, graph.edges, "edge_input's edges");
  const std::int64_t f = edge_part.size(1);
  const torch::Tensor s = tiled(graph.senders.to(node_part.device()), batch, graph.nodes);
  const torch::Tensor r = tiled(graph.receivers.to(node_part.device()), batch, graph.nodes);
  return edge_part + node_part.narrow(1, 0, f).index_select(0, s) +
         node_part.narrow(1, f, f).index_select(0, r);
}

torch::Tensor sum_at_receivers(const torch::Tensor& messages, const EdgeIndex& graph) {
  if (on_host_float(messages)) return SumAtReceiversFunction::apply(messages, graph);
  const std::int64_t batch = batch_of(messages, graph.edges, "sum_at_receivers' messages");
  const torch::Tensor r = tiled(graph.receivers.to(messages.device()), batch, graph.nodes);
  return torch::zeros({batch * graph.nodes, messages.size(1)}, messages.options())
      .index_add_(0, r, messages);
}

}  // namespace surge::surrogates::detail
