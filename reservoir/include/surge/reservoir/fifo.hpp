#pragma once
// The `fifo` policy: samples are served in arrival order, each exactly once, and removed.
// put() blocks while the buffer is full; after end of reception what is left is drained.

#include <deque>

#include "surge/reservoir/buffer.hpp"

namespace surge::reservoir {

template <class T>
class FifoBuffer final : public Buffer<T> {
 public:
  // Throws nothing; the parameters are validated by make_buffer.
  explicit FifoBuffer(const FifoParameters& params) : Buffer<T>("fifo", params) {}

 private:
  bool make_room(std::int64_t nbytes) override { return this->fits(nbytes); }
  void insert(detail::Slot<T>&& slot) override { slots_.push_back(std::move(slot)); }
  std::int64_t servable() const override { return static_cast<std::int64_t>(slots_.size()); }
  void select(std::int64_t items, Batch<T>& batch) override {
    for (std::int64_t i = 0; i < items; ++i) {
      detail::Slot<T>& slot = slots_.front();
      this->served(slot);
      batch.samples.push_back(std::move(slot.sample));
      this->removed(slot, false);
      slots_.pop_front();
    }
  }
  bool exhausted() const override { return slots_.empty(); }
  std::vector<const detail::Slot<T>*> ordered() const override {
    return detail::slot_pointers(slots_);
  }

  std::deque<detail::Slot<T>> slots_;
};

}  // namespace surge::reservoir
