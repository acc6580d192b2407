#pragma once
// The end of a study on rank 0: model/ exported, results.h5 written, the summary printed.

#include <filesystem>
#include <string>
#include <vector>

#include "server_mpi.hpp"
#include "study.hpp"
#include "surge/experiments/launcher.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

// What the run loop hands over once reception and training are over.
struct StudyOutcome {
  ServerTotals totals;  // every rank's counts, on rank 0
  std::vector<MemberRecord> members;
  std::string stop_reason;
  std::int64_t rejected_fields = 0;
  std::int64_t refused_handshakes = 0;  // members' handshakes the front refused (rank 0)
  double seconds = 0.0;                 // since the study began (across resumes)
  std::vector<std::pair<std::string, std::int64_t>> streaming;  // see RunSummary::streaming
};

// Exports the model, writes results.h5 (rollouts of the validation members for next_step
// models) and prints the summary: members, samples received against expected, metrics.
// Rank 0 only. Throws core::IoError.
void write_study_results(const Study& study, const StudyOutcome& outcome,
                         const surrogates::Trainer& trainer,
                         const surrogates::ValidationSet& validation);

// The command line of `surge run` and `surge train`: one file, key=value overrides, and the
// options --help, --dry-run, --overwrite, --no-plots, --log-level L (applied at once).
struct StudyOptions {
  std::string file;
  std::vector<std::string> overrides;
  bool help = false, dry_run = false, overwrite = false, plots = true;
  bool resume = false;  // --resume: surge train only
};
// Throws core::ConfigError naming the argument (and `surge <command> --help`).
[[nodiscard]] StudyOptions parse_study_options(const std::vector<std::string>& args,
                                               const char* command);

// The closing lines of a study's summary: each channel's metrics (`what`: "validation" or
// "one-step"), the last rollout horizon's if any, and where results.h5 and model/ are.
void print_final_metrics(const surrogates::ValidationRecord& metrics,
                         const surrogates::RolloutResult* rollout, const char* what,
                         const std::filesystem::path& out_dir);

}  // namespace surge::experiments
