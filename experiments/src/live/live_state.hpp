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
};

// What a sample source tells of itself: the member table of a streamed study, the samples
// received.
struct LiveMembers {
  bool present = false;  // a member table exists (streamed studies)
  int pending = 0, running = 0, done = 0, failed = 0, redrawn = 0, stopped = 0;
  std::vector<LiveMember> rows;
  std::int64_t samples_in = 0;
};
// The table's rows and counts from the launcher's records and the samples each sent.
[[nodiscard]] LiveMembers live_members(const std::vector<MemberRecord>& members,
                                       const std::map<std::uint64_t, std::int64_t>& samples);

struct LiveState {
  std::string study, command;  // command: run, train, view
  bool finished = false;
  std::string stop_reason;  // once finished
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
