#pragma once
// The one study pipeline (experiments/README.md, "What happens"). A sample source fills every
// rank's buffer; the driver trains a replica per rank, has the ranks agree on when to stop
// (stop_agreement.hpp), lets the source write study checkpoints, and ends with the outputs:
// model/, results.h5, plots/. `surge run`, `surge resume` and `surge train` are thin commands
// over it that differ in their source (sample_source.hpp). The stages, in order, are the
// steps of StudyDriver::run() in pipeline.cpp.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

#include "pipeline/sample_source.hpp"
#include "surge/reservoir/buffer.hpp"
#include "surge/surrogates/description.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

struct PipelineOptions {
  const char* component = "run";    // the logger's component
  std::int64_t max_batches = 0;     // the progress line's total
  double checkpoint_every_s = 0.0;  // study checkpoints (the source writes them); <= 0: none
  // Where an interrupted run keeps a trainer checkpoint at the batch it reached (surge train
  // with training.checkpoint_every > 0); "" for none.
  std::string interrupt_checkpoint_dir;
  bool plots = true;
  // The live page (--serve): "" for none, else HOST:PORT (live/live_server.hpp); rank 0 serves
  // it, and keeps it up serve_linger_s seconds after the study ends (Ctrl-C ends that wait).
  std::string serve;
  double serve_linger_s = 0.0;
  std::string study_name;  // the page's title
};

// What the driver works on, in one place: the study's state while it runs.
struct StudyState {
  StudyState(SampleSource& source_, reservoir::Buffer<reservoir::Sample>& buffer_,
             surrogates::Trainer& trainer_, const surrogates::IoDescription& io_,
             std::filesystem::path out_dir_, double earlier_seconds_ = 0.0)
      : source(source_),
        buffer(buffer_),
        trainer(trainer_),
        io(io_),
        out_dir(std::move(out_dir_)),
        earlier_seconds(earlier_seconds_) {}

  SampleSource& source;
  reservoir::Buffer<reservoir::Sample>& buffer;
  surrogates::Trainer& trainer;
  const surrogates::IoDescription& io;
  std::filesystem::path out_dir;
  double earlier_seconds = 0.0;  // wall time of the runs this one continues (surge resume)
  // Filled on the way.
  surrogates::ValidationSet validation;
  std::chrono::steady_clock::time_point started{};
  bool stop_agreed = false;  // the ranks agreed to stop (Ctrl-C or a failure somewhere)
};

// Runs the study's stages on every rank (collective over MPI_COMM_WORLD). Returns the exit
// code, the same on every rank: 0; 1 when a rank's source failed (results written where
// possible); 130 when interrupted (results written). Throws core::Error when the study cannot
// go on (the launcher gave up before the validation set was complete, results not writable);
// the source is stopped and its threads joined first.
int run_pipeline(StudyState& state, const PipelineOptions& options);

// The outputs every study writes on rank 0: model/ exported, the rollouts of next_step models,
// results.h5. A model that cannot be exported costs neither the results nor their stop_reason
// (which says so); its error is rethrown once results.h5 is written. Throws core::IoError.
[[nodiscard]] StudyOutputs write_outputs(const std::filesystem::path& out_dir, RunSummary& summary,
                                         const surrogates::Trainer& trainer,
                                         const surrogates::ValidationSet& validation,
                                         const surrogates::IoDescription& io);

// The closing lines of a study's summary: each channel's metrics (one-step metrics for
// `next_step` models), the last rollout horizon's if any, and where results.h5 and model/ are.
void print_final_metrics(const StudyOutputs& outputs, bool next_step,
                         const std::filesystem::path& out_dir);

}  // namespace surge::experiments
