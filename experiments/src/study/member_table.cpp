#include "study/member_table.hpp"

#include <algorithm>
#include <iterator>

namespace surge::experiments {

namespace {
// The validation sampler's seed: another stream than the training sampler's.
constexpr std::uint64_t kValidationStream = 0x9e3779b97f4a7c15ULL;
// Members whose tables are reserved up front (or the planned count if larger).
constexpr std::size_t kReservedMembers = 1024;
}  // namespace

MemberTable::MemberTable(const Study& study, std::uint64_t next_id)
    : study_(study),
      sampler_(make_sampler(study.cfg.parameters.sampler, study.cfg.parameters.ranges,
                            static_cast<std::uint64_t>(study.cfg.study.seed),
                            static_cast<std::size_t>(study.cfg.parameters.train_members))),
      validation_sampler_(
          make_sampler({"uniform", YAML::Node(YAML::NodeType::Map)}, study.cfg.parameters.ranges,
                       static_cast<std::uint64_t>(study.cfg.study.seed) ^ kValidationStream, 0)),
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
  scored_.dims = study.cfg.parameters.ranges.size();
  const std::size_t ahead = std::max(kReservedMembers, n_validation_ + n_train_);
  points_.reserve(ahead * scored_.dims);
  train_.reserve(ahead);
  scored_.points.reserve(ahead * scored_.dims);
  scored_.losses.reserve(ahead);
}

MemberTable::MemberTable(const Study& study) : MemberTable(study, 0) {}

MemberTable::MemberTable(const Study& study, const TablePosition& position,
                         const std::vector<MemberRecord>& members)
    : MemberTable(study, position.next_id) {
  // Fixed samplers are deterministic for a seed: replaying the draws restores their position.
  for (; validation_draws_ < position.validation_draws; ++validation_draws_)
    (void)validation_sampler_->next();
  if (position.sampler_state.empty()) {
    for (; train_draws_ < position.train_draws; ++train_draws_) (void)sampler_->next();
  } else {
    sampler_->restore(position.sampler_state);
    train_draws_ = position.train_draws;
  }
  for (const auto& m : members) {
    if (m.role != MemberRole::train) continue;
    // A redrawn member was replaced by another of the count; every other one is of it.
    if (m.status != MemberStatus::redrawn) ++planned_drawn_;
    std::vector<double> point(scored_.dims);
    for (std::size_t k = 0; k < study_order_.size() && k < m.parameters.size(); ++k)
      point.at(study_order_[k]) = m.parameters[k];
    keep_point(m.simulation_id, point);
  }
}

void MemberTable::keep_point(std::uint64_t id, const std::vector<double>& point) {
  // Ids past the dense range (only a corrupt checkpoint's) are not kept: the sampler does not
  // hear of those members.
  if (id >= static_cast<std::uint64_t>(surrogates::MemberLosses::kDenseIds)) return;
  const auto i = static_cast<std::size_t>(id);
  if (i >= train_.size()) {
    // Geometric growth (std::vector's), reserved ahead for the planned members.
    train_.resize(i + 1, 0);
    points_.resize((i + 1) * scored_.dims, 0.0);
  }
  train_[i] = 1;
  std::copy(point.begin(), point.end(),
            points_.begin() + static_cast<std::ptrdiff_t>(i * scored_.dims));
}

MemberRecord MemberTable::draw(MemberRole role) {
  std::lock_guard<std::mutex> lock(mutex_);
  MemberRecord m;
  m.simulation_id = next_id_++;
  m.role = role;
  const bool train = role == MemberRole::train;
  const std::vector<double> drawn = train ? sampler_->next() : validation_sampler_->next();
  for (const std::size_t k : study_order_) m.parameters.push_back(drawn.at(k));
  if (train) {
    ++train_draws_;
    keep_point(m.simulation_id, drawn);
  } else {
    ++validation_draws_;
  }
  return m;
}

std::optional<MemberRecord> MemberTable::draw_planned() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!study_.cfg.parameters.continuous && planned_drawn_ >= n_train_) return std::nullopt;
    // Never waits for losses: a slot left empty is a member fewer in the same batches, and
    // an adaptive sampler's generation is bred from what is known when it starts.
    ++planned_drawn_;
  }
  return draw(MemberRole::train);
}

bool MemberTable::planned_exhausted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !study_.cfg.parameters.continuous && planned_drawn_ >= n_train_;
}

std::vector<MemberRecord> MemberTable::initial() {
  std::vector<MemberRecord> members;
  for (std::size_t i = 0; i < n_validation_; ++i) members.push_back(draw(MemberRole::validation));
  const std::size_t g = sampler_->generation();
  const std::size_t first = g > 0 ? std::min(g, n_train_) : n_train_;
  for (std::size_t i = 0; i < first; ++i) members.push_back(*draw_planned());
  return members;
}

void MemberTable::observe(const surrogates::MemberLosses& losses) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Refilled in place: nothing is allocated per member here.
  scored_.clear();
  losses.for_each([&](std::int64_t id, const surrogates::MemberLoss& loss) {
    const auto i = static_cast<std::size_t>(id);
    if (id < 0 || i >= train_.size() || train_[i] == 0 || loss.fresh_samples == 0) return;
    scored_.add(&points_[i * scored_.dims], loss.fresh_ratio());
  });
  sampler_->observe(scored_);
}

TablePosition MemberTable::position() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {validation_draws_, train_draws_, next_id_, sampler_->state()};
}

}  // namespace surge::experiments
