#pragma once
// The end of a study on rank 0: model/ exported, results.h5 written, the summary printed.

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

}  // namespace surge::experiments
