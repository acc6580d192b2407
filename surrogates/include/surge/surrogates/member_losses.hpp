#pragma once
// The training loss of each simulation, as the trainer books it batch after batch and a study
// reduces, checkpoints and hands to an adaptive sampler. Kept flat: a study's simulation ids
// are dense (0, 1, 2, ... from its member table), so they index a vector grown geometrically,
// and booking a batch allocates nothing once its ids are within the reserved size. A
// long-lived node per new simulation, allocated between a batch's large temporaries, was what
// fragmented the server's heap (its RSS grew with every member). Torch-free.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <vector>

namespace surge::surrogates {

// The training loss of one simulation's samples, summed over every time one of them was in a
// batch (next_step models: windows starting in it). loss_sum / samples is the mean per-sample
// loss, in the units of TrainingRecord::loss. The first MemberLosses::kFreshItems items
// booked for it (on each rank) also add their relative L2 error divided by their batch's mean
// relative L2 error to fresh_ratio_sum: fresh_ratio_sum / fresh_samples is how much worse than
// the samples trained on at the time the network did on the simulation's samples before it had
// trained on them (a statistic of generalisation, scale-free along the training: the breed
// sampler's). An item's relative L2 error is ||prediction - target|| / ||target|| in physical
// units, the error a study is judged on (metrics.hpp), averaged over the fields: a member whose
// fields are small is as hard for it as for the metric, where the loss, a squared error in
// normalised units, ranks it easy.
struct MemberLoss {
  std::int64_t samples = 0;
  double loss_sum = 0.0;
  std::int64_t fresh_samples = 0;
  double fresh_ratio_sum = 0.0;

  // loss_sum / samples; NaN if none of its samples was trained on.
  [[nodiscard]] double mean_loss() const noexcept {
    return samples > 0 ? loss_sum / static_cast<double>(samples)
                       : std::numeric_limits<double>::quiet_NaN();
  }
  // fresh_ratio_sum / fresh_samples (the fresh-loss ratio); NaN before its first item.
  [[nodiscard]] double fresh_ratio() const noexcept {
    return fresh_samples > 0 ? fresh_ratio_sum / static_cast<double>(fresh_samples)
                             : std::numeric_limits<double>::quiet_NaN();
  }
};

class MemberLosses {
 public:
  // Ids in [0, kDenseIds) index the vector; any other id (negative, or past it: not a member
  // table's) goes to a map, so that no id can make the vector huge.
  static constexpr std::int64_t kDenseIds = std::int64_t{1} << 20;
  // Entries reserved up front: booking allocates nothing until ids reach it.
  static constexpr std::int64_t kReservedIds = 4096;
  // Items of a simulation counted as fresh (MemberLoss::fresh_ratio_sum): about the samples of
  // a member, each one's first time in a batch.
  static constexpr std::int64_t kFreshItems = 8;

  MemberLosses();

  // Books one item of simulation `id` with loss `loss` and relative L2 error `relative`, in a
  // batch whose items' relative L2 errors have the mean `batch_relative`.
  void book(std::int64_t id, double loss, double relative, double batch_relative);
  // Adds the sums `l` (another rank's, a checkpoint's) to simulation `id`'s.
  void add(std::int64_t id, const MemberLoss& l);
  // The entry of `id`, or nullptr where none was booked (samples == 0).
  [[nodiscard]] const MemberLoss* find(std::int64_t id) const;
  // Calls f(id, loss) for every simulation booked (samples > 0): dense ids in increasing
  // order, then the others in increasing order.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < dense_.size(); ++i)
      if (dense_[i].samples > 0) f(static_cast<std::int64_t>(i), dense_[i]);
    for (const auto& [id, l] : sparse_)
      if (l.samples > 0) f(id, l);
  }
  // Simulations booked.
  [[nodiscard]] std::size_t size() const noexcept { return booked_; }
  [[nodiscard]] bool empty() const noexcept { return booked_ == 0; }
  // Forgets every entry; keeps the capacity.
  void clear();

 private:
  MemberLoss& slot(std::int64_t id);

  std::vector<MemberLoss> dense_;  // by id; samples == 0 where none was booked
  std::map<std::int64_t, MemberLoss> sparse_;
  std::size_t booked_ = 0;
};

}  // namespace surge::surrogates
