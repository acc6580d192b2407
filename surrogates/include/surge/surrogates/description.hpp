#pragma once
// What a surrogate maps: named inputs with their ranges (the member's parameters, then t for
// field-from-parameters models), the output channels and their grid. The trainer normalises
// inputs from these ranges, and an exported model stores the description beside its weights.
// Two kinds: field_from_parameters (x = [parameters..., t] -> every channel at t) and
// next_step (state at step k + parameters -> state at step k + stride).

#include <cstdint>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace surge::surrogates {

// One input of the model and the range it is sampled from (the sampler's range for a
// parameter, [0, t_end] for t). Inputs are mapped linearly from [min, max] to [-1, 1]; an
// input with min == max is mapped to 0.
struct InputRange {
  std::string name;
  double min = 0.0;
  double max = 1.0;
};

// A field as the solver streams it: a scalar (1 component) or a vector whose components are
// the last, fastest axis. Each component is one channel of the model, named
// `<name>_x`, `<name>_y`, `<name>_z` (as The Well counts a vector's components).
struct FieldLayout {
  std::string name;
  int components = 1;
};

// Channel names of `layout`, in order: a scalar keeps its name, a vector gets one per component.
[[nodiscard]] std::vector<std::string> channel_names(const std::vector<FieldLayout>& layout);

inline constexpr const char* kFieldFromParameters = "field_from_parameters";
inline constexpr const char* kNextStep = "next_step";

struct IoDescription {
  // Model kind. "field_from_parameters": x = [inputs...] (the parameters, then t),
  // y = every channel at t, channel after channel, each row-major over `grid`.
  // "next_step": x = the parameters, and the state (every channel, as y above) at step k maps
  // to the state at step k + stride.
  std::string kind = kFieldFromParameters;
  std::string solver;               // the solver the data came from ("heat2d"), informative
  std::vector<InputRange> inputs;   // x, in order
  std::vector<std::string> fields;  // the channels of y, in order
  std::vector<FieldLayout> layout;  // the streamed fields behind the channels (empty: scalars)
  std::vector<std::int64_t> grid;   // nodes per axis of every channel (nx, ny)
  std::vector<double> times;        // frame times of a member (t = 0 first, when streamed)
  std::vector<bool> periodic;       // per grid axis (next_step: no padding on periodic axes)
  std::int64_t stride = 1;          // next_step: steps between input and target
  double dt = 0.0;                  // next_step: time between input and target
  bool increment = true;            // next_step: the model predicts the (normalised) increment

  // Length of x.
  [[nodiscard]] std::int64_t input_size() const { return static_cast<std::int64_t>(inputs.size()); }
  // Nodes of one field (product of grid).
  [[nodiscard]] std::int64_t field_size() const;
  // Length of y: fields * field_size().
  [[nodiscard]] std::int64_t output_size() const;
  // Names of the inputs other than a trailing "t".
  [[nodiscard]] std::vector<std::string> parameter_names() const;
  // True when the last input is named "t".
  [[nodiscard]] bool has_time() const;

  // True for next_step models (step / rollout).
  [[nodiscard]] bool is_operator() const { return kind == kNextStep; }
  // True when grid axis `axis` is periodic (false when periodicity is not recorded).
  [[nodiscard]] bool is_periodic(std::size_t axis) const {
    return axis < periodic.size() && periodic[axis];
  }
  // The streamed fields behind the channels (`layout`, or one scalar per channel).
  [[nodiscard]] std::vector<FieldLayout> field_layout() const;

  // Throws core::ConfigError when empty or inconsistent (no inputs for field_from_parameters,
  // no fields, a grid extent < 1, min > max, duplicate names, a layout that does not give
  // the channels).
  void check() const;

  // YAML form stored in surrogate.yaml, and back. from_yaml throws core::ConfigError.
  [[nodiscard]] YAML::Node to_yaml() const;
  [[nodiscard]] static IoDescription from_yaml(const YAML::Node& node);
};

}  // namespace surge::surrogates
