#pragma once
// `solver: {type: external}`: every member is the user's own program (examples/README.md,
// "Bring your own solver"). What a probe tells about a built-in solver is declared in the
// experiment file instead; this reads and checks that declaration and turns it into the
// study's SolverFacts and each member's command line.

#include <filesystem>
#include <string>
#include <vector>

#include "study/study.hpp"
#include "surge/core/config.hpp"
#include "surge/experiments/experiment_config.hpp"
#include "surge/experiments/launcher.hpp"
#include "surge/streaming/protocol.hpp"

namespace surge::experiments {

inline constexpr const char* kExternalSolver = "external";

// The directory of the experiment file (the current one without a file), absolute: relative
// paths in an external solver's command are taken from there.
[[nodiscard]] std::filesystem::path experiment_directory(const core::ConfigSource& source);

// A path as an experiment file gives it: kept when absolute, else taken from `dir` (the
// experiment file's directory); normalised. Every path the file names relative to itself
// (an external program, its mesh, a graph network's mesh) goes through here.
[[nodiscard]] std::string from_experiment_dir(const std::filesystem::path& dir,
                                              const std::string& path);

// `word` with each {experiment_dir} replaced by `dir`; other placeholders kept.
[[nodiscard]] std::string with_experiment_dir(const std::string& word, const std::string& dir);

// Reads solver.parameters of an external solver and checks it against the ensemble: the
// command (its program found as the user's shell would, a relative path from the experiment
// file's directory, and made absolute; {experiment_dir} replaced; every placeholder known), the
// parameters (each with a range or a fixed value, and every range declared), the fields. Throws
// core::ConfigError naming the key.
[[nodiscard]] ExternalSolverConfig read_external_solver(const ExperimentConfig& cfg,
                                                        const core::ConfigSource& source);

// What the members stream: the declared parameters in order, the fields and their grid,
// `outputs` steps `output_dt` apart from t = 0, the periodic axes. Throws core::ConfigError
// for ill-formed fields (no shape, shapes that differ) or periodic axes.
[[nodiscard]] SolverFacts external_solver_facts(const ExternalSolverConfig& solver,
                                                const core::ConfigSource& source);

// The dtype every member must announce (solver.parameters.dtype).
[[nodiscard]] streaming::DType external_dtype(const ExternalSolverConfig& solver);

// The member's program and arguments: `command` with "{name}" replaced by the member's value
// of each parameter (`range_names` gives the order of `member.parameters`) and
// "{simulation_id}" by its id.
[[nodiscard]] std::vector<std::string> external_command(const ExternalSolverConfig& solver,
                                                        const std::vector<std::string>& range_names,
                                                        const MemberRecord& member);

}  // namespace surge::experiments
