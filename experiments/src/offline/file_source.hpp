#pragma once
// Well-layout HDF5 files as a study's sample source (`surge train`; experiments/README.md,
// "Offline training"): the validation trajectories read whole on every rank, and a reader
// thread (train_data.hpp) that puts this rank's share of the training trajectories into its
// buffer ahead of the trainer, built as `surge run` builds streamed samples.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "offline/train_data.hpp"
#include "pipeline/sample_source.hpp"
#include "surge/experiments/train_config.hpp"

namespace surge::experiments {

class FileSource final : public SampleSource {
 public:
  // Reads the validation set now (every rank, the whole of it); this rank reads every
  // size-th training trajectory, `cfg.data.epochs` times. `data` outlives the source.
  FileSource(const TrainConfig& cfg, const TrainData& data, bool next_step,
             reservoir::Buffer<reservoir::Sample>& buffer);
  ~FileSource() override { shutdown(); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  [[nodiscard]] const char* what_stops() const override { return "the reader"; }
  void start() override { reader_.start(); }
  [[nodiscard]] std::vector<reservoir::Sample> validation() override { return validation_; }
  [[nodiscard]] std::string error() const override { return reader_.error(); }
  // The reader stops when its buffer is closed.
  void stop() override { buffer_.close(); }
  // Nothing is waited for once training ends.
  [[nodiscard]] bool drained() const override { return true; }
  void shutdown() override;
  [[nodiscard]] std::string progress(const surrogates::TrainingRecord& r) const override;
  [[nodiscard]] std::string describe_errors(const std::vector<std::string>& by_rank) const override;
  [[nodiscard]] RunSummary summarise(double seconds, const std::string& stop_reason) override;
  void report(const RunSummary& summary, const StudyOutputs& outputs, std::int64_t batches,
              int code) const override;

 private:
  const TrainConfig& cfg_;
  const TrainData& data_;
  const bool next_step_;
  const int rank_, size_;
  reservoir::Buffer<reservoir::Sample>& buffer_;
  std::map<std::uint64_t, std::int64_t> validation_samples_;  // by trajectory
  std::vector<reservoir::Sample> validation_;
  std::int64_t my_frames_ = 0;  // frames this rank reads, over every epoch
  DataReader reader_;
  bool joined_ = false;
  std::int64_t read_total_ = 0;  // samples read by every rank (rank 0, after summarise)
};

}  // namespace surge::experiments
