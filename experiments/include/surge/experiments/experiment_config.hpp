#pragma once
// The experiment file of `surge run`: one YAML file, read once into these structs. Every key
// is listed once in a visit() (read, validated, documented by `surge run --help`, dumped
// into results.h5); experiments/README.md documents them for readers of the file.

#include <string>

#include "surge/core/config.hpp"

namespace surge::experiments {

struct StudyConfig {
  std::string name = "study";
  std::string output_dir = "results/study";
  int seed = 1234;

  template <class V>
  void visit(V& v) {
    v("name", name, "name of the study (also the streaming experiment id)");
    v("output_dir", output_dir,
      "directory of results.h5, model/ and plots/; must not exist or be empty (see --overwrite)");
    v("seed", seed, "seed of the parameter sampler and of training", core::at_least(0));
  }
};

struct EnsembleConfig {
  core::IntervalMap ranges;
  core::Pluggable sampler{"halton", YAML::Node(YAML::NodeType::Map)};
  int train_members = 32;
  int validation_members = 4;

  template <class V>
  void visit(V& v) {
    v("ranges", ranges,
      "for each solver parameter a range [min, max] or a fixed value; every parameter of the "
      "solver must be listed");
    v("sampler", sampler, "how parameter sets are drawn: uniform, lhs (Latin hypercube), halton");
    v("train_members", train_members, "members whose fields train the surrogate",
      core::in_range(1, 1000000));
    v("validation_members", validation_members,
      "held-out members, run first and kept in memory for validation, never trained on",
      core::in_range(0, 100000));
  }
};

struct SolverSection {
  std::string type = "heat2d";
  YAML::Node parameters{YAML::NodeType::Map};
  int ranks = 1;

  template <class V>
  void visit(V& v) {
    v("type", type, "solver (surge solve --help lists them)");
    v("parameters", parameters,
      "solver keys shared by every member (grid, end time, outputs...); the sampled parameters "
      "are added per member");
    v("ranks", ranks, "MPI ranks per member (mpirun -np)", core::in_range(1, 4096));
  }
};

struct LauncherConfig {
  int max_concurrent = 2;
  double silence_timeout_s = 60.0;
  int retries = 2;
  std::string on_failure = "redraw";
  std::string mpirun = "mpirun";
  std::vector<std::string> mpirun_args{"--oversubscribe"};

  template <class V>
  void visit(V& v) {
    v("max_concurrent", max_concurrent, "members running at once", core::in_range(1, 100000));
    v("silence_timeout_s", silence_timeout_s,
      "a running member that sends nothing (data or heartbeat) for this long is killed and "
      "relaunched",
      core::greater_than(0.0));
    v("retries", retries, "relaunches of a failed member", core::in_range(0, 100));
    v("on_failure", on_failure,
      "after the last retry: redraw (new parameters, a new simulation id) or fail (mark it "
      "failed and go on)",
      core::one_of({"redraw", "fail"}));
    v("mpirun", mpirun, "the MPI launcher members start with (looked up on PATH)");
    v("mpirun_args", mpirun_args, "extra arguments for the launcher, before -np");
  }
};

struct ExperimentConfig {
  StudyConfig study;
  EnsembleConfig parameters;
  SolverSection solver;
  core::Pluggable launcher{"local", YAML::Node(YAML::NodeType::Map)};
  YAML::Node streaming{YAML::NodeType::Map};
  core::Pluggable reservoir{"reservoir", YAML::Node(YAML::NodeType::Map)};
  core::Pluggable model{"mlp", YAML::Node(YAML::NodeType::Map)};
  YAML::Node training{YAML::NodeType::Map};

  template <class V>
  void visit(V& v) {
    v.section("study", study, "name, output directory, seed");
    v.section("parameters", parameters, "the ensemble: parameter ranges, sampler, sizes");
    v.section("solver", solver, "the solver every member runs");
    v("launcher", launcher, "how members are started: local (mpirun on this machine)");
    v("streaming", streaming, "server side of the stream (streaming/PROTOCOL.md)");
    v("reservoir", reservoir, "training buffer: fifo, firo, reservoir, trajectory");
    v("model", model, "the surrogate: mlp");
    v("training", training, "optimizer, schedule, budget, validation and checkpoints");
  }
};

}  // namespace surge::experiments
