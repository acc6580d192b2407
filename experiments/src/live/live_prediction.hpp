#pragma once
// What the page shows of the model itself while a study runs: the latest truth / prediction
// image of a validation member and, for next_step models, the rollout error against horizon.
// Computed on the trainer's thread after a validation point (only when the page is on), then
// put on the board.

#include "live/live_state.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

// The rollout error per channel against horizon, as the page draws it.
void set_rollout(LiveState& l, const surrogates::RolloutResult& r);

struct LivePrediction {
  LiveImage image;
  bool has_rollout = false;
  surrogates::RolloutResult rollout;
};

// The first validation member's last frame: predicted from its parameters and time
// (field_from_parameters), or the end of its rollout from the first state (next_step, whose
// whole rollout is returned too). `batch` labels the image. Local; throws what the trainer
// throws.
[[nodiscard]] LivePrediction predict_for_page(const surrogates::Trainer& trainer,
                                              const surrogates::ValidationSet& validation,
                                              const surrogates::IoDescription& io,
                                              std::int64_t batch);

}  // namespace surge::experiments
