#pragma once
// A batch handed to the trainer. It shares the samples with the buffer (no copy on the way
// out; the samples are immutable once put), so a batch from a non-removing policy costs a few
// pointer copies; `stack` then writes the contiguous arrays the trainer turns into tensors.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "surge/reservoir/sample.hpp"

namespace surge::reservoir {

template <class T>
struct Batch {
  // items() windows of `window` consecutive samples each, window after window. window is 1
  // except for the trajectory policy (k consecutive steps of one simulation).
  std::vector<std::shared_ptr<const T>> samples;
  std::int64_t window = 1;

  // Number of samples (items() * window).
  [[nodiscard]] std::size_t size() const noexcept { return samples.size(); }
  // Number of items: samples, or windows for the trajectory policy.
  [[nodiscard]] std::int64_t items() const noexcept {
    return static_cast<std::int64_t>(samples.size()) / window;
  }
  // The i-th sample (no bounds check).
  [[nodiscard]] const T& operator[](std::size_t i) const { return *samples[i]; }
};

// Copies the x and y arrays of the batch's samples, in batch order, into row-major
// [size()][nx] and [size()][ny] arrays of x_size and y_size floats (y may be null when
// y_size is 0). Throws core::ProtocolError if the samples differ in x or y length or if
// x_size / y_size are not size() * nx / size() * ny.
void stack(const Batch<Sample>& batch, float* x, std::size_t x_size, float* y, std::size_t y_size);

}  // namespace surge::reservoir
