#pragma once
// Study checkpoints: everything `surge resume` needs to continue a study whose server died.
// A checkpoint is a directory <output_dir>/checkpoints/study_<batch>/ holding
//   study.h5     rank 0: format, batch, server ranks, elapsed time, the experiment as given,
//                the member table (parameters and their names, role, status, attempts), the
//                samplers' positions (format 3: validation draws apart, an adaptive
//                sampler's state), the next simulation id, which server rank each member
//                streams to, the per-member training losses (format 3), and the training and
//                validation curves in results.h5's layout (training/, validation/: what
//                `surge view` shows of a study that crashed)
//   trainer.pt   rank 0: model, optimiser, schedule, normalisers, RNG, batch, curves
//   rank<k>.h5   every server rank: its buffer (contents, seen counts, RNG, statistics) and
//                its reception record (steps made into samples, ends seen, counters)
// and, once per study, <output_dir>/checkpoints/validation.h5: the validation set (format 1
// kept it in every study.h5; both are read).
// Written as study_<batch>.partial/, every file fsynced, then renamed; the newest `keep` are
// kept. A failed write is one warning line: the previous checkpoint stays, the study goes on.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "online/feeder.hpp"
#include "study/member_table.hpp"
#include "surge/experiments/launcher.hpp"
#include "surge/reservoir/buffer.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

inline constexpr std::int64_t kStudyCheckpointFormat = 3;
inline constexpr const char* kValidationFile = "validation.h5";

// Rank 0's part of a checkpoint besides the trainer.
struct StudyRecord {
  std::int64_t batch = 0;
  int server_ranks = 1;
  double elapsed_seconds = 0.0;
  std::string source_file;  // the experiment file (relative paths in it are read from there)
  std::string experiment;   // the experiment as given, overrides applied (YAML)
  std::vector<MemberRecord> members;
  std::vector<std::string> parameter_names;  // of the members' parameters (empty: format 1)
  std::vector<std::string> fields;           // the model's channels, naming the curves
  TablePosition table;  // the samplers' positions (an adaptive one's state), the next id
  std::map<std::uint64_t, int> assignment;  // simulation -> server rank
  // The per-member training losses, reduced over the server ranks (format 3 on).
  surrogates::MemberLosses member_losses;
  std::vector<reservoir::Sample> validation;
};

// Where a resumed study continues from (read on every server rank).
struct ResumePoint {
  std::filesystem::path checkpoint;
  StudyRecord record;  // with the validation set
};

// Writes a checkpoint; collective over MPI_COMM_WORLD (every rank passes its own buffer and
// feeder; `record` and `trainer` are used on rank 0). Returns true on every rank if it was
// written; false (after one warning line from rank 0, the partial directory removed) if any
// rank failed. Throws nothing of its own for I/O: only MPI errors escape.
bool write_study_checkpoint(const std::filesystem::path& checkpoints, const StudyRecord& record,
                            const surrogates::Trainer& trainer, const Feeder& feeder,
                            const reservoir::Buffer<reservoir::Sample>& buffer, int keep);

// The newest complete study checkpoint under `checkpoints`, if any.
[[nodiscard]] std::optional<std::filesystem::path> latest_study_checkpoint(
    const std::filesystem::path& checkpoints);

// Reads study.h5 (the validation set only if `with_validation`). Throws core::IoError.
[[nodiscard]] StudyRecord read_study_record(const std::filesystem::path& checkpoint,
                                            bool with_validation);
// Samples received from each simulation, summed over the checkpoint's rank files.
// Throws core::IoError.
[[nodiscard]] std::map<std::uint64_t, std::int64_t> read_samples_received(
    const std::filesystem::path& checkpoint, int server_ranks);
// Restores this rank's buffer (fresh) and returns its reception record. Throws core::IoError
// or core::ConfigError (another buffer policy or capacity).
[[nodiscard]] ReceptionState read_rank_state(const std::filesystem::path& checkpoint, int rank,
                                             reservoir::Buffer<reservoir::Sample>& buffer);

}  // namespace surge::experiments
