// `surge run exp.yaml [key=value ...]` and `surge resume OUTPUT_DIR`: the command lines of a
// streamed study. The study is resolved by load_study.hpp and run by the pipeline
// (pipeline/pipeline.hpp) over the streamed ensemble (online/streamed_source.hpp).
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands/load_study.hpp"
#include "commands/study_options.hpp"
#include "launch/cpu_sets.hpp"
#include "members/slurm_scripts.hpp"
#include "online/streamed_source.hpp"
#include "online/study_checkpoint.hpp"
#include "pipeline/interrupt.hpp"
#include "pipeline/pipeline.hpp"
#include "study/breed_sampler.hpp"
#include "study/member_table.hpp"
#include "study/study.hpp"
#include "surge/core/config.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "surge/experiments/cli.hpp"
#include "surge/experiments/experiment_config.hpp"
#include "surge/experiments/output_checks.hpp"
#include "surge/reservoir/registry.hpp"
#include "surge/solvers/kokkos_aliases.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

namespace {

void print_help() {
  std::printf(
      "usage: surge run <experiment.yaml> [key=value ...] [options]\n"
      "\nRuns one online-training study: starts the ensemble members, streams their fields\n"
      "into the training buffer, trains the surrogate, and writes results.h5, model/ and\n"
      "plots/ into study.output_dir. Keys are documented in experiments/README.md.\n"
      "\noptions:\n"
      "  --dry-run       check everything, print the resolved configuration (and, on Slurm\n"
      "                  in mode jobs, the batch script of the first member), start nothing\n"
      "  --overwrite     reuse an output directory that exists and is not empty\n"
      "  --no-plots      do not call experiments/plot_results.py at the end\n"
      "  --serve[=HOST:PORT]  serve the live page (default 127.0.0.1 and any free port;\n"
      "                  the URL with its token is logged and written to live_url)\n"
      "  --serve-linger S  keep the live page up S seconds after the study ends\n"
      "  --log-level L   debug, info, warn, error, off (default: info)\n"
      "  --help          this text\n"
      "\nexperiment keys:\n%s",
      core::format_key_docs(core::describe_config<ExperimentConfig>()).c_str());
  std::printf("\nparameters.sampler types: halton, lhs, uniform (no parameters)\n");
  std::printf(
      "\nsampler type breed (adaptive: bred from the members whose samples the network did "
      "worst on before training on them), parameters:\n%s",
      core::format_key_docs(core::describe_config<BreedParameters>()).c_str());
  std::printf("\nsolver type external (the user's own program), parameters:\n%s",
              core::format_key_docs(core::describe_config<ExternalSolverConfig>()).c_str());
  std::printf("\nsolver type external, each field <name> of parameters.fields:\n%s",
              core::format_key_docs(core::describe_config<ExternalFieldConfig>()).c_str());
  std::printf("\nlauncher type local, parameters:\n%s",
              core::format_key_docs(core::describe_config<LauncherConfig>()).c_str());
  std::printf("\nlauncher type slurm, parameters: those of type local, and\n%s",
              core::format_key_docs(core::describe_config<SlurmConfig>()).c_str());
  const auto& buffers = reservoir::buffer_registry<reservoir::Sample>();
  for (const auto& name : buffers.names()) {
    const auto& entry = buffers.at(name);
    std::printf("\nreservoir type %s (%s), parameters:\n%s", name.c_str(), entry.summary.c_str(),
                core::format_key_docs(entry.keys()).c_str());
  }
  for (const auto& model : surrogates::model_types()) {
    std::printf("\nmodel type %s (%s), parameters:\n%s", model.name.c_str(), model.summary.c_str(),
                core::format_key_docs(model.keys).c_str());
  }
}

// The streamed study on every server rank: its buffer, its trainer replica (continued from the
// checkpoint when resumed), the ensemble as the source, the pipeline.
int run_streamed_study(const Study& study, std::optional<ResumePoint> resume, bool plots,
                       const ServeOptions& serve) {
  // Rank 0's local members get their cores (launcher.parameters.member_cores), and its
  // trainer the cores they leave (its automatic thread counts, training.threads 0, too). The
  // stream's threads stay free to run anywhere: they fill the members' cores while a member
  // waits.
  CoreShare share;
  if (core::comm_rank(MPI_COMM_WORLD) == 0 && !study.slurm) {
    core::Logger log("run");
    share = share_cores(thread_cpus(), study.launcher.member_cores);
    if (!share.why_shared.empty()) log.warn(share.why_shared);
    if (!share.members.empty()) {
      log.info("members on cores " + cpu_list_text(share.members) + ", the trainer on " +
               cpu_list_text(share.server) + " (launcher.parameters.member_cores)");
    }
  }
  auto buffer = make_buffer(study);
  surrogates::Trainer trainer(study.cfg.model, study.training, study.io, MPI_COMM_WORLD,
                              study.source, static_cast<int>(share.server.size()));
  if (resume) {
    trainer.load_checkpoint((resume->checkpoint / "trainer.pt").string());
    // The losses every rank had booked, reduced: kept on rank 0, summed again at the end.
    if (core::comm_rank(MPI_COMM_WORLD) == 0)
      trainer.set_member_losses(resume->record.member_losses);
  }
  const double earlier_seconds = resume ? resume->record.elapsed_seconds : 0.0;
  StreamedSource source(study, std::move(resume), *buffer, trainer, share.members);
  StudyState state{source, *buffer, trainer, study.io, study.out_dir, earlier_seconds};
  PipelineOptions options;
  options.component = "run";
  options.max_batches = study.training.max_batches;
  options.checkpoint_every_s = study.cfg.study.checkpoint_every_s;
  options.plots = plots;
  options.study_name = study.cfg.study.name;
  apply_serve_options(serve, study.cfg.study.serve, study.cfg.study.serve_linger_s, options);
  // The trainer (this thread) keeps to the cores the members leave; the stream's threads,
  // started by now, run wherever there is room.
  if (!share.server.empty() && !set_thread_cpus(share.server)) {
    core::Logger("run").warn("could not keep the trainer to cores " + cpu_list_text(share.server) +
                             ": it shares them with the members");
  }
  return run_pipeline(state, options);
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  StudyOptions o = parse_study_options(args, "run");
  const int rank = core::Logger::rank();
  if (o.help) {
    if (rank == 0) print_help();
    return 0;
  }
  SURGE_REQUIRE(!o.file.empty(), ConfigError,
                "no experiment file (usage: surge run <experiment.yaml> [key=value ...])");
  solvers::KokkosSession kokkos;
  const Study study = load_study_file(o.file, o.overrides);
  // Writable, not protected by its owner, and (a warning) roomy enough: before anything starts.
  check_output_directory(study.cfg, study.io, study.source, study.out_dir.string(), o.overwrite);
  check_slurm_study(study, false);
  if (o.dry_run) {
    if (rank == 0) {
      std::cout << study.resolved_text;
      if (study.slurm && study.slurm->mode == "jobs") {
        const MemberRecord first = MemberTable(study).initial().at(0);
        std::cout << "\n# The batch script of simulation " << first.simulation_id
                  << ", attempt 1 (surge run writes one per attempt into "
                  << (study.out_dir / "slurm").string() << "/):\n"
                  << member_job_script(
                         study, self_executable(), first, 1,
                         (study.out_dir / "logs" /
                          ("member_" + std::to_string(first.simulation_id) + "_attempt1.log"))
                             .string());
      }
    }
    return 0;
  }
  prepare_output_dir(study.out_dir, o.overwrite, rank);
  install_interrupt_handler();
  return run_streamed_study(study, std::nullopt, o.plots, o.serve);
}

int resume_command(const std::vector<std::string>& args) {
  std::string dir;
  bool plots = true;
  ServeOptions serve;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      if (core::Logger::rank() == 0) {
        std::printf(
            "usage: surge resume <output_dir> [options]\n"
            "\nContinues a study from its newest study checkpoint (<output_dir>/checkpoints/"
            "study_<batch>/,\nwritten every study.checkpoint_every_s): the configuration stored "
            "in it, the trainer\nat its batch, every server rank's buffer, the member table. "
            "Finished members are not\nrerun; unfinished ones are relaunched under their ids "
            "and what they had sent is dropped\nas duplicates. Run it with as many server ranks "
            "as the study had.\n"
            "\noptions:\n"
            "  --no-plots      do not call experiments/plot_results.py at the end\n"
            "  --serve[=HOST:PORT]  serve the live page (see surge run --help)\n"
            "  --serve-linger S  keep the live page up S seconds after the study ends\n"
            "  --log-level L   debug, info, warn, error, off (default: info)\n"
            "  --help          this text\n");
      }
      return 0;
    } else if (a == "--no-plots") {
      plots = false;
    } else if (parse_serve_option(args, i, serve)) {
    } else if (a == "--log-level") {
      SURGE_REQUIRE(i + 1 < args.size(), ConfigError, "--log-level needs a value");
      core::Logger::set_level(core::parse_log_level(args[++i]));
    } else if (a.rfind("--", 0) == 0) {
      SURGE_THROW(ConfigError, "unknown option '" << a << "' (see surge resume --help)");
    } else if (dir.empty()) {
      dir = a;
    } else {
      SURGE_THROW(ConfigError,
                  "unexpected argument '" << a << "' (usage: surge resume <output_dir>)");
    }
  }
  SURGE_REQUIRE(!dir.empty(), ConfigError,
                "no output directory (usage: surge resume <output_dir>)");
  const fs::path out_dir = fs::absolute(dir);
  const auto checkpoint = latest_study_checkpoint(out_dir / "checkpoints");
  SURGE_REQUIRE(checkpoint, ConfigError,
                "'" << out_dir.string() << "' holds no study checkpoint (checkpoints/study_<batch>/"
                    << "); a study writes one every study.checkpoint_every_s");
  ResumePoint point{*checkpoint, read_study_record(*checkpoint, true)};
  const int size = core::comm_size(MPI_COMM_WORLD);
  SURGE_REQUIRE(point.record.server_ranks == size, ConfigError,
                "the checkpoint was written by "
                    << point.record.server_ranks << " server rank(s); resume it with as many "
                    << "(mpirun -np " << point.record.server_ranks << " surge resume ...), not "
                    << size);
  core::ConfigSource source;
  source.file = point.record.source_file;
  YAML::Node input = YAML::Load(point.record.experiment);
  // The study continues where its files are, wherever it is resumed from.
  input["study"]["output_dir"] = out_dir.string();
  solvers::KokkosSession kokkos;
  const Study study = load_study(input, source);
  check_output_directory(study.cfg, study.io, study.source, study.out_dir.string(), true);
  check_slurm_study(study, false);
  core::Logger log("resume");
  SURGE_LOG(log, info,
            "resuming study '" << study.cfg.study.name << "' from " << checkpoint->string()
                               << " (batch " << point.record.batch << ")");
  if (core::Logger::rank() == 0) {
    // What the crashed run left half written: a partial checkpoint, results, plots.
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(out_dir / "checkpoints", ec)) {
      if (entry.path().extension() == ".partial") fs::remove_all(entry.path(), ec);
    }
    fs::create_directories(out_dir / "logs");
  }
  install_interrupt_handler();
  return run_streamed_study(study, std::move(point), plots, serve);
}

}  // namespace surge::experiments
