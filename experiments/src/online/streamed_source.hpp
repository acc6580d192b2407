#pragma once
// The streamed ensemble as a study's sample source (`surge run`, `surge resume`): every
// server rank binds a receiver and feeds its buffer through its feeder; rank 0 also runs the
// front (the members' handshakes) and the launcher, and the ranks talk over their control
// channel (server_control.hpp). Members stream, the feeders turn fields into samples, study
// checkpoints (study_checkpoint.hpp) keep what a resumed study needs.

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "online/feeder.hpp"
#include "online/server_control.hpp"
#include "online/study_checkpoint.hpp"
#include "pipeline/sample_source.hpp"
#include "study/member_table.hpp"
#include "study/study.hpp"
#include "surge/streaming/front.hpp"
#include "surge/streaming/receiver.hpp"

namespace surge::experiments {

class StreamedSource final : public SampleSource {
 public:
  // Binds the stream on every rank (collective over MPI_COMM_WORLD): receiver, control channel,
  // front (rank 0), feeder (started), and on rank 0 the launcher (not started). With `resume`,
  // this rank's buffer and reception continue from the checkpoint. `member_cpus`: the cores
  // rank 0's local members run on (empty: its own). Throws core::Error.
  StreamedSource(const Study& study, std::optional<ResumePoint> resume,
                 reservoir::Buffer<reservoir::Sample>& buffer, const surrogates::Trainer& trainer,
                 std::vector<int> member_cpus = {});
  ~StreamedSource() override;
  StreamedSource(const StreamedSource&) = delete;
  StreamedSource& operator=(const StreamedSource&) = delete;

  [[nodiscard]] const char* what_stops() const override { return "the members"; }
  void start() override;
  [[nodiscard]] std::vector<reservoir::Sample> validation() override;
  [[nodiscard]] std::string error() const override;
  void stop() override;
  void halt() override { feeder_->stop(); }
  [[nodiscard]] bool drained() const override { return feeder_->over(); }
  bool training_ended(const char* why) override;
  void shutdown() override;
  // Every kLossRefreshBatches batches, an adaptive sampler gets the losses of every rank.
  void after_batch(const surrogates::TrainingRecord& record) override;
  [[nodiscard]] std::string progress(const surrogates::TrainingRecord& r) const override;
  [[nodiscard]] LiveMembers describe_live() const override;
  void write_checkpoint(double elapsed_s, const surrogates::ValidationSet& validation) override;
  [[nodiscard]] std::string describe_errors(const std::vector<std::string>& by_rank) const override;
  [[nodiscard]] RunSummary summarise(double seconds, const std::string& stop_reason) override;
  void report(const RunSummary& summary, const StudyOutputs& outputs, std::int64_t batches,
              int code) const override;

 private:
  void bind_stream();
  void make_feeder(ReceptionState restored);
  // `first`: the table's initial members (drawn once), or the checkpoint's.
  void make_launcher(const std::vector<MemberRecord>& first, const std::set<std::uint64_t>& ended);
  void start_control();
  void wait_for_validation_members();

  const Study& study_;
  const std::optional<ResumePoint> resume_;
  reservoir::Buffer<reservoir::Sample>& buffer_;
  const surrogates::Trainer& trainer_;
  const int rank_, size_;
  const std::vector<int> member_cpus_;
  std::unique_ptr<streaming::Receiver> receiver_;
  std::unique_ptr<ServerControl> control_;
  std::vector<std::string> data_endpoints_, control_endpoints_;
  std::unique_ptr<streaming::Front> front_;  // rank 0
  std::unique_ptr<Feeder> feeder_;
  std::unique_ptr<MemberTable> table_;
  std::unique_ptr<Launcher> launcher_;  // rank 0
  std::mutex stop_mutex_;               // Launcher::stop() joins its thread
};

}  // namespace surge::experiments
