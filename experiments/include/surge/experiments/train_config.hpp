#pragma once
// The training file of `surge train`: offline training from HDF5 files in The Well's layout.
// Its `data:` section takes the place of `parameters`, `solver`, `launcher` and `streaming`
// of an experiment file; `model`, `reservoir`, `samples` and `training` are the sections of
// `surge run` (experiment_config.hpp), read by the same code.

#include <string>
#include <vector>

#include "surge/core/config.hpp"
#include "surge/experiments/experiment_config.hpp"
#include "surge/surrogates/config.hpp"

namespace surge::experiments {

// `study:` of a training file: what names the run and where it writes (no members, so no
// sampler seed and no study checkpoints).
struct TrainStudyConfig {
  std::string name = "train";
  std::string output_dir = "results/train";
  std::string serve;
  double serve_linger_s = 0.0;

  template <class V>
  void visit(V& v) {
    v("name", name, "name of the training run (results.h5 attribute study)");
    v("output_dir", output_dir,
      "directory of results.h5, model/ and plots/; must not exist or be empty (see --overwrite)");
    v("serve", serve,
      "the live page (as --serve=HOST:PORT): \"\" = none; HOST:PORT, HOST or :PORT (port 0: "
      "any free one; host 127.0.0.1 unless named); its URL, with the run's token, is logged "
      "and written to <output_dir>/live_url (mode 0600)");
    v("serve_linger_s", serve_linger_s,
      "seconds the live page stays up after the run ends (Ctrl-C ends the wait)",
      core::at_least(0.0));
  }
};

// `data:`: the files to learn from.
struct DataConfig {
  std::vector<std::string> train;
  std::vector<std::string> validation;
  std::vector<std::string> fields;
  core::IntervalMap ranges;
  int prefetch_frames = 64;
  int epochs = 1;

  template <class V>
  void visit(V& v) {
    v("train", train,
      "required: HDF5 files in The Well's layout (surge solve's member files, or a Well "
      "dataset's files of several trajectories each) to train on: paths or globs (sorted "
      "matches), relative to the current directory; every trajectory of every file, files in "
      "the order listed");
    v("validation", validation,
      "held-out files (paths or globs, as train), read whole into memory before training and "
      "never trained on; empty: no validation");
    v("fields", fields,
      "fields to learn, t0_fields/ and t1_fields/ names (a vector field's components become "
      "channels of their own); empty: every field of the first training file, t0_fields/ "
      "first, in its field_names order");
    v("ranges", ranges,
      "normalisation range of a model input (a parameter, or t for field-from-parameters "
      "models), [min, max] or a value; an input not listed gets the least and greatest value "
      "in the training files (surge run uses the sampler's ranges: give the same here to "
      "train exactly as online)");
    v("prefetch_frames", prefetch_frames,
      "frames a background thread reads ahead of training, in one HDF5 read, and holds outside "
      "the training buffer at most (it then waits for room in the buffer)",
      core::in_range(1, 1000000));
    v("epochs", epochs,
      "passes of the reader over the training files, in the same order; each pass's samples "
      "are new samples to the buffer (for data larger than reservoir.capacity; "
      "reservoir.parameters.extra_passes then counts passes over what the buffer holds after "
      "the last one)",
      core::in_range(1, 100000));
  }
};

// The keys of a training file that `surge run` does not have (documented by `surge train
// --help`; the shared sections are documented by `surge run --help`).
struct TrainOwnConfig {
  TrainStudyConfig study;
  DataConfig data;

  template <class V>
  void visit(V& v) {
    v.section("study", study, "name and output directory");
    v.section("data", data, "the HDF5 files to train and validate on");
  }
};

// A whole training file.
struct TrainConfig : TrainOwnConfig {
  core::Pluggable reservoir{"reservoir", YAML::Node(YAML::NodeType::Map)};
  core::Pluggable model{"mlp", YAML::Node(YAML::NodeType::Map)};
  SamplesConfig samples;
  surrogates::TrainingConfig training;

  template <class V>
  void visit(V& v) {
    TrainOwnConfig::visit(v);
    v("reservoir", reservoir, "training buffer: fifo, firo, reservoir, trajectory");
    v("model", model, "the surrogate: mlp, fno or graphnet");
    v.section("samples", samples, "how frames become samples");
    v.section("training", training, "optimizer, schedule, budget, validation and checkpoints");
  }
};

}  // namespace surge::experiments
