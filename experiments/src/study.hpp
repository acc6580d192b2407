#pragma once
// A study as `surge run` and `surge resume` resolve it before anything starts: the
// experiment file read and checked, the solver probed (parameters, fields, grid, frame
// times) or, for an external solver, its declaration read, the description every trainer
// replica and the export share, and the command line and environment of each member. Nothing here
// starts a process or binds a socket.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "surge/core/config.hpp"
#include "surge/experiments/experiment_config.hpp"
#include "surge/experiments/launcher.hpp"
#include "surge/reservoir/buffer.hpp"
#include "surge/reservoir/sample.hpp"
#include "surge/surrogates/description.hpp"

namespace surge::experiments {

// What the probe member says about the solver: its parameters (with the values of those the
// study does not vary), fields, grid, frame times, periodic axes.
struct SolverFacts {
  std::vector<std::string> parameter_names;
  std::map<std::string, double> defaults;
  std::vector<surrogates::FieldLayout> layout;  // the streamed fields and their components
  std::vector<std::int64_t> grid;
  std::vector<double> times;  // frame times: the initial state, then the outputs
  std::vector<bool> periodic;
};

struct Study {
  YAML::Node input;  // the experiment as given, overrides applied (what a checkpoint keeps)
  core::ConfigSource source;
  ExperimentConfig cfg;  // parameters the study does not vary are fixed ranges (min = max)
  LauncherConfig launcher;
  std::optional<ExternalSolverConfig> external;  // solver type external
  SolverFacts facts;
  surrogates::IoDescription io;
  surrogates::TrainingConfig training;   // checkpoint_dir made absolute
  std::string resolved_text;             // every part with its defaults, as YAML
  std::filesystem::path out_dir;         // absolute
  std::vector<std::string> range_names;  // the order of sampled values (by name)
  std::string mpirun;                    // full path
  bool next_step = false;
  [[nodiscard]] std::size_t planned_members() const {
    return static_cast<std::size_t>(cfg.parameters.validation_members +
                                    cfg.parameters.train_members);
  }
};

// Reads and checks everything (configuration, solver keys, buffer parameters, model, the
// launcher) and probes a built-in solver on this process; collective over nothing. Needs a Kokkos
// session. Throws core::ConfigError naming the key.
[[nodiscard]] Study load_study(const YAML::Node& input, const core::ConfigSource& source);
// Reads `file` and applies `overrides` (key=value), then load_study().
[[nodiscard]] Study load_study_file(const std::string& file,
                                    const std::vector<std::string>& overrides);

// A fresh buffer of the study's policy (its factory checks the parameters).
[[nodiscard]] std::unique_ptr<reservoir::Buffer<reservoir::Sample>> make_buffer(const Study& study);

// The command line of one attempt of a member: `mpirun -np k surge solve <solver> key=value
// ... --stream <front>`, or `mpirun -np k <command...>` for an external solver.
[[nodiscard]] std::vector<std::string> member_command(const Study& study,
                                                      const std::string& surge_exe,
                                                      const std::string& front_endpoint,
                                                      const MemberRecord& member, int attempt);

// The variables a member of an external solver finds its connection in (SURGE_ENDPOINT,
// SURGE_EXPERIMENT, SURGE_SIMULATION_ID, SURGE_SERVER_TIMEOUT_S, and
// SURGE_SERVER_PUBLIC_KEY_FILE with CURVE), as "NAME=value"; none for built-in solvers,
// which are told on their command line.
[[nodiscard]] std::vector<std::string> member_environment(const Study& study,
                                                          const std::string& front_endpoint,
                                                          const MemberRecord& member);

// The full path of the running executable (/proc/self/exe). Throws core::IoError.
[[nodiscard]] std::string self_executable();

}  // namespace surge::experiments
