#include "offline/train_data.hpp"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>

#include "surge/core/error.hpp"
#include "surge/experiments/sample_builder.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

TrainData scan_data(const DataConfig& data) {
  SURGE_REQUIRE(!data.train.empty(), ConfigError,
                "data.train: required: the files to train on (paths or globs)");
  TrainData d;
  const auto train = expand_data_files(data.train, "data.train");
  const auto validation = expand_data_files(data.validation, "data.validation");
  for (const auto& v : validation) {
    for (const auto& t : train) {
      SURGE_REQUIRE(fs::absolute(v).lexically_normal() != fs::absolute(t).lexically_normal(),
                    IoError,
                    v << ": listed in both data.train and data.validation (validation data is "
                         "never trained on)");
    }
  }
  d.layout = read_well_layout(train.front(), data.fields);
  std::uint64_t next = 0;
  for (const auto& path : validation) {
    d.validation.push_back(scan_well_file(path, d.layout));
    for (std::int64_t k = 0; k < d.validation.back().trajectories; ++k)
      d.validation_trajectories.push_back({d.validation.size() - 1, k, next++});
    d.bytes += d.validation.back().bytes;
  }
  for (const auto& path : train) {
    d.train.push_back(scan_well_file(path, d.layout));
    for (std::int64_t k = 0; k < d.train.back().trajectories; ++k)
      d.train_trajectories.push_back({d.train.size() - 1, k, next++});
    d.bytes += d.train.back().bytes;
  }
  return d;
}

DataReader::DataReader(const TrainData& data, std::vector<Trajectory> trajectories,
                       std::int64_t epochs, std::int64_t prefetch, bool next_step,
                       std::int64_t stride, reservoir::Buffer<reservoir::Sample>& buffer)
    : data_(data),
      trajectories_(std::move(trajectories)),
      epochs_(epochs),
      prefetch_(prefetch),
      next_step_(next_step),
      stride_(stride),
      buffer_(buffer) {}

void DataReader::start() {
  thread_ = std::thread([this] {
    try {
      run();
      buffer_.end_of_reception();
    } catch (...) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        error_ = std::current_exception();
      }
      buffer_.close();  // the trainer must not wait for samples that will not come
    }
  });
}

void DataReader::join() {
  if (thread_.joinable()) thread_.join();
}

std::string DataReader::error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!error_) return {};
  try {
    std::rethrow_exception(error_);
  } catch (const core::Error& e) {
    return e.message();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

bool DataReader::failed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_ != nullptr;
}

std::map<std::uint64_t, std::int64_t> DataReader::samples() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return samples_;
}

void DataReader::run() {
  const WellLayout& layout = data_.layout;
  SampleBuilder builder(layout.fields, static_cast<std::size_t>(layout.grid[0] * layout.grid[1]),
                        !next_step_);
  std::size_t open_file = data_.train.size();
  std::unique_ptr<WellReader> reader;
  // Each epoch's samples are new ones to the buffer: they are filed under simulation keys
  // of their own (a trajectory buffer pairs the steps of one key).
  const auto keys = static_cast<std::uint64_t>(data_.train_trajectories.size() +
                                               data_.validation_trajectories.size());
  for (std::int64_t epoch = 0; epoch < epochs_; ++epoch) {
    for (const auto& t : trajectories_) {
      if (t.file != open_file) {
        reader.reset();  // one file open at a time
        reader = std::make_unique<WellReader>(data_.train[t.file], layout);
        open_file = t.file;
      }
      const std::uint64_t key = t.simulation + static_cast<std::uint64_t>(epoch) * keys;
      for (std::int64_t first = 0; first < layout.frames; first += prefetch_) {
        const std::int64_t count = std::min(prefetch_, layout.frames - first);
        // The frames as views of what HDF5 read: the sample builder's copy is the only one.
        std::int64_t put = 0;
        auto book = [&] {  // once a chunk, not once a sample
          if (put == 0) return;
          std::lock_guard<std::mutex> lock(mutex_);
          samples_[t.simulation] += put;
          read_ += put;
        };
        for (const auto& field : reader->read_views(t.index, first, count, key)) {
          std::optional<reservoir::Sample> sample = builder.add(field);
          if (!sample) continue;
          if (next_step_) stride_key(*sample, stride_);
          if (!buffer_.put(std::move(*sample))) {  // closed: training is over
            book();
            return;
          }
          ++put;
        }
        book();
      }
      (void)builder.forget(key);
    }
  }
}

// The validation set: every frame of every validation trajectory, in memory.
std::vector<reservoir::Sample> read_validation(const TrainData& d, bool next_step,
                                               std::map<std::uint64_t, std::int64_t>& counts) {
  std::vector<reservoir::Sample> out;
  SampleBuilder builder(d.layout.fields,
                        static_cast<std::size_t>(d.layout.grid[0] * d.layout.grid[1]), !next_step);
  std::size_t open_file = d.validation.size();
  std::unique_ptr<WellReader> reader;
  for (const auto& t : d.validation_trajectories) {
    if (t.file != open_file) {
      reader.reset();
      reader = std::make_unique<WellReader>(d.validation[t.file], d.layout);
      open_file = t.file;
    }
    for (const auto& field : reader->read(t.index, 0, d.layout.frames, t.simulation)) {
      if (auto sample = builder.add(field)) {
        out.push_back(std::move(*sample));
        ++counts[t.simulation];
      }
    }
  }
  return out;
}

}  // namespace surge::experiments
