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
  std::string mpirun;                    // full path ("" when members start with srun)
  std::optional<SlurmConfig> slurm;      // launcher type slurm
  SlurmCommands slurm_commands;          // the ones its mode needs, full paths
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

// The command line of one attempt of a member: `mpirun -np k surge-solve <solver> key=value
// ... --stream <front>` (with CURVE, the study's key files: study_keys.hpp), `srun --ntasks=k
// ... surge solve ...` under Slurm, or `mpirun -np k <command...>` for an external solver.
[[nodiscard]] std::vector<std::string> member_command(const Study& study,
                                                      const std::string& surge_exe,
                                                      const std::string& front_endpoint,
                                                      const MemberRecord& member, int attempt);
// A persistent worker (launcher.parameters.simulations_per_member > 1): `mpirun -np k
// surge-solve <solver> <shared keys> --stream <front> ... --worker`, which reads its
// simulations on stdin.
[[nodiscard]] std::vector<std::string> worker_command(const Study& study,
                                                      const std::string& surge_exe,
                                                      const std::string& front_endpoint);
// One simulation's arguments on a worker's stdin: its sampled parameters as key=value (and
// the injected crash of launcher.parameters.fail_once_simulation).
[[nodiscard]] std::vector<std::string> simulation_arguments(const Study& study,
                                                            const MemberRecord& member,
                                                            int attempt);
// What runs a built-in solver's member: surge-solve next to `surge_exe` (no LibTorch to load),
// or `surge_exe solve` if there is none.
[[nodiscard]] std::vector<std::string> solve_program(const std::string& surge_exe);
// What starts `ranks` MPI ranks of a member (or of a server under surge submit): `mpirun
// [--allow-run-as-root] <mpirun_args> -np <ranks>`, or `srun --ntasks=<ranks> ...` when
// launcher.parameters.mpi_launcher is srun (with --exact in mode allocation).
[[nodiscard]] std::vector<std::string> ranks_command(const Study& study, int ranks,
                                                     int cpus_per_task, int nodes);
// The launcher of the study's members (server rank 0), not started: a LocalLauncher of local
// members or, in Slurm's mode allocation, of job steps; a SlurmJobLauncher in mode jobs.
// `front_endpoint` is the server's handshake endpoint; `hooks` go to a LocalLauncher (member
// environments, the delivery check).
[[nodiscard]] std::unique_ptr<Launcher> make_launcher(
    const Study& study, std::vector<MemberRecord> members, const std::string& front_endpoint,
    Launcher::SilenceOf silence, Launcher::Redraw redraw, LocalLauncher::Hooks hooks = {});
// The Slurm job (or job step) name of a member: surge-<study name>-<simulation id>.
[[nodiscard]] std::string slurm_job_name(const Study& study, std::uint64_t simulation_id);

// The file in the output directory where rank 0 writes the server's handshake endpoint once
// it is bound: member jobs read it when they start.
inline constexpr const char* kEndpointFile = "server_endpoint";

// Makes the output directory of a fresh study ready: absent or empty, or reused with
// `overwrite` (rank 0 then removes what an earlier study left). Throws core::ConfigError
// naming study.output_dir.
void prepare_output_dir(const std::filesystem::path& out_dir, bool overwrite, int rank);

// The variables a member finds its connection in, as "NAME=value": SURGE_MEMBER_TICKET
// (`member_ticket`, when not empty) for every member; for an external solver also
// SURGE_ENDPOINT, SURGE_EXPERIMENT, SURGE_SIMULATION_ID, SURGE_SERVER_TIMEOUT_S, and with CURVE
// SURGE_SERVER_PUBLIC_KEY_FILE, SURGE_CLIENT_PUBLIC_KEY_FILE, SURGE_CLIENT_SECRET_KEY_FILE
// (built-in solvers are told those on their command line).
[[nodiscard]] std::vector<std::string> member_environment(const Study& study,
                                                          const std::string& front_endpoint,
                                                          const MemberRecord& member,
                                                          const std::string& member_ticket = "");

// What the front must expect of every member of `study` (fields and shapes, dtype for
// built-in solvers, parameter count, ranks).
[[nodiscard]] streaming::MemberExpectations member_expectations(const Study& study);

// The full path of the running executable (/proc/self/exe). Throws core::IoError.
[[nodiscard]] std::string self_executable();

}  // namespace surge::experiments
