#pragma once
// What the live page shows of a study (`--serve`, `surge view`): a snapshot of its progress,
// losses, validation metrics, throughput, buffer and member table. LiveBoard holds the one the
// driver updates after each batch; the page's server copies it under the board's mutex and
// turns the copy into JSON without the lock, so it never holds up the trainer.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "surge/experiments/fault_policy.hpp"

namespace surge::experiments {

struct LiveMember {
  std::uint64_t simulation_id = 0;
  std::string role, status, last_error;
  int attempts = 0;
  std::int64_t samples = 0;
  std::vector<double> parameters;  // in the order of LiveMembers::parameter_names
};

// What a sample source tells of itself: the member table of a streamed study, the samples
// received.
struct LiveMembers {
  bool present = false;  // a member table exists (streamed studies)
  int pending = 0, running = 0, done = 0, failed = 0, redrawn = 0, stopped = 0;
  std::vector<LiveMember> rows;
  std::int64_t samples_in = 0;
  std::vector<std::string> parameter_names;  // the study's, in the order of the rows' values
  // Whose samples the counts are: empty for every server rank's; while a study on several
  // server ranks runs, rank 0's share ("server rank 0 of 2"), the total only at its end.
  std::string samples_scope;
};
// The table's rows and counts from the launcher's records, the samples each sent and the
// names of the records' parameters.
[[nodiscard]] LiveMembers live_members(const std::vector<MemberRecord>& members,
                                       const std::map<std::uint64_t, std::int64_t>& samples,
                                       const std::vector<std::string>& parameter_names);

// One frame of a validation member, truth and prediction per channel, as the page draws it:
// every `step`-th node of each axis, so that no side exceeds kLiveImageSide nodes.
inline constexpr std::int64_t kLiveImageSide = 64;
struct LiveImage {
  std::int64_t simulation_id = -1;  // -1: no image (yet, or the fields are not 2-D grids)
  std::string label;                // what the prediction is ("batch 500", "rollout of 20 steps")
  double time = 0.0;                // the frame's time
  std::vector<std::int64_t> grid;   // [n0, n1] of the thinned frame, axis 1 fastest
  std::int64_t step = 1;
  std::vector<std::vector<double>> truth, prediction;  // [channel][n0 * n1]
};
// A frame (every channel after the other, each row-major over `grid`) thinned for the page.
// Returns an image with simulation_id -1 unless `grid` has two axes.
[[nodiscard]] LiveImage live_image(const float* truth, const float* prediction,
                                   const std::vector<std::int64_t>& grid, std::size_t channels);

struct LiveState {
  std::string study, command;  // command: run, train, view
  bool finished = false;
  bool from_checkpoint = false;  // surge view of a study without results.h5
  std::string stop_reason;       // once finished
  int exit_code = 0;
  std::int64_t batch = 0, max_batches = 0;
  double wall_s = 0.0, samples_per_s = 0.0, batches_per_s = 0.0;
  std::int64_t buffer_size = 0, buffer_bytes = 0;
  // Training loss against batch (thinned to at most LiveBoard's points).
  std::vector<double> loss_batch, loss;
  // Validation: the batches, and the relative L2 error per channel [channel][point].
  std::vector<std::string> channels;
  std::vector<double> validation_batch;
  std::vector<std::vector<double>> validation_rel_l2;
  LiveMembers members;
  // Rollout error (next_step models) at each horizon, per channel [channel][horizon].
  std::vector<double> rollout_horizon;
  std::vector<std::vector<double>> rollout_rel_l2;
  LiveImage image;  // the latest truth / prediction of a validation member
};

// The snapshot as the page's JSON (state.json). Non-finite numbers become null.
[[nodiscard]] std::string to_json(const LiveState& state);

// The live state, shared by the driver (writer) and the page's server (reader). Thread-safe.
class LiveBoard {
 public:
  explicit LiveBoard(std::size_t max_points = 2000) : max_points_(max_points) {}

  // One optimizer step: the loss history grows by a point (halved, every other point kept,
  // when it reaches max_points), batches/s is taken over the last few seconds.
  void record_batch(std::int64_t batch, double loss, double samples_per_s, double wall_s);
  // The whole loss history at once (a finished study's: results.h5's rows, which past
  // History::kTrainingRows stand for several batches each), thinned as record_batch thins.
  void replace_loss(std::vector<double> batch, std::vector<double> loss);
  // A validation point: relative L2 error per channel (channels named on the first call).
  void record_validation(std::int64_t batch, const std::vector<std::string>& channels,
                         const std::vector<double>& rel_l2);
  // Any other change, made under the lock: f(LiveState&). f must be quick.
  template <class F>
  void update(F&& f) {
    std::lock_guard<std::mutex> lock(mutex_);
    f(state_);
  }
  [[nodiscard]] LiveState snapshot() const;

 private:
  void thin();  // every other point of the loss history dropped

  mutable std::mutex mutex_;
  std::size_t max_points_;
  LiveState state_;
  std::int64_t rate_batch_ = 0;  // batches/s: the batch and time where the window began
  double rate_wall_ = 0.0;
};

}  // namespace surge::experiments
