// The resolved study's small services: its buffer, its output directory, the executable.
#include "study/study.hpp"

#include <unistd.h>

#include "surge/core/error.hpp"
#include "surge/reservoir/registry.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

std::string self_executable() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  SURGE_REQUIRE(!ec, IoError,
                "cannot find the surge executable (/proc/self/exe): " << ec.message());
  return p.string();
}

std::unique_ptr<reservoir::Buffer<reservoir::Sample>> make_buffer(const Study& study) {
  return make_buffer(study.cfg.reservoir, study.cfg.model, study.cfg.training, study.source);
}

std::unique_ptr<reservoir::Buffer<reservoir::Sample>> make_buffer(
    const core::Pluggable& reservoir, const core::Pluggable& model,
    const surrogates::TrainingConfig& training, const core::ConfigSource& source) {
  auto buffer = reservoir::buffer_registry<reservoir::Sample>()
                    .at(reservoir.type)
                    .create(reservoir.parameters, source, "reservoir.parameters");
  if (surrogates::model_kind(model.type) == surrogates::kNextStep) {
    const std::int64_t window = buffer->window_length();
    SURGE_REQUIRE(reservoir.type == "trajectory" && window == training.rollout_steps + 1,
                  ConfigError,
                  "model type '" << model.type << "' learns next_step samples: it needs "
                                 << "reservoir type trajectory with window = "
                                 << "training.rollout_steps + 1 = " << training.rollout_steps + 1
                                 << " (got " << reservoir.type << ", window " << window << ")");
  }
  return buffer;
}

// The output directory of a fresh study: absent, empty, or reused with --overwrite (rank 0
// then removes what an earlier study left).
void prepare_output_dir(const fs::path& out_dir, bool overwrite, int rank) {
  std::error_code ec;
  const bool exists = fs::exists(out_dir, ec);
  SURGE_REQUIRE(!exists || fs::is_directory(out_dir, ec), ConfigError,
                "study.output_dir '" << out_dir.string() << "' is a file");
  SURGE_REQUIRE(!exists || overwrite || fs::is_empty(out_dir, ec), ConfigError,
                "study.output_dir '" << out_dir.string()
                                     << "' exists and is not empty (use --overwrite"
                                     << (fs::exists(out_dir / "checkpoints", ec)
                                             ? ", or `surge resume " + out_dir.string() +
                                                   "` to continue the study it holds"
                                             : std::string())
                                     << ")");
  // Every rank checks before rank 0 creates anything: a rank still checking would find the
  // directory rank 0 just made and fail alone, leaving the others in a collective.
  SURGE_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
  if (rank != 0) return;
  if (overwrite && exists) {
    for (const char* stale :
         {"results.h5", "model", "plots", "logs", "checkpoints", kEndpointFile}) {
      fs::remove_all(out_dir / stale);
    }
  }
  fs::create_directories(out_dir / "logs");
}

}  // namespace surge::experiments
