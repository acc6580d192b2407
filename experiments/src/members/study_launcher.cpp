#include "members/study_launcher.hpp"

#include "members/member_commands.hpp"
#include "members/slurm_scripts.hpp"
#include "surge/core/log.hpp"
#include "surge/experiments/slurm_launcher.hpp"

namespace surge::experiments {

std::unique_ptr<Launcher> make_launcher(const Study& study, std::vector<MemberRecord> members,
                                        const std::string& front_endpoint,
                                        Launcher::SilenceOf silence, Launcher::Redraw redraw,
                                        LocalLauncher::Hooks hooks) {
  const std::string surge_exe = self_executable();
  const std::string log_dir = (study.out_dir / "logs").string();
  if (study.slurm && study.slurm->mode == "jobs") {
    if (front_endpoint.rfind("tcp://127.", 0) == 0) {
      core::Logger("run").warn(
          "the stream is bound to loopback (" + front_endpoint +
          "): only member jobs on this node can reach it; set streaming.front_endpoint and "
          "streaming.data_endpoint to tcp://*:* or tcp://<interface>:*");
    }
    // The member's variables (its ticket among them) are exported by its job script, which is
    // therefore written readable by this user only.
    auto script = [&study, surge_exe, environment = hooks.environment](
                      const MemberRecord& m, int attempt, const std::string& log_file) {
      return member_job_script(study, surge_exe, m, attempt, log_file,
                               environment ? environment(m, attempt) : std::vector<std::string>{});
    };
    return std::make_unique<SlurmJobLauncher>(study.launcher, *study.slurm, study.slurm_commands,
                                              std::move(members), script, std::move(silence),
                                              std::move(redraw), log_dir,
                                              (study.out_dir / "slurm").string(), hooks.delivery);
  }
  // Local members, or job steps of the allocation this server runs in (srun --exact). Local
  // members that call MPI_Init themselves start as surge's programs do; job steps may land on
  // nodes with a fabric this one lacks, and decide there.
  if (!study.slurm) {
    hooks.environment = [inner = std::move(hooks.environment)](const MemberRecord& m, int attempt) {
      return with_local_mpi_environment(inner ? inner(m, attempt) : std::vector<std::string>{});
    };
  }
  auto command = [&study, surge_exe, front_endpoint](const MemberRecord& m, int attempt) {
    return member_command(study, surge_exe, front_endpoint, m, attempt);
  };
  if (study.launcher.simulations_per_member > 1) {
    hooks.worker_command = [&study, surge_exe, front_endpoint] {
      return worker_command(study, surge_exe, front_endpoint);
    };
    hooks.simulation_arguments = [&study](const MemberRecord& m, int attempt) {
      return simulation_arguments(study, m, attempt);
    };
  }
  return std::make_unique<LocalLauncher>(study.launcher, std::move(members), command,
                                         std::move(silence), std::move(redraw), log_dir,
                                         std::move(hooks));
}

}  // namespace surge::experiments
