#pragma once
// The `firo` policy (first in, random out): each batch takes uniformly random held samples
// and removes them, so every sample is served exactly once but in shuffled order. put()
// blocks while the buffer is full; after end of reception what is left is drained.

#include <vector>

#include "surge/reservoir/buffer.hpp"

namespace surge::reservoir {

template <class T>
class FiroBuffer final : public Buffer<T> {
 public:
  // Throws nothing; the parameters are validated by make_buffer.
  explicit FiroBuffer(const FifoParameters& params) : Buffer<T>("firo", params) {}

 private:
  bool make_room(std::int64_t nbytes) override { return this->fits(nbytes); }
  void insert(detail::Slot<T>&& slot) override { slots_.push_back(std::move(slot)); }
  std::int64_t servable() const override { return static_cast<std::int64_t>(slots_.size()); }
  void select(std::int64_t items, Batch<T>& batch) override {
    for (std::int64_t i = 0; i < items; ++i) {
      // Removing as we draw keeps the batch free of duplicates.
      const auto j = static_cast<std::size_t>(this->uniform(servable()));
      detail::Slot<T>& slot = slots_[j];
      this->served(slot);
      batch.samples.push_back(std::move(slot.sample));
      this->removed(slot, false);
      if (j + 1 != slots_.size()) slots_[j] = std::move(slots_.back());
      slots_.pop_back();
    }
  }
  bool exhausted() const override { return slots_.empty(); }
  std::vector<const detail::Slot<T>*> ordered() const override {
    return detail::slot_pointers(slots_);
  }

  std::vector<detail::Slot<T>> slots_;
};

}  // namespace surge::reservoir
