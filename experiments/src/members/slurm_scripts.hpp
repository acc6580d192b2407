#pragma once
// The batch scripts of a study on Slurm (launcher type slurm) and the checks that Slurm
// accepts them before anything starts: a member's job (mode jobs), the server's own job
// (`surge submit`; in mode allocation it is the allocation the members' steps run in).

#include <cstdint>
#include <string>
#include <vector>

#include "study/study.hpp"

namespace surge::experiments {

// `word` as one shell word: itself when it is made of safe characters, else single-quoted.
[[nodiscard]] std::string shell_quote(const std::string& word);

// The sbatch options of a member job ("--ntasks=2", "--partition=cpu", ...).
[[nodiscard]] std::vector<std::string> member_job_options(const Study& study,
                                                          std::uint64_t simulation_id,
                                                          const std::string& log_file);
// The batch script of one attempt of a member (mode jobs): the setup lines, the server's
// endpoint read from <output_dir>/server_endpoint (also exported as SURGE_ENDPOINT, with
// SURGE_EXPERIMENT and SURGE_SIMULATION_ID), then the member's ranks. `environment`
// ("NAME=value", e.g. SURGE_MEMBER_TICKET) is exported first: the script holds a secret, and
// is written readable by its owner only.
[[nodiscard]] std::string member_job_script(const Study& study, const std::string& surge_exe,
                                            const MemberRecord& member, int attempt,
                                            const std::string& log_file,
                                            const std::vector<std::string>& environment = {});

// The sbatch options of the server's job (surge submit).
[[nodiscard]] std::vector<std::string> server_job_options(const Study& study);
// The server's batch script: `surge run <experiment_file> --overwrite`, or `surge resume
// <output_dir>` when a study checkpoint is there (the job was requeued or resubmitted).
[[nodiscard]] std::string server_job_script(const Study& study, const std::string& surge_exe,
                                            const std::string& experiment_file);

// Checks, before anything starts, that Slurm takes the study: mode jobs, that sbatch
// --test-only accepts a member job (and, for surge submit, the server's job); mode
// allocation, that surge run runs inside an allocation (surge submit: that sbatch accepts
// the allocation's job). Throws core::ConfigError naming the key Slurm refuses.
void check_slurm_study(const Study& study, bool submit);
// As check_slurm_study(study, true) for surge submit --dry-run, where a Slurm that does not
// answer (no controller reachable, no configuration) is no error: returns "" when Slurm was
// asked, else one line saying what was not checked and why. Still throws where Slurm answers
// and refuses.
[[nodiscard]] std::string check_slurm_study_if_reachable(const Study& study);

}  // namespace surge::experiments
