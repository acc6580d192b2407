#pragma once
// What `surge run` leaves behind: results.h5 (resolved config, parameter table, training and
// validation curves, reservoir statistics, predictions against truth for a few validation
// members) and the plots made from it by experiments/plot_results.py.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "surge/core/log.hpp"
#include "surge/experiments/launcher.hpp"
#include "surge/reservoir/sample.hpp"
#include "surge/reservoir/statistics.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

// What one server rank received and its buffer did.
struct ServerRankCounts {
  std::int64_t received = 0;       // samples received (validation members included)
  std::int64_t puts = 0;           // samples its buffer took
  std::int64_t rejected_puts = 0;  // samples its buffer refused (after training stopped)
  std::int64_t gets = 0;           // samples it served to its trainer replica
  std::int64_t batches = 0;        // batches it served
};

struct RunSummary {
  std::string study;
  std::string resolved_config;
  std::string mesh;  // the mesh file of fields on nodes ("" none): results.h5 mesh/, the plots
  std::string stop_reason;
  std::vector<std::string> parameter_names;  // columns of the parameter table
  std::vector<MemberRecord> members;
  // Where each member's frames were read from (surge train: "FILE" or "FILE#trajectory");
  // empty for streamed members. Written as the members/ attribute source.
  std::vector<std::string> member_sources;
  std::map<std::uint64_t, std::int64_t> samples;  // received, by simulation (all ranks)
  // Training loss by simulation, summed over the server ranks: members/training_loss.
  surrogates::MemberLosses member_losses;
  std::vector<ServerRankCounts> server_ranks;  // by MPI rank of the server
  std::string reservoir_policy;
  // Summed over the server ranks' buffers; the occupancy series is server rank 0's.
  reservoir::Statistics reservoir;
  double seconds = 0.0;
  std::int64_t rejected_fields = 0;     // fields the sample builder could not use (rank 0)
  std::int64_t refused_handshakes = 0;  // members' handshakes the front refused
  // Counters of the streaming layer by name (refused_<reason>, handshake_failures,
  // rejected_<kind>, duplicates, feeder_<drop>), summed over the server ranks: the
  // attributes of the streaming/ group.
  std::vector<std::pair<std::string, std::int64_t>> streaming;
};

// Writes `path` (as path.partial, synced, checked and renamed when complete: see
// core::h5::AtomicFile) and returns the final validation metrics of the trainer on
// `validation` (one-step metrics for next_step models), also per validation member
// (final_validation/relative_l2_per_member). Up to `predicted_members` validation
// members get their frames predicted and stored beside the truth; for next_step models the
// predictions are the rollouts of `rollout`, which also fills the `rollout/` group (error
// against horizon). Throws core::IoError "cannot write '<path>': <OS error>"; a file already
// at `path` is then left as it was, and no temporary remains.
// results.h5's training/ and validation/ groups from a trainer's curves (written into each
// study checkpoint's study.h5 as well, so that `surge view` shows a study that crashed).
void write_curves(hid_t file, const surrogates::History& history,
                  const std::vector<std::string>& fields);

surrogates::ValidationRecord write_results(const std::string& path, const RunSummary& summary,
                                           const surrogates::Trainer& trainer,
                                           const surrogates::ValidationSet& validation,
                                           const surrogates::IoDescription& io,
                                           const surrogates::RolloutResult* rollout = nullptr,
                                           int predicted_members = 3);

// Runs experiments/plot_results.py with Debian's /usr/bin/python3 on `output_dir`; says what
// it did, or why it could not (no python3, no h5py/matplotlib, script missing).
void make_plots(const std::string& output_dir, const core::Logger& log);

}  // namespace surge::experiments
