#pragma once
// Rank 0's member table: the parameter sampler and the next simulation id, from which the
// launcher's members (validation first, then training, then redrawn ones) are drawn. Its
// position is part of a study checkpoint: a resumed study draws the same sets it would have.

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "study/study.hpp"
#include "surge/experiments/launcher.hpp"
#include "surge/experiments/sampler.hpp"

namespace surge::experiments {

class MemberTable {
 public:
  // A fresh table, `draws` sets already drawn and `next_id` the next simulation id (a resumed
  // study passes its checkpoint's).
  explicit MemberTable(const Study& study, std::int64_t draws = 0, std::uint64_t next_id = 0);
  // A new member of `role`: the next id and parameter set. Thread-safe.
  [[nodiscard]] MemberRecord draw(MemberRole role);
  // The planned members of a fresh study: validation first, then training.
  [[nodiscard]] std::vector<MemberRecord> initial();

  [[nodiscard]] std::int64_t draws() const;
  [[nodiscard]] std::uint64_t next_id() const;

 private:
  mutable std::mutex mutex_;
  std::unique_ptr<Sampler> sampler_;
  // study_order_[k]: where the study's k-th parameter (Study::range_names) is in a draw, which
  // comes in the order of the ranges' names.
  std::vector<std::size_t> study_order_;
  std::int64_t draws_ = 0;
  std::uint64_t next_id_ = 0;
  std::size_t n_validation_, n_train_;
};

}  // namespace surge::experiments
