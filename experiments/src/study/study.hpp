#pragma once
// A study as `surge run` and `surge resume` resolve it before anything starts (load_study.hpp
// in commands/ reads it): the experiment checked, what the solver streams (parameters, fields,
// grid, frame times), the description every trainer replica and the export share, the
// launcher's settings. Nothing here starts a process or binds a socket.

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
#include "surge/experiments/slurm_launcher.hpp"
#include "surge/reservoir/buffer.hpp"
#include "surge/reservoir/sample.hpp"
#include "surge/streaming/config.hpp"
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
  bool on_nodes = false;  // fields on n nodes ([n], carried as n x 1): members announce [n]
  std::string mesh;       // their mesh file, absolute ("" when none is declared)
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
  std::vector<std::string> range_names;  // the study's parameter order (the solver's)
  std::string mpirun;                    // full path ("" when members start with srun)
  std::optional<SlurmConfig> slurm;      // launcher type slurm
  SlurmCommands slurm_commands;          // the ones its mode needs, full paths
  bool next_step = false;
  [[nodiscard]] std::size_t planned_members() const {
    return static_cast<std::size_t>(cfg.parameters.validation_members +
                                    cfg.parameters.train_members);
  }
};

// A fresh buffer of the study's policy (its factory checks the parameters).
[[nodiscard]] std::unique_ptr<reservoir::Buffer<reservoir::Sample>> make_buffer(const Study& study);
// A fresh buffer of `reservoir` (type and parameters); with a next_step `model` it must be a
// trajectory buffer whose window is training.rollout_steps + 1. Throws core::ConfigError.
[[nodiscard]] std::unique_ptr<reservoir::Buffer<reservoir::Sample>> make_buffer(
    const core::Pluggable& reservoir, const core::Pluggable& model,
    const surrogates::TrainingConfig& training, const core::ConfigSource& source);

// The file in the output directory where rank 0 writes the server's handshake endpoint once
// it is bound: member jobs read it when they start.
inline constexpr const char* kEndpointFile = "server_endpoint";

// Makes the output directory of a fresh study ready: absent or empty, or reused with
// `overwrite` (rank 0 then removes what an earlier study left). Throws core::ConfigError
// naming study.output_dir.
void prepare_output_dir(const std::filesystem::path& out_dir, bool overwrite, int rank);

// The full path of the running executable (/proc/self/exe). Throws core::IoError.
[[nodiscard]] std::string self_executable();

}  // namespace surge::experiments
