#include "offline/file_source.hpp"

#include <mpi.h>

#include <cstdio>

#include "pipeline/pipeline.hpp"
#include "study/server_mpi.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"

namespace surge::experiments {

namespace {

// Every size-th training trajectory, from `rank` on: this process's share.
std::vector<Trajectory> share_of(const TrainData& data, int rank, int size) {
  std::vector<Trajectory> mine;
  for (std::size_t k = static_cast<std::size_t>(rank); k < data.train_trajectories.size();
       k += static_cast<std::size_t>(size)) {
    mine.push_back(data.train_trajectories[k]);
  }
  return mine;
}

std::string source_of(const WellFile& f, std::int64_t trajectory) {
  return f.trajectories > 1 ? f.path + "#" + std::to_string(trajectory) : f.path;
}

// The trajectories of one role as the members of the offline "study".
void add_members(RunSummary& summary, const std::vector<Trajectory>& list,
                 const std::vector<WellFile>& files, MemberRole role) {
  for (const auto& t : list) {
    MemberRecord m;
    m.simulation_id = t.simulation;
    m.parameters = files[t.file].parameters[static_cast<std::size_t>(t.index)];
    m.role = role;
    m.status = MemberStatus::done;
    m.attempts = 1;
    summary.members.push_back(m);
    summary.member_sources.push_back(source_of(files[t.file], t.index));
  }
}

// Samples in the files' training trajectories (one pass).
std::int64_t in_files(const TrainData& data) {
  return static_cast<std::int64_t>(data.train_trajectories.size()) * data.layout.frames;
}

}  // namespace

FileSource::FileSource(const TrainConfig& cfg, const TrainData& data, bool next_step,
                       reservoir::Buffer<reservoir::Sample>& buffer)
    : cfg_(cfg),
      data_(data),
      next_step_(next_step),
      rank_(core::comm_rank(MPI_COMM_WORLD)),
      size_(core::comm_size(MPI_COMM_WORLD)),
      buffer_(buffer),
      validation_(read_validation(data, next_step, validation_samples_)),
      my_frames_(static_cast<std::int64_t>(share_of(data, rank_, size_).size()) *
                 data.layout.frames * cfg.data.epochs),
      reader_(data, share_of(data, rank_, size_), cfg.data.epochs, cfg.data.prefetch_frames,
              next_step, cfg.samples.stride, buffer) {
  core::Logger log("train");
  SURGE_LOG(
      log, info,
      "study '" << cfg.study.name << "': " << data.train_trajectories.size() << " training and "
                << data.validation_trajectories.size() << " validation trajectories ("
                << validation_.size() << " validation samples)"
                << (size_ > 1 ? ", read by " + std::to_string(size_) + " processes" : "")
                << ", output in " << std::filesystem::absolute(cfg.study.output_dir).string());
}

void FileSource::shutdown() {
  buffer_.close();
  reader_.join();
  if (joined_) return;
  joined_ = true;
  const std::string e = reader_.error();
  if (!e.empty()) {
    core::Logger log("train");
    SURGE_LOG(log, error, "reading the training files failed: " << e);
  }
}

std::string FileSource::progress(const surrogates::TrainingRecord& r) const {
  char detail[160];
  std::snprintf(detail, sizeof detail, "loss %.3e, %lld of %lld samples read%s, %.0f samples/s",
                r.loss, static_cast<long long>(reader_.read()),
                static_cast<long long>(size_ > 1 ? my_frames_ : in_files(data_) * cfg_.data.epochs),
                size_ > 1 ? " on rank 0" : "", r.samples_per_second);
  return detail;
}

// A file that fails while it is read ends training; what was trained is still written, with
// the reason in stop_reason: the first failing rank's error.
std::string FileSource::describe_errors(const std::vector<std::string>& by_rank) const {
  for (std::size_t k = 0; k < by_rank.size(); ++k) {
    if (by_rank[k].empty()) continue;
    return "data error: " + (size_ > 1 ? "rank " + std::to_string(k) + ": " : std::string()) +
           by_rank[k];
  }
  return {};
}

// Samples by trajectory: every process read the whole validation set, rank 0 counts it.
RunSummary FileSource::summarise(double seconds, const std::string& stop_reason) {
  std::map<std::uint64_t, std::int64_t> samples;
  if (rank_ == 0) samples = validation_samples_;
  for (const auto& [sim, n] : reader_.samples()) samples[sim] = n;
  std::int64_t received = 0;
  for (const auto& [sim, n] : samples) received += n;
  const ServerTotals totals = reduce_to_rank0(samples, received, buffer_.statistics());
  read_total_ = reader_.read();
  if (size_ > 1) {
    SURGE_MPI_CHECK(MPI_Reduce(rank_ == 0 ? MPI_IN_PLACE : &read_total_, &read_total_, 1,
                               MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD));
  }
  RunSummary summary;
  if (rank_ != 0) return summary;
  summary.study = cfg_.study.name;
  summary.resolved_config = core::to_yaml_text(core::dump_config(cfg_));
  summary.parameter_names = data_.layout.parameter_names;
  add_members(summary, data_.validation_trajectories, data_.validation, MemberRole::validation);
  add_members(summary, data_.train_trajectories, data_.train, MemberRole::train);
  summary.samples = totals.samples;
  summary.server_ranks = totals.ranks;
  summary.reservoir_policy = cfg_.reservoir.type;
  summary.reservoir = totals.statistics;
  summary.seconds = seconds;
  summary.stop_reason = stop_reason;
  return summary;
}

void FileSource::report(const RunSummary& summary, const StudyOutputs& outputs,
                        std::int64_t batches, int /*code*/) const {
  const std::int64_t epochs = cfg_.data.epochs;
  std::printf(
      "surge train %s: %zu training trajectories from %zu file(s), %lld samples read (%lld in "
      "the files%s), %zu validation trajectories, %lld batches, %.1f s\n",
      cfg_.study.name.c_str(), data_.train_trajectories.size(), data_.train.size(),
      static_cast<long long>(read_total_), static_cast<long long>(in_files(data_)),
      epochs > 1 ? (", " + std::to_string(epochs) + " epochs").c_str() : "",
      data_.validation_trajectories.size(), static_cast<long long>(batches), summary.seconds);
  print_final_metrics(outputs, next_step_, std::filesystem::absolute(cfg_.study.output_dir));
  std::fflush(stdout);
  if (summary.stop_reason.rfind("data error: ", 0) == 0) {
    std::fprintf(stderr, "surge: %s (results written, stop_reason says so)\n",
                 summary.stop_reason.c_str());
  }
}

}  // namespace surge::experiments
