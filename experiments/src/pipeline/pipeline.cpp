// The study driver: a short sequence of named stages over the state in StudyState. Every rank
// runs the same stages; the source does what differs between the streamed ensemble and the
// files.
#include "pipeline/pipeline.hpp"

#include <atomic>
#include <cstdio>
#include <exception>
#include <thread>

#include "pipeline/interrupt.hpp"
#include "pipeline/stop_agreement.hpp"
#include "study/server_mpi.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "surge/core/progress.hpp"

namespace surge::experiments {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Every rank's text, in rank order, on rank 0 (empty elsewhere). Collective.
std::vector<std::string> texts_on_rank0(const std::string& mine) {
  std::vector<std::string> all;
  for (const auto& bytes : gather_bytes(std::vector<char>(mine.begin(), mine.end()), 0))
    all.emplace_back(bytes.begin(), bytes.end());
  return all;
}

class StudyDriver {
 public:
  StudyDriver(StudyState& state, const PipelineOptions& options)
      : s_(state), o_(options), log_(options.component), agreement_(options.checkpoint_every_s) {}
  // Every way out, errors included: the source stopped, the buffer closed, threads joined.
  ~StudyDriver() { shut_down(); }
  StudyDriver(const StudyDriver&) = delete;
  StudyDriver& operator=(const StudyDriver&) = delete;

  int run() {
    start();
    gather_validation();
    watch();
    const surrogates::StopReason reason = train();
    end_reception(reason);
    shut_down();
    return finish(reason);
  }

 private:
  // Stage 1: the source begins to fill the buffers (the study's clock starts).
  void start() {
    s_.started = Clock::now();
    s_.source.start();
  }

  // Stage 2: the validation set, complete on every rank before training starts.
  void gather_validation() { s_.validation.samples = s_.source.validation(); }

  // Stage 3: a watcher turns Ctrl-C or a source's failure into a local stop: this rank's
  // buffer closed first (training stops), then the source stopped. The ranks then agree to
  // stop at the next batch.
  void watch() {
    watcher_ = std::thread([this] {
      try {
        while (!done_) {
          if (interrupted() || !s_.source.error().empty()) {
            if (interrupted()) {
              SURGE_LOG(log_, warn,
                        "interrupted: stopping " << s_.source.what_stops()
                                                 << ", keeping what is trained");
            }
            s_.buffer.close();
            s_.source.stop();
            return;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      } catch (const std::exception& e) {
        s_.buffer.close();  // the main thread must not wait for a buffer nobody stops
        SURGE_LOG(log_, error, "the study's watcher failed: " << e.what());
      }
    });
  }

  // Stage 4: training, with the stop agreement after every batch.
  surrogates::StopReason train() {
    core::Progress progress(log_, "batches", o_.max_batches);
    const auto reason =
        s_.trainer.train(s_.buffer, s_.validation, [&](const surrogates::TrainingRecord& r) {
          (void)agree();
          progress.update(r.batch, s_.source.progress(r));
        });
    progress.finish(surrogates::to_string(reason));
    return reason;
  }

  // The ranks agree on stopping, on a study checkpoint, and on whether reception is over
  // everywhere (returned). Collective.
  bool agree() {
    const bool stop_here = interrupted() || !s_.source.error().empty();
    const StopAgreement::Verdict v = agreement_.agree(stop_here, s_.source.drained());
    if (v.stop && !s_.stop_agreed) {
      s_.stop_agreed = true;
      s_.buffer.close();  // every rank: train() sees empty batches everywhere and returns
      s_.source.stop();
      s_.source.halt();
    }
    if (v.checkpoint && !s_.stop_agreed) {
      s_.source.write_checkpoint(elapsed(), s_.validation);
      agreement_.checkpoint_done();
    }
    return v.drained;
  }

  // Stage 5: the end of reception. What still produces when training ends is stopped (or let
  // finish: the source decides), and what it delivered until then is counted.
  void end_reception(surrogates::StopReason reason) {
    bool drained = agree();
    const auto training_end = Clock::now();
    bool stopped = false;
    if (!drained && !s_.stop_agreed) stopped = s_.source.training_ended(to_string(reason));
    s_.buffer.close();
    while (!drained) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      drained = agree();
    }
    if (stopped) {
      SURGE_LOG(log_, info,
                s_.source.what_stops() << " stopped, reception over " << seconds_since(training_end)
                                       << " s after training");
    }
    if (interrupted()) {
      SURGE_LOG(
          log_, warn,
          "interrupted: " << s_.source.what_stops() << " stopped; writing what was trained so far");
    }
  }

  // Stage 6: nothing runs but this thread (idempotent; also on every way out).
  void shut_down() noexcept {
    done_ = true;
    try {
      s_.source.stop();
      s_.buffer.close();
      s_.source.shutdown();
    } catch (const std::exception& e) {
      SURGE_LOG(log_, error, "stopping the sample source failed: " << e.what());
    }
    if (watcher_.joinable()) watcher_.join();
  }

  // Stage 7: the ranks agree on the exit code; an interrupted run keeps its batch; rank 0
  // writes the outputs and the summary.
  int finish(surrogates::StopReason reason) {
    const std::string mine = s_.source.error();
    const std::vector<std::string> errors = texts_on_rank0(mine);
    const int code = StopAgreement::exit_code(!mine.empty(), interrupted());
    if (code == 130) keep_interrupted_batch();
    std::string stop_reason = surrogates::to_string(reason);
    if (core::comm_rank(MPI_COMM_WORLD) == 0) {
      const std::string failed = s_.source.describe_errors(errors);
      if (!failed.empty()) {
        stop_reason = failed;
      } else if (code == 130) {
        stop_reason = "interrupted";
      }
    }
    RunSummary summary = s_.source.summarise(elapsed(), stop_reason);
    if (core::comm_rank(MPI_COMM_WORLD) != 0) return code;
    const StudyOutputs outputs =
        write_outputs(s_.out_dir, summary, s_.trainer, s_.validation, s_.io);
    s_.source.report(summary, outputs, s_.trainer.batches(), code);
    if (code != 1 && o_.plots) make_plots(s_.out_dir.string(), log_);
    return code;
  }

  // Interrupted (Ctrl-C, or Slurm's SIGTERM at the time limit) with trainer checkpoints on:
  // the batch reached is kept for --resume, not only the last multiple of checkpoint_every.
  void keep_interrupted_batch() {
    if (o_.interrupt_checkpoint_dir.empty() || core::comm_rank(MPI_COMM_WORLD) != 0 ||
        s_.trainer.batches() == 0)
      return;
    const std::filesystem::path path =
        std::filesystem::path(o_.interrupt_checkpoint_dir) /
        ("checkpoint_" + std::to_string(s_.trainer.batches()) + ".pt");
    try {
      std::filesystem::create_directories(path.parent_path());
      if (!std::filesystem::exists(path)) s_.trainer.save_checkpoint(path.string());
      SURGE_LOG(log_, info,
                "checkpoint at batch " << s_.trainer.batches() << ": " << path.string());
    } catch (const std::exception& e) {
      SURGE_LOG(log_, warn, "the checkpoint at interruption failed: " << e.what());
    }
  }

  [[nodiscard]] double elapsed() const { return s_.earlier_seconds + seconds_since(s_.started); }

  StudyState& s_;
  const PipelineOptions& o_;
  core::Logger log_;
  StopAgreement agreement_;
  std::atomic<bool> done_{false};
  std::thread watcher_;
};

}  // namespace

int run_pipeline(StudyState& state, const PipelineOptions& options) {
  StudyDriver driver(state, options);
  return driver.run();
}

StudyOutputs write_outputs(const std::filesystem::path& out_dir, RunSummary& summary,
                           const surrogates::Trainer& trainer,
                           const surrogates::ValidationSet& validation,
                           const surrogates::IoDescription& io) {
  std::exception_ptr export_error;
  try {
    trainer.export_model((out_dir / "model").string());
  } catch (const core::Error& e) {
    export_error = std::current_exception();
    summary.stop_reason += "; the model was not written: " + e.message();
  }
  StudyOutputs outputs;
  if (io.kind == surrogates::kNextStep && !validation.empty())
    outputs.rollout = trainer.rollout(validation);
  try {
    outputs.metrics = write_results((out_dir / "results.h5").string(), summary, trainer, validation,
                                    io, outputs.rollout ? &*outputs.rollout : nullptr);
  } catch (...) {
    if (export_error) std::rethrow_exception(export_error);
    throw;
  }
  if (export_error) std::rethrow_exception(export_error);
  return outputs;
}

void print_final_metrics(const StudyOutputs& outputs, bool next_step,
                         const std::filesystem::path& out_dir) {
  const char* what = next_step ? "one-step" : "validation";
  for (const auto& f : outputs.metrics.fields) {
    std::printf("  %s %s: relative L2 %.3f %%, NRMSE %.4f, VRMSE %.4f\n", what, f.field.c_str(),
                100.0 * f.relative_l2, f.nrmse, f.vrmse);
  }
  if (outputs.rollout && !outputs.rollout->metrics.empty()) {
    for (const auto& f : outputs.rollout->metrics.back()) {
      std::printf("  rollout (%lld steps) %s: relative L2 %.3f %%, VRMSE %.4f\n",
                  static_cast<long long>(outputs.rollout->horizon.back()), f.field.c_str(),
                  100.0 * f.relative_l2, f.vrmse);
    }
  }
  std::printf("  results: %s\n  model:   %s\n", (out_dir / "results.h5").c_str(),
              (out_dir / "model").c_str());
}

}  // namespace surge::experiments
