#include "surge/surrogates/member_losses.hpp"

#include <algorithm>

namespace surge::surrogates {

MemberLosses::MemberLosses() { dense_.reserve(static_cast<std::size_t>(kReservedIds)); }

MemberLoss& MemberLosses::slot(std::int64_t id) {
  if (id < 0 || id >= kDenseIds) return sparse_[id];
  const auto i = static_cast<std::size_t>(id);
  if (i >= dense_.size()) {
    // Geometric growth: a study of N members reallocates O(log N) times.
    if (i >= dense_.capacity())
      dense_.reserve(
          std::min(static_cast<std::size_t>(kDenseIds), std::max(2 * dense_.capacity(), i + 1)));
    dense_.resize(i + 1);
  }
  return dense_[i];
}

void MemberLosses::book(std::int64_t id, double loss, double relative, double batch_relative) {
  MemberLoss& m = slot(id);
  if (m.samples == 0) ++booked_;
  if (m.samples < kFreshItems && batch_relative > 0) {
    m.fresh_samples += 1;
    m.fresh_ratio_sum += relative / batch_relative;
  }
  m.samples += 1;
  m.loss_sum += loss;
}

void MemberLosses::add(std::int64_t id, const MemberLoss& l) {
  if (l.samples <= 0) return;
  MemberLoss& m = slot(id);
  if (m.samples == 0) ++booked_;
  m.samples += l.samples;
  m.loss_sum += l.loss_sum;
  m.fresh_samples += l.fresh_samples;
  m.fresh_ratio_sum += l.fresh_ratio_sum;
}

const MemberLoss* MemberLosses::find(std::int64_t id) const {
  const MemberLoss* m = nullptr;
  if (id >= 0 && id < static_cast<std::int64_t>(dense_.size())) {
    m = &dense_[static_cast<std::size_t>(id)];
  } else {
    const auto it = sparse_.find(id);
    if (it != sparse_.end()) m = &it->second;
  }
  return m != nullptr && m->samples > 0 ? m : nullptr;
}

void MemberLosses::clear() {
  dense_.clear();
  sparse_.clear();
  booked_ = 0;
}

}  // namespace surge::surrogates
