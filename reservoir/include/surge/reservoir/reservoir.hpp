#pragma once
// The `reservoir` policy (Meyer et al., SC'23): batches are drawn uniformly at random without
// removing samples; when the buffer is full an incoming sample replaces a random sample that
// has been served at least once, and if none has, put() blocks. Samples are thus seen a
// variable number of times, the trainer never starves once the watermark is reached, and
// fast producers are throttled (the back-pressure that reaches the solvers).

#include <unordered_set>
#include <vector>

#include "surge/reservoir/buffer.hpp"

namespace surge::reservoir {

template <class T>
class ReservoirBuffer final : public Buffer<T> {
 public:
  // Throws nothing; the parameters are validated by make_buffer.
  explicit ReservoirBuffer(const ReservoirParameters& params)
      : Buffer<T>("reservoir", params), replay_(params) {}

 private:
  bool make_room(std::int64_t nbytes) override {
    // Evict uniformly among the samples already seen (slot.tag is the index in seen_).
    while (!this->fits(nbytes) && !seen_.empty()) {
      const auto k =
          static_cast<std::size_t>(this->uniform(static_cast<std::int64_t>(seen_.size())));
      erase(seen_[k]);
    }
    return this->fits(nbytes);
  }

  void insert(detail::Slot<T>&& slot) override {
    slot.tag = -1;
    slots_.push_back(std::move(slot));
    if (slots_.back().seen > 0) mark_seen(slots_.size() - 1);
  }

  std::int64_t servable() const override { return static_cast<std::int64_t>(slots_.size()); }

  void select(std::int64_t items, Batch<T>& batch) override {
    // Floyd's algorithm: `items` distinct uniform indices in [0, n).
    const auto n = static_cast<std::int64_t>(slots_.size());
    picked_.clear();
    for (std::int64_t j = n - items; j < n; ++j) {
      const std::int64_t t = this->uniform(j + 1);
      const std::int64_t chosen = picked_.insert(t).second ? t : (picked_.insert(j), j);
      detail::Slot<T>& slot = slots_[static_cast<std::size_t>(chosen)];
      this->served(slot);
      if (slot.seen == 1) mark_seen(static_cast<std::size_t>(chosen));
      batch.samples.push_back(slot.sample);
    }
  }

  bool exhausted() const override {
    return this->replay_done(replay_, [this] { return ordered(); });
  }

  std::vector<const detail::Slot<T>*> ordered() const override {
    return detail::slot_pointers(slots_);
  }

  void mark_seen(std::size_t index) {
    slots_[index].tag = static_cast<std::int64_t>(seen_.size());
    seen_.push_back(index);
  }

  // Removes slots_[index] (seen) by moving the last slot into its place.
  void erase(std::size_t index) {
    this->removed(slots_[index], true);
    // Drop it from seen_ the same way.
    const auto pos = static_cast<std::size_t>(slots_[index].tag);
    seen_[pos] = seen_.back();
    slots_[seen_[pos]].tag = static_cast<std::int64_t>(pos);
    seen_.pop_back();
    const std::size_t last = slots_.size() - 1;
    if (index != last) {
      slots_[index] = std::move(slots_[last]);
      if (slots_[index].tag >= 0) seen_[static_cast<std::size_t>(slots_[index].tag)] = index;
    }
    slots_.pop_back();
  }

  const ReplayParameters replay_;
  std::vector<detail::Slot<T>> slots_;
  std::vector<std::size_t> seen_;  // indices in slots_ of the samples served at least once
  std::unordered_set<std::int64_t> picked_;
};

}  // namespace surge::reservoir
