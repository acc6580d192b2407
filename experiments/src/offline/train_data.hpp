#pragma once
// The data of `surge train`: the training and validation files checked before anything
// starts, and the reader thread that turns training trajectories into samples in the buffer
// (the sample builder of `surge run`'s feeder), ahead of the trainer.

#include <atomic>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "offline/well_data.hpp"
#include "surge/experiments/train_config.hpp"
#include "surge/reservoir/buffer.hpp"
#include "surge/reservoir/sample.hpp"

namespace surge::experiments {

// One trajectory of one file: a member of the offline "study".
struct Trajectory {
  std::size_t file = 0;  // index into the files of its role
  std::int64_t index = 0;
  std::uint64_t simulation = 0;
};

// The data files of a training run, checked before anything starts.
struct TrainData {
  WellLayout layout;
  std::vector<WellFile> train, validation;
  std::vector<Trajectory> train_trajectories, validation_trajectories;
  std::uint64_t bytes = 0;
};

// Expands and checks every file of `data` (validation trajectories numbered first). Throws
// ConfigError for an empty data.train, core::IoError naming the file and dataset otherwise.
[[nodiscard]] TrainData scan_data(const DataConfig& data);

// Reads `trajectories` of `data` into `buffer`, in order, `epochs` times, on its own thread:
// `prefetch` frames per HDF5 read, each frame turned into a sample by the builder `surge
// run`'s feeder uses. Each epoch's samples are filed under simulation keys of their own. At
// the end it ends the buffer's reception; on an error it closes the buffer (the trainer must
// not wait) and keeps the error. It stops when the buffer is closed.
class DataReader {
 public:
  DataReader(const TrainData& data, std::vector<Trajectory> trajectories, std::int64_t epochs,
             std::int64_t prefetch, bool next_step, std::int64_t stride,
             reservoir::Buffer<reservoir::Sample>& buffer);
  ~DataReader() { join(); }
  DataReader(const DataReader&) = delete;
  DataReader& operator=(const DataReader&) = delete;

  void start();
  void join();
  // What stopped the thread early, as one line ("" if nothing did; after join()).
  [[nodiscard]] std::string error() const;
  [[nodiscard]] bool failed() const;
  // Samples put into the buffer so far, and by trajectory (its simulation id).
  [[nodiscard]] std::int64_t read() const noexcept { return read_; }
  [[nodiscard]] std::map<std::uint64_t, std::int64_t> samples() const;

 private:
  void run();

  const TrainData& data_;
  const std::vector<Trajectory> trajectories_;
  const std::int64_t epochs_;
  const std::int64_t prefetch_;
  const bool next_step_;
  const std::int64_t stride_;
  reservoir::Buffer<reservoir::Sample>& buffer_;
  mutable std::mutex mutex_;
  std::exception_ptr error_;
  std::map<std::uint64_t, std::int64_t> samples_;
  std::atomic<std::int64_t> read_{0};
  std::thread thread_;
};

// The validation set: every frame of every validation trajectory, in memory; `counts` gets
// the samples of each.
[[nodiscard]] std::vector<reservoir::Sample> read_validation(
    const TrainData& d, bool next_step, std::map<std::uint64_t, std::int64_t>& counts);

}  // namespace surge::experiments
