#pragma once
// What a buffer holds. The buffers are generic over the sample type; `SampleTraits<T>` tells
// them a sample's size in bytes (for the byte bound) and, for the trajectory policy, which
// simulation and time step it belongs to. `Sample` is the (x, y) pair the rest of surge uses.

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace surge::reservoir {

// A training sample: x (inputs) and y (targets) as contiguous float32 arrays, labelled with
// the simulation and time step it was built from.
struct Sample {
  std::int64_t simulation_id = 0;
  std::int64_t step = 0;
  std::vector<float> x, y;
};

// Size and identity of a sample. The primary template counts sizeof(T) bytes and gives no
// trajectory key; specialise it for types that own heap memory. A specialisation that also
// defines `simulation_id(s)` and `step(s)` makes the type usable with the trajectory policy.
template <class T>
struct SampleTraits {
  static std::int64_t bytes(const T& /*sample*/) { return static_cast<std::int64_t>(sizeof(T)); }
};

template <>
struct SampleTraits<Sample> {
  // sizeof(Sample) plus the capacity (not the size) of x and y: what the sample really holds.
  static std::int64_t bytes(const Sample& s) {
    return static_cast<std::int64_t>(sizeof(Sample) +
                                     (s.x.capacity() + s.y.capacity()) * sizeof(float));
  }
  static std::int64_t simulation_id(const Sample& s) { return s.simulation_id; }
  static std::int64_t step(const Sample& s) { return s.step; }
};

// True when SampleTraits<T> names a simulation and a step (the trajectory policy needs both).
template <class T, class = void>
struct has_trajectory_key : std::false_type {};
template <class T>
struct has_trajectory_key<T,
                          std::void_t<decltype(SampleTraits<T>::simulation_id(std::declval<T>())),
                                      decltype(SampleTraits<T>::step(std::declval<T>()))>>
    : std::true_type {};
template <class T>
inline constexpr bool has_trajectory_key_v = has_trajectory_key<T>::value;

// How a buffer checkpoint stores samples of type T in an HDF5 group. Only the buffers'
// save()/load() need it; specialise it for other sample types.
template <class T>
struct SampleCodec;

template <>
struct SampleCodec<Sample> {
  // Writes the samples, in the given order, as datasets of `group` (ids, steps, sizes and the
  // concatenated x and y arrays). Throws core::IoError.
  static void write(hid_t group, const std::vector<const Sample*>& samples);
  // Reads back what write() stored, in the same order. Throws core::IoError if the datasets
  // are missing or inconsistent.
  [[nodiscard]] static std::vector<Sample> read(hid_t group);
};

}  // namespace surge::reservoir
