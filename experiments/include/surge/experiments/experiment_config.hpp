#pragma once
// The experiment file of `surge run`: one YAML file, read once into these structs. Every key
// is listed once in a visit() (read, validated, documented by `surge run --help`, dumped
// into results.h5); experiments/README.md documents them for readers of the file.

#include <string>
#include <vector>

#include "surge/core/config.hpp"
#include "surge/streaming/config.hpp"
#include "surge/surrogates/config.hpp"

namespace surge::experiments {

struct StudyConfig {
  std::string name = "study";
  std::string output_dir = "results/study";
  int seed = 1234;
  double checkpoint_every_s = 60.0;
  int checkpoints_kept = 2;
  bool wait_for_members = false;
  std::string serve;
  double serve_linger_s = 0.0;

  template <class V>
  void visit(V& v) {
    v("name", name, "name of the study (also the streaming experiment id)");
    v("output_dir", output_dir,
      "directory of results.h5, model/ and plots/; must not exist or be empty (see --overwrite)");
    v("seed", seed, "seed of the parameter sampler and of training", core::at_least(0));
    v("checkpoint_every_s", checkpoint_every_s,
      "seconds between two study checkpoints (trainer, buffers, member table) in "
      "<output_dir>/checkpoints/, from which `surge resume` continues; 0 = none",
      core::at_least(0.0));
    v("checkpoints_kept", checkpoints_kept, "newest study checkpoints kept", core::at_least(1));
    v("wait_for_members", wait_for_members,
      "when training stops on its batch or time budget: false = the members still running are "
      "ended (status stopped in results.h5) and pending ones never start; true = wait for "
      "every member to finish, its data unused");
    v("serve", serve,
      "the live page (as --serve=HOST:PORT): \"\" = none; HOST:PORT, HOST or :PORT (port 0: "
      "any free one; host 127.0.0.1 unless named); its URL, with the study's token, is logged "
      "and written to <output_dir>/live_url (mode 0600)");
    v("serve_linger_s", serve_linger_s,
      "seconds the live page stays up after the study ends (Ctrl-C ends the wait)",
      core::at_least(0.0));
  }
};

struct EnsembleConfig {
  core::IntervalMap ranges;
  core::Pluggable sampler{"halton", YAML::Node(YAML::NodeType::Map)};
  int train_members = 32;
  int validation_members = 4;
  bool continuous = false;

  template <class V>
  void visit(V& v) {
    v("ranges", ranges,
      "solver parameters to vary: a range [min, max] or a fixed value each; a parameter not "
      "listed keeps the solver's default (recorded in results.h5 as a fixed value)");
    v("sampler", sampler,
      "how training parameter sets are drawn: uniform, lhs (Latin hypercube), halton, breed "
      "(adaptive, from the members' training losses; its parameters in surge run --help); "
      "validation members are always drawn uniformly, from their own stream of study.seed");
    v("train_members", train_members, "members whose fields train the surrogate",
      core::in_range(1, 1000000));
    v("validation_members", validation_members,
      "held-out members, run first and kept in memory for validation, never trained on",
      core::in_range(0, 100000));
    v("continuous", continuous,
      "true = training members never run out: once the first train_members are launched, the "
      "sampler's next points are drawn whenever a member slot is free, until training stops "
      "on its budget (which ends the members running then); needs a sampler that goes on "
      "(halton, uniform, breed) and a training.max_batches or max_seconds budget");
  }
};

struct SolverSection {
  std::string type = "heat2d";
  YAML::Node parameters{YAML::NodeType::Map};
  int ranks = 1;

  template <class V>
  void visit(V& v) {
    v("type", type,
      "solver (surge solve --help lists them), or external: the user's own program (see "
      "solver type external)");
    v("parameters", parameters,
      "solver keys shared by every member (grid, end time, outputs...); the sampled parameters "
      "are added per member");
    v("ranks", ranks, "MPI ranks per member (mpirun -np)", core::in_range(1, 4096));
  }
};

// One field an external solver streams (an entry of `fields:`, under the field's name).
struct ExternalFieldConfig {
  std::vector<int> shape;
  int components = 1;

  template <class V>
  void visit(V& v) {
    v("shape", shape,
      "required: the global grid of the field, row-major, every field the same: [nx, ny] (axis "
      "0 is x, the last axis y is the fastest; a Fortran array u(ny, nx)), or [n] for n nodes "
      "of a mesh (solver.parameters.mesh); `name: [nx, ny]` is short for `name: {shape: "
      "[nx, ny]}`");
    v("components", components,
      "1: a scalar; 2 or 3: a vector field, sent with its components as a last axis "
      "[nx, ny, components] or [n, components] (one model channel per component)",
      core::in_range(1, 3));
  }
};

// `solver: {type: external, ranks: N, parameters: {...}}`: every member is the user's own
// program (C, C++, Fortran, Python), started as `mpirun -np N <command...>`, which joins the
// study through the client API with its connection taken from the environment
// (streaming/member_environment.hpp). What surge learns by probing a built-in solver is
// declared here.
struct ExternalSolverConfig {
  std::vector<std::string> command;
  YAML::Node fields{YAML::NodeType::Map};
  int outputs = 0;
  double output_dt = 1.0;
  std::vector<std::string> parameters;
  std::string dtype = "float64";
  std::vector<bool> periodic = {false, false};
  std::string mesh;

  template <class V>
  void visit(V& v) {
    v("command", command,
      "required: the member's program and its arguments; \"{name}\" is replaced by the "
      "member's value of parameter name, \"{simulation_id}\" by its id, \"{experiment_dir}\" by "
      "the experiment file's directory (quote them in YAML); the program is found as the user's "
      "shell would, a bare name on surge run's PATH (members run with surge run's environment, "
      "nothing put before its PATH), a relative path from the experiment file's directory; "
      "started as `mpirun [mpirun_args] -np solver.ranks command...` in the directory surge run "
      "was started in");
    v("fields", fields,
      "required: the fields each member streams, as name: {shape: [nx, ny], components: k} "
      "(keys below; [n] on a mesh's nodes); a member that announces another field is refused");
    v("outputs", outputs,
      "required: steps each member sends, numbered 0 .. outputs-1 (send the initial state as "
      "step 0 for the surrogate to learn it)",
      core::in_range(1, 1000000));
    v("output_dt", output_dt,
      "time between two steps: step k is sent at t = k * output_dt (the model's input t spans "
      "[0, (outputs - 1) * output_dt])",
      core::greater_than(0.0));
    v("parameters", parameters,
      "names of the sampled parameters, in the order each member sends them; each needs a "
      "range or a fixed value in parameters.ranges");
    v("dtype", dtype,
      "the type every member sends its fields in (the client's SURGE_FLOAT64 / SURGE_FLOAT32, "
      "numpy float64 / float32); a member that announces the other is refused, the field named",
      core::one_of({"float32", "float64"}));
    v("periodic", periodic,
      "per axis of the fields' grid [nx, ny]: whether it is periodic (the FNO then does not "
      "pad it, the graph network joins its ends by edges), as a built-in solver's periodic "
      "boundaries are; fields on nodes ([n]) take [false] or the default");
    v("mesh", mesh,
      "the mesh of fields on nodes (shape [n]): a file in the format of experiments/meshes/ "
      "(node positions, edges, wall nodes), relative to the experiment file, whose n nodes are "
      "the field's, in the order the member sends them; a graph network learns on it (unless "
      "model.parameters.mesh names another), results.h5 and `surge predict` carry its "
      "coordinates, the plots draw on it");
  }
};

// How streamed fields become samples; the kind follows from the model (mlp:
// field_from_parameters, fno: next_step).
struct SamplesConfig {
  int stride = 1;

  template <class V>
  void visit(V& v) {
    v("stride", stride,
      "next_step models: frames between a state and the state the model predicts from it "
      "(the model's time step is stride times the output interval)",
      core::in_range(1, 1000000));
  }
};

struct LauncherConfig {
  int max_concurrent = 2;
  double silence_timeout_s = 60.0;
  int retries = 2;
  std::string on_failure = "redraw";
  int max_failed_members = 4;
  std::string mpirun = "mpirun";
  std::vector<std::string> mpirun_args{"--oversubscribe"};
  int fail_once_simulation = -1;
  int fail_once_at_output = 1;
  int simulations_per_member = 1;
  int member_cores = 0;

  template <class V>
  void visit(V& v) {
    v("max_concurrent", max_concurrent, "members running at once", core::in_range(1, 100000));
    v("silence_timeout_s", silence_timeout_s,
      "a running member that sends nothing (data or heartbeat) for this long is killed and "
      "relaunched; a member that exits 0 has this long for its end of stream, after every "
      "output, to reach the server, else the attempt failed",
      core::greater_than(0.0));
    v("retries", retries, "relaunches of a failed member", core::in_range(0, 100));
    v("on_failure", on_failure,
      "after the last retry: redraw (new parameters, a new simulation id) or fail (mark it "
      "failed and go on)",
      core::one_of({"redraw", "fail"}));
    v("max_failed_members", max_failed_members,
      "the study stops with an error once this many members failed every attempt (redrawn or "
      "marked failed): something is wrong with all of them",
      core::at_least(1));
    v("mpirun", mpirun,
      "the MPI launcher members start with (looked up on PATH); as root, surge adds "
      "--allow-run-as-root");
    v("mpirun_args", mpirun_args,
      "extra arguments for the launcher, before -np; unless they bind ranks themselves "
      "(--bind-to, --cpu-set, --cpu-list, --rankfile), surge adds --bind-to none: every member is "
      "its own mpirun, and Open MPI would bind each one's ranks to the node's first cores");
    v("simulations_per_member", simulations_per_member,
      "simulations one member process (one MPI job, a persistent worker) runs one after the "
      "other, handed out by the server, so that MPI and Kokkos start once per worker: 1 = a "
      "process per simulation; N > 1: at most max_concurrent workers, each running up to N "
      "simulations, each with its own stream (handshake, end of stream), retries and "
      "timeouts (built-in solvers; local processes or Slurm mode allocation job steps)",
      core::in_range(1, 1000000));
    v("member_cores", member_cores,
      "local members run on the first N cores surge run may use, the trainer on the others "
      "(training.threads' automatic choice, 0, counts them), so that members and trainer do "
      "not slow each other: 0 = all share every core; max_concurrent members may share N cores "
      "(a member waiting for its handshake or its next simulation leaves its core to the "
      "other); the server's streaming threads run where there is room. Local launcher only; a "
      "value that leaves the trainer no core is a warning, and all share",
      core::in_range(0, 1 << 16));
    v("fail_once_simulation", fail_once_simulation,
      "testing aid: the first attempt of this simulation id crashes (-1: none; built-in "
      "solvers only)",
      core::at_least(-1));
    v("fail_once_at_output", fail_once_at_output,
      "testing aid: the output after which that attempt crashes", core::at_least(0));
  }
};

// The server's own batch job, which `surge submit` writes and submits (launcher type slurm).
// In mode allocation this job is the allocation: it also holds the members' job steps.
struct SlurmServerConfig {
  int ranks = 1;
  int cpus_per_task = 1;
  std::string partition;
  std::string account;
  std::string time;
  std::string constraint;
  std::vector<std::string> sbatch_args;

  template <class V>
  void visit(V& v) {
    v("ranks", ranks, "MPI ranks of the server (trainer replicas) in its batch job",
      core::in_range(1, 4096));
    v("cpus_per_task", cpus_per_task,
      "cores per server rank (sbatch --cpus-per-task), for its BLAS and LibTorch threads; mode "
      "jobs only",
      core::in_range(1, 1024));
    v("partition", partition, "partition of the server's job; \"\" = the site's default");
    v("account", account, "account charged for the server's job; \"\" = the user's default");
    v("time", time,
      "time limit of the server's job (minutes, HH:MM:SS or D-HH:MM:SS); \"\" = the "
      "partition's default");
    v("constraint", constraint, "node features the server's job needs (sbatch --constraint)");
    v("sbatch_args", sbatch_args,
      "more sbatch options for the server's job, e.g. [--gres=gpu:1, --qos=long]");
  }
};

// Launcher type slurm: its keys on top of LauncherConfig's (the same fault-tolerance policy).
// Members are batch jobs of their own (mode jobs) or job steps of the allocation `surge run`
// runs in (mode allocation).
struct SlurmConfig {
  std::string mode = "jobs";
  std::string partition;
  std::string account;
  std::string time;
  std::string constraint;
  int nodes = 0;
  int cpus_per_task = 1;
  std::vector<std::string> sbatch_args;
  std::string mpi_launcher = "srun";
  std::string srun_mpi = "pmix";
  std::vector<std::string> srun_args;
  std::vector<std::string> setup;
  double poll_interval_s = 2.0;
  SlurmServerConfig server;

  template <class V>
  void visit(V& v) {
    v("mode", mode,
      "jobs: every member attempt is a batch job of its own (sbatch); allocation: surge run "
      "runs inside an allocation and members are job steps of it (srun --exact)",
      core::one_of({"jobs", "allocation"}));
    v("partition", partition, "mode jobs: partition of the member jobs; \"\" = the default");
    v("account", account, "mode jobs: account charged for the member jobs; \"\" = the default");
    v("time", time,
      "mode jobs: time limit of a member job (minutes, HH:MM:SS or D-HH:MM:SS); \"\" = the "
      "partition's default");
    v("constraint", constraint, "mode jobs: node features a member job needs (--constraint)");
    v("nodes", nodes, "nodes per member (--nodes); 0 = as Slurm places solver.ranks tasks",
      core::in_range(0, 4096));
    v("cpus_per_task", cpus_per_task, "cores per member rank (--cpus-per-task)",
      core::in_range(1, 1024));
    v("sbatch_args", sbatch_args, "mode jobs: more sbatch options for the member jobs");
    v("mpi_launcher", mpi_launcher,
      "how a member's ranks start: srun (Slurm's direct launch, srun --mpi=<srun_mpi>) or "
      "mpirun (launcher.parameters.mpirun inside the member's job; mode jobs only); also "
      "starts a server of several ranks under surge submit",
      core::one_of({"srun", "mpirun"}));
    v("srun_mpi", srun_mpi,
      "srun --mpi plugin for the members' ranks (pmix with Debian's Open MPI); \"\" = the "
      "site's MpiDefault");
    v("srun_args", srun_args,
      "more srun options for the members' ranks (and a server's of several ranks)");
    v("setup", setup,
      "shell lines the batch scripts run first (module load ..., source env.sh, export ...)");
    v("poll_interval_s", poll_interval_s,
      "mode jobs: seconds between two looks at the queue (squeue, then scontrol for jobs that "
      "left it)",
      core::greater_than(0.0));
    v.section("server", server, "surge submit: the server's batch job");
  }
};

// Every key of launcher type slurm, as its parameters map holds them.
struct SlurmLauncherConfig : LauncherConfig {
  SlurmConfig slurm;

  template <class V>
  void visit(V& v) {
    LauncherConfig::visit(v);
    slurm.visit(v);
  }
};

struct ExperimentConfig {
  StudyConfig study;
  EnsembleConfig parameters;
  SolverSection solver;
  core::Pluggable launcher{"local", YAML::Node(YAML::NodeType::Map)};
  streaming::ReceiverConfig streaming;
  core::Pluggable reservoir{"reservoir", YAML::Node(YAML::NodeType::Map)};
  core::Pluggable model{"mlp", YAML::Node(YAML::NodeType::Map)};
  SamplesConfig samples;
  surrogates::TrainingConfig training;

  template <class V>
  void visit(V& v) {
    v.section("study", study, "name, output directory, seed");
    v.section("parameters", parameters, "the ensemble: parameter ranges, sampler, sizes");
    v.section("solver", solver, "the solver every member runs");
    v("launcher", launcher,
      "how members are started: local (mpirun on this machine) or slurm (batch jobs or job "
      "steps)");
    v.section("streaming", streaming,
              "server side of the stream (streaming/PROTOCOL.md); experiment and fields are set "
              "by surge run");
    v("reservoir", reservoir, "training buffer: fifo, firo, reservoir, trajectory");
    v("model", model,
      "the surrogate: mlp (fields from parameters and t) or fno (next state from the state)");
    v.section("samples", samples, "how streamed fields become samples");
    v.section("training", training, "optimizer, schedule, budget, validation and checkpoints");
  }
};

}  // namespace surge::experiments
