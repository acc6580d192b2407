#include "study/member_table.hpp"

#include <iterator>

namespace surge::experiments {

MemberTable::MemberTable(const Study& study, std::int64_t draws, std::uint64_t next_id)
    : sampler_(make_sampler(study.cfg.parameters.sampler, study.cfg.parameters.ranges,
                            static_cast<std::uint64_t>(study.cfg.study.seed),
                            study.planned_members())),
      next_id_(next_id),
      n_validation_(static_cast<std::size_t>(study.cfg.parameters.validation_members)),
      n_train_(static_cast<std::size_t>(study.cfg.parameters.train_members)) {
  for (const auto& name : study.range_names) {
    const auto it = study.cfg.parameters.ranges.find(name);
    study_order_.push_back(
        it == study.cfg.parameters.ranges.end()
            ? 0
            : static_cast<std::size_t>(std::distance(study.cfg.parameters.ranges.begin(), it)));
  }
  // The sequence is deterministic for a seed: replaying the draws restores its position.
  for (; draws_ < draws; ++draws_) (void)sampler_->next();
}

MemberRecord MemberTable::draw(MemberRole role) {
  std::lock_guard<std::mutex> lock(mutex_);
  MemberRecord m;
  m.simulation_id = next_id_++;
  m.role = role;
  const std::vector<double> drawn = sampler_->next();
  for (const std::size_t k : study_order_) m.parameters.push_back(drawn.at(k));
  ++draws_;
  return m;
}

std::vector<MemberRecord> MemberTable::initial() {
  std::vector<MemberRecord> members;
  for (std::size_t i = 0; i < n_validation_; ++i) members.push_back(draw(MemberRole::validation));
  for (std::size_t i = 0; i < n_train_; ++i) members.push_back(draw(MemberRole::train));
  return members;
}

std::int64_t MemberTable::draws() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return draws_;
}
std::uint64_t MemberTable::next_id() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return next_id_;
}

}  // namespace surge::experiments
