#include "live/live_prediction.hpp"

#include <algorithm>
#include <string>

namespace surge::experiments {

void set_rollout(LiveState& l, const surrogates::RolloutResult& r) {
  l.rollout_horizon.assign(r.horizon.begin(), r.horizon.end());
  l.rollout_rel_l2.clear();
  for (const auto& at_horizon : r.metrics) {
    l.rollout_rel_l2.resize(std::max(l.rollout_rel_l2.size(), at_horizon.size()));
    for (std::size_t c = 0; c < at_horizon.size(); ++c)
      l.rollout_rel_l2[c].push_back(at_horizon[c].relative_l2);
  }
}

namespace {

// The last frame of a rollout's first kept member.
LiveImage rollout_image(const surrogates::RolloutResult& r, const surrogates::IoDescription& io) {
  if (r.simulation_id.empty() || r.frames < 1) return {};
  const std::size_t out = static_cast<std::size_t>(io.output_size());
  const std::size_t at = static_cast<std::size_t>(r.frames - 1) * out;
  if (r.truth.size() < at + out || r.prediction.size() < at + out) return {};
  LiveImage image =
      live_image(r.truth.data() + at, r.prediction.data() + at, io.grid, io.fields.size());
  if (image.simulation_id < 0) return image;
  image.simulation_id = r.simulation_id.front();
  image.time = static_cast<double>(r.frames - 1) * io.dt;
  image.label = "rollout of " + std::to_string(r.frames - 1) + " steps";
  return image;
}

// The last frame of the first validation member, predicted from its inputs.
LiveImage predicted_image(const surrogates::Trainer& trainer,
                          const surrogates::ValidationSet& validation,
                          const surrogates::IoDescription& io) {
  if (validation.empty()) return {};
  const std::int64_t id = validation.samples.front().simulation_id;
  const reservoir::Sample* last = nullptr;
  for (const auto& s : validation.samples)
    if (s.simulation_id == id && (last == nullptr || s.step > last->step)) last = &s;
  const auto out = static_cast<std::size_t>(io.output_size());
  if (last->y.size() != out) return {};
  const std::vector<float> y = trainer.predict(last->x, 1);
  LiveImage image = live_image(last->y.data(), y.data(), io.grid, io.fields.size());
  if (image.simulation_id < 0) return image;
  image.simulation_id = id;
  if (last->step >= 0 && static_cast<std::size_t>(last->step) < io.times.size())
    image.time = io.times[static_cast<std::size_t>(last->step)];
  return image;
}

}  // namespace

LivePrediction predict_for_page(const surrogates::Trainer& trainer,
                                const surrogates::ValidationSet& validation,
                                const surrogates::IoDescription& io, std::int64_t batch) {
  LivePrediction p;
  if (io.is_operator()) {
    p.rollout = trainer.rollout(validation, 1);
    p.has_rollout = true;
    p.image = rollout_image(p.rollout, io);
  } else {
    p.image = predicted_image(trainer, validation, io);
  }
  if (p.image.simulation_id >= 0) {
    p.image.label = "model at batch " + std::to_string(batch) +
                    (p.image.label.empty() ? "" : ", " + p.image.label);
  }
  return p;
}

}  // namespace surge::experiments
