// The study driver: a short sequence of named stages over the state in StudyState. Every rank
// runs the same stages; the source does what differs between the streamed ensemble and the
// files.
#include "pipeline/pipeline.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <memory>
#include <thread>

#include "live/live_prediction.hpp"
#include "live/live_results.hpp"
#include "live/live_server.hpp"
#include "live/live_state.hpp"
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
    open_page();
    s_.source.start();
  }

  // The live page (rank 0, --serve): served from the driver's board. A page that cannot be
  // served costs the study one log line.
  void open_page() {
    if (o_.serve.empty() || core::comm_rank(MPI_COMM_WORLD) != 0) return;
    board_.update([&](LiveState& l) {
      l.study = o_.study_name;
      l.command = o_.component;
      l.max_batches = o_.max_batches;
    });
    try {
      page_ = std::make_unique<LiveServer>(
          parse_serve_address(o_.serve), [this] { return to_json(board_.snapshot()); },
          s_.out_dir / "live_url");
      SURGE_LOG(log_, info, "live page: " << page_->url());
      describer_ = std::thread([this] { describe_source(); });
    } catch (const core::Error& e) {
      SURGE_LOG(log_, error, e.message() << "; the study goes on without it");
    } catch (const std::exception& e) {
      SURGE_LOG(log_, error, e.what() << "; the study goes on without it");
    }
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
          s_.source.after_batch(r);
          progress.update(r.batch, s_.source.progress(r));
          publish(r);
        });
    progress.finish(s_.trainer.batches(), surrogates::to_string(reason));
    return reason;
  }

  // The live page's board after a batch: the loss point and new validation points. Never
  // throws: the page goes off.
  void publish(const surrogates::TrainingRecord& r) {
    if (!page_) return;
    try {
      board_.record_batch(r.batch, r.loss, r.samples_per_second, elapsed());
      bool fresh = false;
      for (const auto& v : s_.trainer.history().validation) {
        if (v.batch <= validation_shown_) continue;
        show_validation(v);
        validation_shown_ = v.batch;
        fresh = true;
      }
      if (fresh) show_prediction(r.batch);
    } catch (const std::exception& e) {
      SURGE_LOG(log_, error, "the live page stops: " << e.what());
      page_.reset();
    }
  }

  // After a validation point: the model's image of a validation member (and the rollout of
  // next_step models). A failure costs the page its image, not the study.
  void show_prediction(std::int64_t batch) {
    if (!images_) return;
    try {
      LivePrediction p = predict_for_page(s_.trainer, s_.validation, s_.io, batch);
      board_.update([&](LiveState& l) {
        l.image = std::move(p.image);
        if (p.has_rollout) set_rollout(l, p.rollout);
      });
    } catch (const std::exception& e) {
      SURGE_LOG(log_, warn, "the live page shows no prediction images: " << e.what());
      images_ = false;
    }
  }

  // The page's thread beside the trainer's: twice a second, the buffer's fill and the source's
  // member table onto the board (from the start, while the validation set gathers too).
  void describe_source() noexcept {
    try {
      while (!done_) {
        LiveMembers members = s_.source.describe_live();
        const std::int64_t size = s_.buffer.size(), bytes = s_.buffer.bytes();
        board_.update([&](LiveState& l) {
          if (!l.finished) l.members = std::move(members);
          l.buffer_size = size;
          l.buffer_bytes = bytes;
        });
        for (int i = 0; i < 10 && !done_; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    } catch (const std::exception& e) {
      SURGE_LOG(log_, error, "the live page's member table stops: " << e.what());
    }
  }

  void show_validation(const surrogates::ValidationRecord& v) {
    std::vector<std::string> names;
    std::vector<double> rel_l2;
    for (const auto& f : v.fields) {
      names.push_back(f.field);
      rel_l2.push_back(f.relative_l2);
    }
    board_.record_validation(v.batch, names, rel_l2);
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
    if (describer_.joinable()) describer_.join();
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
    // Collective, before summarise(), which may throw on rank 0.
    surrogates::MemberLosses losses = reduce_member_losses(s_.trainer.member_losses());
    RunSummary summary = s_.source.summarise(elapsed(), stop_reason);
    summary.member_losses = std::move(losses);
    if (core::comm_rank(MPI_COMM_WORLD) != 0) return code;
    const StudyOutputs outputs =
        write_outputs(s_.out_dir, summary, s_.trainer, s_.validation, s_.io);
    s_.source.report(summary, outputs, s_.trainer.batches(), code);
    show_end(summary, outputs, code);
    if (code != 1 && o_.plots) make_plots(s_.out_dir.string(), log_);
    linger();
    return code;
  }

  // The page's last state: what results.h5 holds (members, rollout), the stop reason.
  void show_end(const RunSummary& summary, const StudyOutputs& outputs, int code) {
    if (!page_) return;
    LiveMembers members;
    if (!summary.members.empty())
      members = live_members(summary.members, summary.samples, summary.parameter_names);
    LiveImage image;  // the image results.h5 ends with, as `surge view` shows it
    try {
      image = read_live_image(s_.out_dir / "results.h5");
    } catch (const std::exception& e) {
      SURGE_LOG(log_, warn, "the live page keeps its last image: " << e.what());
    }
    // The loss curve as results.h5 holds it: past History::kTrainingRows its rows are means
    // over several batches, which the last point drawn during the run (one batch's) is not.
    std::vector<double> batch, loss;
    for (const auto& r : s_.trainer.history().training) {
      batch.push_back(static_cast<double>(r.batch));
      loss.push_back(r.loss);
    }
    if (!batch.empty()) board_.replace_loss(std::move(batch), std::move(loss));
    board_.update([&](LiveState& l) {
      if (image.simulation_id >= 0) l.image = std::move(image);
      l.finished = true;
      l.stop_reason = summary.stop_reason;
      l.exit_code = code;
      l.wall_s = summary.seconds;
      if (members.present) l.members = std::move(members);
      if (outputs.rollout) set_rollout(l, *outputs.rollout);
    });
  }

  // The page stays up o_.serve_linger_s after the study (for a last look); Ctrl-C ends it.
  void linger() {
    if (!page_ || o_.serve_linger_s <= 0) return;
    SURGE_LOG(
        log_, info,
        "the live page stays up " << o_.serve_linger_s << " s (Ctrl-C ends it): " << page_->url());
    const auto until = Clock::now() + std::chrono::duration<double>(o_.serve_linger_s);
    while (Clock::now() < until && !interrupted())
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
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
  LiveBoard board_;
  std::int64_t validation_shown_ = 0;  // batch of the last validation point on the page
  bool images_ = true;                 // the page shows prediction images
  std::unique_ptr<LiveServer> page_;   // after board_: stopped before the board goes
  std::thread describer_;
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
