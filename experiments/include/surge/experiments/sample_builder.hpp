#pragma once
// Turns streamed fields into training samples for the model kind (docs/ARCHITECTURE.md,
// "Data flow of a study"). y is always the state of one (simulation, step): every channel, channel
// after channel, row-major over the grid, a vector field's components de-interleaved into channels
// of their own (`velocity` [nx, ny, 2] -> velocity_x, velocity_y). x is
//   field-from-parameters (the MLP, Melissa's heat case): [parameters..., t];
//   next-step (FNO): [parameters...], the state at step k + stride being paired with the state
//   at step k by the trajectory buffer's windows (see stride_key).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "surge/reservoir/sample.hpp"
#include "surge/streaming/field.hpp"
#include "surge/surrogates/description.hpp"

namespace surge::experiments {

class SampleBuilder {
 public:
  // `layout`: the streamed fields that make up y, in order, with their components; `nodes`:
  // values per channel (the grid's nodes); `with_time`: append t to x (field-from-parameters).
  // Throws ConfigError for an empty layout.
  SampleBuilder(std::vector<surrogates::FieldLayout> layout, std::size_t nodes, bool with_time);

  // Adds one streamed field; returns the sample once every field of its (simulation, step)
  // has arrived. Throws ProtocolError for a field it was not told about, of another size or
  // shape, or whose parameters differ from those of the step's other fields; the step's
  // partial sample is dropped then.
  [[nodiscard]] std::optional<reservoir::Sample> add(const streaming::Field& field);
  // Drops what is cached for a simulation (at its end, or when it is abandoned); returns how
  // many incomplete steps were dropped.
  std::size_t forget(std::uint64_t simulation);

  // Values of y (channels x nodes).
  [[nodiscard]] std::size_t output_size() const noexcept { return total_; }

 private:
  struct Slot {
    std::string name;
    std::size_t components = 1, offset = 0;  // offset of its first channel in y
  };
  std::vector<Slot> slots_;
  std::size_t nodes_ = 0, total_ = 0;
  bool with_time_ = true;
  // Partially assembled samples, by (simulation, step): the sample and the fields received.
  std::map<std::pair<std::uint64_t, std::int64_t>, std::pair<reservoir::Sample, std::size_t>>
      pending_;
};

// The trajectory buffer pairs consecutive steps of one simulation. For a stride s > 1 a
// next-step sample is filed under simulation id * s + step % s and step step / s: each residue
// class of steps becomes a trajectory of its own whose consecutive steps are s apart, so every
// step still serves as an input and as a target.
void stride_key(reservoir::Sample& sample, std::int64_t stride);

}  // namespace surge::experiments
