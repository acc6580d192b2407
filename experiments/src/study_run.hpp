#pragma once
// The run loop of a study, shared by `surge run` (a fresh study) and `surge resume` (one
// continued from its last study checkpoint).

#include <filesystem>
#include <optional>

#include "study.hpp"
#include "study_checkpoint.hpp"

namespace surge::experiments {

// Where a resumed study continues from (read on every server rank).
struct ResumePoint {
  std::filesystem::path checkpoint;
  StudyRecord record;  // with the validation set
};

// Runs the study on every server rank (collective over MPI_COMM_WORLD): binds the stream,
// starts the members, trains, writes the output directory (rank 0). Returns the exit code:
// 0, 1 when a server thread failed or the launcher gave up (results written where possible),
// 130 when interrupted (results written). The output directory must be ready (created,
// checked) on rank 0.
int run_study(const Study& study, const std::optional<ResumePoint>& resume, bool plots);

// Installs the SIGINT/SIGTERM handler that turns Ctrl-C into a clean stop (under mpirun also
// SIGCONT, Open MPI's first word of a Ctrl-C, and death with mpirun).
void install_interrupt_handler();
// Set once the handler has seen an interrupt.
[[nodiscard]] bool interrupted() noexcept;

}  // namespace surge::experiments
