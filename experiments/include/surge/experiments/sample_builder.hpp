#pragma once
// Turns streamed fields into training samples for the model kind (ARCHITECTURE.md,
// "Samples"). field-from-parameters (the MLP, Melissa's heat case): x = [parameters..., t],
// y = the fields of that step, concatenated in the configured order.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "surge/reservoir/sample.hpp"
#include "surge/streaming/field.hpp"

namespace surge::experiments {

class FieldFromParameters {
 public:
  // `fields`: the names of the fields that make up y, in order, with their number of
  // values (from the solver's grid).
  explicit FieldFromParameters(std::vector<std::pair<std::string, std::size_t>> fields);

  // Adds one streamed field; returns the sample once every field of its (simulation, step)
  // has arrived. Throws ProtocolError for a field it was not told about or of another size.
  [[nodiscard]] std::optional<reservoir::Sample> add(const streaming::Field& field);
  // Drops what is cached for a simulation (at its end, or when it is abandoned); returns how
  // many incomplete steps were dropped.
  std::size_t forget(std::uint64_t simulation);

  [[nodiscard]] const std::vector<std::string>& fields() const noexcept { return fields_; }

 private:
  std::vector<std::string> fields_;
  std::vector<std::size_t> sizes_, offsets_;  // values per field and where they go in y
  std::size_t total_ = 0;
  // Partially assembled samples, by (simulation, step).
  std::map<std::pair<std::uint64_t, std::int64_t>, std::pair<reservoir::Sample, std::size_t>>
      pending_;
};

}  // namespace surge::experiments
