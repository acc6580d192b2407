#pragma once
// Rank 0's member table: the samplers and the next simulation id, from which the launcher's
// members (validation first, then training, then redrawn ones) are drawn. Validation members
// come from a uniform sampler of their own (seeded from study.seed), so that studies with the
// same seed are judged on the same points whatever their training sampler. The table's
// position (and an adaptive sampler's state) is part of a study checkpoint: a resumed study
// draws the same sets it would have.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "study/study.hpp"
#include "surge/experiments/launcher.hpp"
#include "surge/experiments/sampler.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

// Where a table stands, as a study checkpoint keeps it.
struct TablePosition {
  std::int64_t validation_draws = 0;
  std::int64_t train_draws = 0;  // of the training sampler, redraws included
  std::uint64_t next_id = 0;
  std::string sampler_state;  // Sampler::state(), "" where the draws are replayed
};

class MemberTable {
 public:
  // A fresh table.
  explicit MemberTable(const Study& study);
  // A resumed study's table: at `position`, with the members of its checkpoint.
  MemberTable(const Study& study, const TablePosition& position,
              const std::vector<MemberRecord>& members);
  // A new member of `role`: the next id and parameter set. Thread-safe.
  [[nodiscard]] MemberRecord draw(MemberRole role);
  // The next training member of the study's own count (train_members; never exhausted for a
  // continuous study), or none once all are drawn (planned_exhausted()). It never waits for
  // losses: an adaptive sampler breeds from those observed so far. Thread-safe.
  [[nodiscard]] std::optional<MemberRecord> draw_planned();
  // Whether every training member of the study's own count has been drawn (never for a
  // continuous study). Thread-safe.
  [[nodiscard]] bool planned_exhausted() const;
  // The members drawn before the study starts: validation first, then training (all of them,
  // or an adaptive sampler's first generation).
  [[nodiscard]] std::vector<MemberRecord> initial();
  // Whether the training sampler steers by losses (then the study calls observe()).
  [[nodiscard]] bool adaptive() const noexcept { return sampler_->adaptive(); }
  // Hands the training members' statistics to the sampler, from the cumulative table reduced
  // over the server ranks: each member's fresh-loss ratio (surrogates::MemberLoss: its first
  // items' relative L2 errors over their batches' mean, how badly the network did on its
  // samples, as the relative L2 error sees it, before training on them). Members not trained
  // on yet are left out. Thread-safe.
  void observe(const surrogates::MemberLosses& losses);

  [[nodiscard]] TablePosition position() const;

 private:
  MemberTable(const Study& study, std::uint64_t next_id);
  // Keeps a training member's draw (sampler order) for observe().
  void keep_point(std::uint64_t id, const std::vector<double>& point);

  const Study& study_;
  mutable std::mutex mutex_;
  std::unique_ptr<Sampler> sampler_, validation_sampler_;
  // study_order_[k]: where the study's k-th parameter (Study::range_names) is in a draw, which
  // comes in the order of the ranges' names.
  std::vector<std::size_t> study_order_;
  std::int64_t train_draws_ = 0, validation_draws_ = 0;
  std::uint64_t next_id_ = 0;
  std::size_t n_validation_, n_train_;
  std::size_t planned_drawn_ = 0;  // training members of the study's count drawn
  // By simulation id (dense: this table issues them), flat and grown geometrically, so that
  // observe(), on the trainer's thread, allocates nothing per member: whether it is a training
  // member, and its draw (sampler order, scored_.dims values).
  std::vector<char> train_;
  std::vector<double> points_;
  // observe(): the points handed to the sampler (the training members with a statistic).
  ScoredPoints scored_;
};

}  // namespace surge::experiments
