// Validation of a Trainer: The Well's metrics on held-out samples (one-step pairs for
// next_step models) and autoregressive rollouts of the validation members.
#include <algorithm>
#include <map>
#include <sstream>

#include "trainer_impl.hpp"

namespace surge::surrogates {

namespace {
// Puts a module in eval mode for a scope (validation), then back in training mode.
struct EvalMode {
  torch::nn::Module& module;
  explicit EvalMode(torch::nn::Module& m) : module(m) { module.eval(); }
  ~EvalMode() { module.train(); }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;
};

// The validation samples of each simulation, in step order.
std::map<std::int64_t, std::vector<const reservoir::Sample*>> trajectories(
    const ValidationSet& validation) {
  std::map<std::int64_t, std::vector<const reservoir::Sample*>> out;
  for (const auto& s : validation.samples) out[s.simulation_id].push_back(&s);
  for (auto& [id, steps] : out) {
    std::sort(
        steps.begin(), steps.end(),
        [](const reservoir::Sample* a, const reservoir::Sample* b) { return a->step < b->step; });
  }
  return out;
}
}  // namespace

ValidationRecord Trainer::validate(const ValidationSet& validation) const {
  const Impl& m = *impl_;
  ValidationRecord record;
  record.batch = m.step;
  record.wall_seconds = m.wall();
  if (validation.empty()) return record;
  torch::NoGradGuard no_grad;
  EvalMode eval(*m.model);
  const std::int64_t ny = m.io.output_size();
  std::vector<float> prediction, target;
  double loss_sum = 0.0;
  constexpr std::size_t kChunk = 256;
  if (!m.io.is_operator()) {
    const std::size_t total = validation.samples.size();
    prediction.resize(total * static_cast<std::size_t>(ny));
    target.resize(prediction.size());
    for (std::size_t begin = 0; begin < total; begin += kChunk) {
      const std::size_t end = std::min(total, begin + kChunk);
      torch::Tensor x, y;
      m.stack_validation(validation.samples, begin, end, x, y);
      const torch::Tensor out_n = m.model->forward(m.norm.state.inputs(x));
      loss_sum +=
          torch::mse_loss(out_n, m.norm.state.outputs(y), torch::Reduction::Sum).item<double>();
      const torch::Tensor out = m.norm.state.denormalise(out_n).contiguous();
      std::copy(out.data_ptr<float>(), out.data_ptr<float>() + out.numel(),
                prediction.data() + begin * static_cast<std::size_t>(ny));
      std::copy(y.data_ptr<float>(), y.data_ptr<float>() + y.numel(),
                target.data() + begin * static_cast<std::size_t>(ny));
    }
  } else {
    // One-step pairs (state at k, state at k + stride) of each validation simulation.
    std::vector<const reservoir::Sample*> inputs, targets;
    for (const auto& [id, steps] : trajectories(validation)) {
      std::map<std::int64_t, const reservoir::Sample*> by_step;
      for (const auto* s : steps) by_step[s->step] = s;
      for (const auto* s : steps) {
        const auto it = by_step.find(s->step + m.io.stride);
        if (it == by_step.end()) continue;
        inputs.push_back(s);
        targets.push_back(it->second);
      }
    }
    SURGE_REQUIRE(!inputs.empty(), ProtocolError,
                  "the validation set holds no pair of states " << m.io.stride << " step(s) apart");
    const std::size_t total = inputs.size();
    prediction.resize(total * static_cast<std::size_t>(ny));
    target.resize(prediction.size());
    for (std::size_t begin = 0; begin < total; begin += kChunk) {
      const std::size_t end = std::min(total, begin + kChunk);
      torch::Tensor p, s, p1, s1;
      m.stack_validation(inputs, begin, end, p, s);
      m.stack_validation(targets, begin, end, p1, s1);
      const auto shape = m.state_shape(static_cast<std::int64_t>(end - begin));
      const torch::Tensor next =
          detail::operator_step(*m.model, m.io, m.norm, s.view(shape), p).contiguous();
      loss_sum +=
          detail::operator_error(m.io, m.norm, next, s1.view(shape)).square().sum().item<double>();
      std::copy(next.data_ptr<float>(), next.data_ptr<float>() + next.numel(),
                prediction.data() + begin * static_cast<std::size_t>(ny));
      std::copy(s1.data_ptr<float>(), s1.data_ptr<float>() + s1.numel(),
                target.data() + begin * static_cast<std::size_t>(ny));
    }
  }
  const auto rows = static_cast<std::int64_t>(prediction.size()) / ny;
  record.loss = loss_sum / static_cast<double>(prediction.size());
  record.fields = mean_field_metrics(prediction, target, rows, m.io.fields, m.io.field_size());
  if (core::Logger::rank() == 0) {
    std::ostringstream os;
    os << "validation at batch " << m.step << ": loss " << record.loss;
    for (const auto& f : record.fields)
      os << "; " << f.field << " rel. L2 " << f.relative_l2 << ", NRMSE " << f.nrmse << ", VRMSE "
         << f.vrmse;
    m.log.info(os.str());
  }
  return record;
}

RolloutResult Trainer::rollout(const ValidationSet& validation, int keep_members) const {
  const Impl& m = *impl_;
  SURGE_REQUIRE(m.io.is_operator(), ConfigError,
                "rollouts need a next_step model; this one is " << m.io.kind);
  RolloutResult result;
  // Each member's states stride steps apart from its first step, as far as they are unbroken.
  std::vector<std::vector<const reservoir::Sample*>> paths;
  for (const auto& [id, steps] : trajectories(validation)) {
    std::vector<const reservoir::Sample*> path{steps.front()};
    for (const auto* s : steps) {
      if (s->step == path.back()->step + m.io.stride) path.push_back(s);
    }
    if (path.size() > 1) paths.push_back(std::move(path));
  }
  if (paths.empty()) return result;
  std::size_t length = paths.front().size();
  for (const auto& p : paths) length = std::min(length, p.size());
  const auto members = static_cast<std::int64_t>(paths.size());
  const auto horizons = static_cast<std::int64_t>(length) - 1;
  torch::Tensor p0, s0, truth = torch::empty({members, horizons + 1, m.io.output_size()});
  {
    std::vector<const reservoir::Sample*> first;
    for (const auto& p : paths) first.push_back(p.front());
    m.stack_validation(first, 0, first.size(), p0, s0);
    for (std::int64_t i = 0; i < members; ++i) {
      for (std::int64_t h = 0; h <= horizons; ++h) {
        const auto& y = paths[static_cast<std::size_t>(i)][static_cast<std::size_t>(h)]->y;
        std::copy(y.begin(), y.end(), truth[i][h].data_ptr<float>());
      }
    }
  }
  torch::NoGradGuard no_grad;
  EvalMode eval(*m.model);
  const auto shape = m.state_shape(members);
  std::vector<torch::Tensor> frames{s0.view(shape)};
  for (std::int64_t h = 1; h <= horizons; ++h)
    frames.push_back(detail::operator_step(*m.model, m.io, m.norm, frames.back(), p0));
  const torch::Tensor predicted = torch::stack(frames, 1).reshape(truth.sizes()).contiguous();
  const std::int64_t ny = m.io.output_size();
  for (std::int64_t h = 1; h <= horizons; ++h) {
    std::vector<float> pred(static_cast<std::size_t>(members * ny)), tru(pred.size());
    for (std::int64_t i = 0; i < members; ++i) {
      std::copy_n(predicted[i][h].data_ptr<float>(), ny, pred.data() + i * ny);
      std::copy_n(truth[i][h].data_ptr<float>(), ny, tru.data() + i * ny);
    }
    result.horizon.push_back(h);
    result.time.push_back(static_cast<double>(h) * m.io.dt);
    result.metrics.push_back(
        mean_field_metrics(pred, tru, members, m.io.fields, m.io.field_size()));
  }
  const std::int64_t keep = std::min<std::int64_t>(keep_members, members);
  for (std::int64_t i = 0; i < keep; ++i) {
    result.simulation_id.push_back(paths[static_cast<std::size_t>(i)].front()->simulation_id);
    result.first_step.push_back(paths[static_cast<std::size_t>(i)].front()->step);
  }
  const torch::Tensor kept_truth = truth.narrow(0, 0, keep).contiguous();
  const torch::Tensor kept_pred = predicted.narrow(0, 0, keep).contiguous();
  result.truth.assign(kept_truth.data_ptr<float>(),
                      kept_truth.data_ptr<float>() + kept_truth.numel());
  result.prediction.assign(kept_pred.data_ptr<float>(),
                           kept_pred.data_ptr<float>() + kept_pred.numel());
  result.frames = horizons + 1;
  if (core::Logger::rank() == 0 && horizons > 0) {
    std::ostringstream os;
    os << "rollout of " << members << " validation member(s) over " << horizons
       << " steps: relative L2 at the last step";
    for (const auto& f : result.metrics.back()) os << " " << f.field << " " << f.relative_l2;
    m.log.info(os.str());
  }
  return result;
}

}  // namespace surge::surrogates
