#pragma once
// Resolving a study from its experiment file before anything starts.

#include <string>
#include <vector>

#include "study/study.hpp"

namespace surge::experiments {

// Reads and checks everything (configuration, solver keys, buffer parameters, model, the
// launcher) and probes a built-in solver on this process; collective over nothing. Needs a Kokkos
// session. Throws core::ConfigError naming the key.
[[nodiscard]] Study load_study(const YAML::Node& input, const core::ConfigSource& source);
// Reads `file` and applies `overrides` (key=value), then load_study().
[[nodiscard]] Study load_study_file(const std::string& file,
                                    const std::vector<std::string>& overrides);

}  // namespace surge::experiments
