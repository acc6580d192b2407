#pragma once
// What a surrogate maps: named inputs with their ranges (the member's parameters, then t for
// field-from-parameters models), the output fields and their grid. The trainer normalises
// inputs from these ranges, and an exported model stores the description beside its weights.

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

struct IoDescription {
  // Model kind. "field_from_parameters": x = [inputs...] (the parameters, then t),
  // y = every field at t, field after field, each row-major over `grid`.
  std::string kind = "field_from_parameters";
  std::string solver;               // the solver the data came from ("heat2d"), informative
  std::vector<InputRange> inputs;   // x, in order
  std::vector<std::string> fields;  // y, in order
  std::vector<std::int64_t> grid;   // nodes per axis of every field (nx, ny)
  std::vector<double> times;        // output times of the solver ('surge predict' default)

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

  // Throws core::ConfigError when empty or inconsistent (no inputs, no fields, a grid
  // extent < 1, min > max, duplicate names).
  void check() const;

  // YAML form stored in surrogate.yaml, and back. from_yaml throws core::ConfigError.
  [[nodiscard]] YAML::Node to_yaml() const;
  [[nodiscard]] static IoDescription from_yaml(const YAML::Node& node);
};

}  // namespace surge::surrogates
