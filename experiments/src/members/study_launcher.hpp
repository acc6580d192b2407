#pragma once
// The launcher of a study's members, chosen by its configuration: local processes (one per
// simulation, or persistent workers), Slurm job steps of an allocation, or Slurm batch jobs.

#include <memory>
#include <string>
#include <vector>

#include "study/study.hpp"
#include "surge/experiments/launcher.hpp"

namespace surge::experiments {

// The launcher of the study's members (server rank 0), not started: a LocalLauncher of local
// members or, in Slurm's mode allocation, of job steps; a SlurmJobLauncher in mode jobs.
// `front_endpoint` is the server's handshake endpoint; `hooks` go to a LocalLauncher (member
// environments, the delivery check).
[[nodiscard]] std::unique_ptr<Launcher> make_launcher(
    const Study& study, std::vector<MemberRecord> members, const std::string& front_endpoint,
    Launcher::SilenceOf silence, Launcher::Redraw redraw, LocalLauncher::Hooks hooks = {});
}  // namespace surge::experiments
