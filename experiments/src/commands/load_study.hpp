#pragma once
// Resolving a study from its experiment file before anything starts.

#include <string>
#include <vector>

#include "study/study.hpp"

namespace surge::experiments {

// Where the study's server will run: on this machine (surge run, surge resume), or in a batch
// job that surge submit writes (the Slurm commands are then looked up where the job runs, so a
// laptop without Slurm can print the scripts).
enum class StudyHost { here, batch_job };

// Reads and checks everything (configuration, solver keys, buffer parameters, model, the
// launcher) and probes a built-in solver on this process; collective over nothing. Needs a Kokkos
// session. Throws core::ConfigError naming the key.
[[nodiscard]] Study load_study(const YAML::Node& input, const core::ConfigSource& source,
                               StudyHost host = StudyHost::here);
// Reads `file` and applies `overrides` (key=value), then load_study().
[[nodiscard]] Study load_study_file(const std::string& file,
                                    const std::vector<std::string>& overrides,
                                    StudyHost host = StudyHost::here);

}  // namespace surge::experiments
