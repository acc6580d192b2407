#pragma once
// What a member or a persistent worker runs: its command line and environment.

#include <memory>
#include <string>
#include <vector>

#include "study/study.hpp"
#include "surge/experiments/launcher.hpp"

namespace surge::experiments {

// The command line of one attempt of a member: `mpirun -np k surge-solve <solver> key=value
// ... --stream <front>` (with CURVE, the study's key files: study_keys.hpp), `srun --ntasks=k
// ... surge-solve ...` under Slurm, or `mpirun -np k <command...>` for an external solver.
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
// The Slurm job (or job step) name of a member: surge-<study name>-<simulation id>.
[[nodiscard]] std::string slurm_job_name(const Study& study, std::uint64_t simulation_id);

// The variables a member finds its connection in, as "NAME=value": SURGE_MEMBER_TICKET
// (`member_ticket`, when not empty) for every member; for an external solver also
// SURGE_ENDPOINT, SURGE_EXPERIMENT, SURGE_SIMULATION_ID, SURGE_SERVER_TIMEOUT_S, and with CURVE
// SURGE_SERVER_PUBLIC_KEY_FILE, SURGE_CLIENT_PUBLIC_KEY_FILE, SURGE_CLIENT_SECRET_KEY_FILE
// (built-in solvers are told those on their command line).
[[nodiscard]] std::vector<std::string> member_environment(const Study& study,
                                                          const std::string& front_endpoint,
                                                          const MemberRecord& member,
                                                          const std::string& member_ticket = "");

}  // namespace surge::experiments
