#pragma once
// Where a study's samples come from: the streamed ensemble of `surge run` and `surge resume`
// (online/streamed_source.hpp) or the Well-layout files of `surge train`
// (offline/file_source.hpp). The driver (pipeline.hpp) calls a source at its stages and never
// knows which one it has; calls marked collective are made by every rank at the same point.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "live/live_state.hpp"
#include "surge/experiments/results_writer.hpp"
#include "surge/reservoir/sample.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

// What the outputs stage made: the final validation metrics, and the rollouts of next_step
// models.
struct StudyOutputs {
  surrogates::ValidationRecord metrics;
  std::optional<surrogates::RolloutResult> rollout;
};

class SampleSource {
 public:
  virtual ~SampleSource() = default;

  // What stops when the study is interrupted ("the members", "the reader"), for the log.
  [[nodiscard]] virtual const char* what_stops() const = 0;
  // Stage start: this rank's buffer begins to fill (members launched, threads started).
  virtual void start() = 0;
  // Stage validation: the validation set, the same on every rank. Collective. Throws
  // core::Error when it cannot be had (the launcher gave up).
  [[nodiscard]] virtual std::vector<reservoir::Sample> validation() = 0;
  // This rank's failure (a thread's error), "" while there is none. Any thread.
  [[nodiscard]] virtual std::string error() const = 0;
  // Stops producing: members stopped, readers told to end. Any thread; idempotent.
  virtual void stop() = 0;
  // The ranks agreed to stop: this rank's reception ends now. Main thread; idempotent.
  virtual void halt() {}
  // Whether this rank will receive nothing more (the ends of every member that finished were
  // seen; files: once training ends). Main thread.
  [[nodiscard]] virtual bool drained() const = 0;
  // Training ended (`why`) before every rank drained, and no rank asked to stop: stop what
  // still produces, or let it finish. Returns whether it was stopped (for the log).
  virtual bool training_ended(const char* /*why*/) { return true; }
  // Joins every thread; the source produces nothing after it. Idempotent; every way out.
  virtual void shutdown() = 0;
  // The live page's view of the source: the member table and the samples received; nothing
  // for sources without members. Rank 0, from the page's own thread twice a second until
  // shutdown(), so thread-safe.
  [[nodiscard]] virtual LiveMembers describe_live() const { return {}; }
  // After every batch (collective): an adaptive sampler gets the members' losses.
  virtual void after_batch(const surrogates::TrainingRecord& /*record*/) {}
  // The progress line's text after the batch count.
  [[nodiscard]] virtual std::string progress(const surrogates::TrainingRecord& r) const = 0;
  // A study checkpoint at the trainer's batch (collective; `elapsed_s` since the study began,
  // across resumes). Sources without study checkpoints never get the call.
  virtual void write_checkpoint(double /*elapsed_s*/,
                                const surrogates::ValidationSet& /*validation*/) {}
  // The stop reason when some rank failed, from each rank's error ("" for none) by rank.
  [[nodiscard]] virtual std::string describe_errors(
      const std::vector<std::string>& by_rank) const = 0;
  // What results.h5 records of the study (members, samples, counters). Collective; complete on
  // rank 0. Throws core::Error on rank 0 where there is nothing to record (the launcher gave
  // up).
  [[nodiscard]] virtual RunSummary summarise(double seconds, const std::string& stop_reason) = 0;
  // Rank 0, results written: the closing lines (members, samples, `batches`, metrics) and,
  // when the study failed (`code` 1), the line that says why.
  virtual void report(const RunSummary& summary, const StudyOutputs& outputs, std::int64_t batches,
                      int code) const = 0;
};

}  // namespace surge::experiments
