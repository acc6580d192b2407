#include "surge/experiments/output_checks.hpp"

#include <fcntl.h>
#include <mpi.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "surge/reservoir/parameters.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kKiB = 1024;
// Per file: HDF5 or zip headers, attributes, surrogate.yaml.
constexpr std::uint64_t kFileOverhead = 64 * kKiB;
constexpr std::uint64_t kLogPerMember = 4 * kKiB;
// Copies of the weights an optimizer keeps (Adam's two moments, the most of any).
constexpr std::uint64_t kOptimizerCopies = 2;
// Members whose predictions results.h5 stores (write_results' and rollout()'s default).
constexpr std::uint64_t kPredictedMembers = 3;
// What `surge run --overwrite` removes from an existing output directory.
constexpr const char* kReplaced[] = {"results.h5", "model", "plots", "logs", "checkpoints"};

std::uint64_t positive(std::int64_t v) { return v > 0 ? static_cast<std::uint64_t>(v) : 0; }

std::string bytes_text(std::uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char text[32];
  std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return text;
}

// `dir` without a trailing separator, absolute.
fs::path directory_path(const std::string& dir) {
  fs::path p = fs::absolute(dir).lexically_normal();
  if (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  return p;
}

// `dir` if it exists, else its nearest existing ancestor (where it will be created).
fs::path existing_base(fs::path dir) {
  std::error_code ec;
  while (!fs::exists(dir, ec) && dir.has_parent_path() && dir != dir.root_path())
    dir = dir.parent_path();
  return dir;
}

// Throws ConfigError unless files can be created in `dir`, or, when it does not exist yet,
// `dir` can be created. `key` names the setting.
void require_writable(const fs::path& dir, const std::string& key) {
  const fs::path base = existing_base(dir);
  std::error_code ec;
  SURGE_REQUIRE(fs::is_directory(base, ec), ConfigError,
                key << " '" << dir.string() << "': '" << base.string() << "' is not a directory");
  int error = 0;
  struct statvfs vfs {};
  if (::statvfs(base.c_str(), &vfs) == 0 && (vfs.f_flag & ST_RDONLY) != 0) {
    error = EROFS;
  } else if (::access(base.c_str(), W_OK | X_OK) != 0) {
    error = errno;
  } else if (base == dir) {
    // Create a file: access() passes where a write may not (root squash, ACLs, quota).
    const fs::path probe = dir / (".surge-write-check-" + std::to_string(::getpid()));
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      error = errno;
    } else {
      ::close(fd);
      ::unlink(probe.c_str());
    }
  }
  if (base == dir) {
    SURGE_REQUIRE(error == 0, ConfigError,
                  key << " '" << dir.string() << "' is not writable: " << std::strerror(error));
  } else {
    SURGE_REQUIRE(error == 0, ConfigError,
                  key << " '" << dir.string() << "' cannot be created in '" << base.string()
                      << "': " << std::strerror(error));
  }
}

// Throws ConfigError if `path` exists without any write permission: its owner protected it.
void require_replaceable(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  SURGE_REQUIRE((st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)) != 0, ConfigError,
                "'" << path.string()
                    << "' is read-only: surge run would replace it (make it writable or move "
                       "it away first)");
}

// Bytes of the files under `path` (a file or a directory tree); 0 if absent.
std::uint64_t bytes_under(const fs::path& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return fs::file_size(path, ec);
  std::uint64_t total = 0;
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

reservoir::BufferParameters buffer_limits(const ExperimentConfig& cfg) {
  reservoir::BufferParameters p;
  const YAML::Node& node = cfg.reservoir.parameters;
  try {
    if (node["capacity"]) p.capacity = node["capacity"].as<std::int64_t>();
    if (node["capacity_bytes"]) p.capacity_bytes = node["capacity_bytes"].as<std::int64_t>();
  } catch (const YAML::Exception&) {
    // The buffer's own factory reports bad values; the defaults are good enough here.
  }
  return p;
}

}  // namespace

OutputEstimate estimate_output(const ExperimentConfig& cfg, const surrogates::IoDescription& io,
                               std::int64_t weights, int server_ranks) {
  const std::uint64_t w = positive(weights);
  const std::uint64_t frames = io.times.size();
  const std::uint64_t outputs = positive(io.output_size());
  const std::uint64_t inputs = positive(io.input_size());
  const std::uint64_t channels = io.fields.size();
  const std::uint64_t validation = positive(cfg.parameters.validation_members);
  const std::uint64_t members = positive(cfg.parameters.train_members) + validation;
  const std::uint64_t batches = std::min<std::uint64_t>(positive(cfg.training.max_batches),
                                                        surrogates::History::kTrainingRows);
  const std::uint64_t validations = std::min<std::uint64_t>(
      cfg.training.validate_every > 0 ? batches / positive(cfg.training.validate_every) + 1 : 1,
      surrogates::History::kValidationRows);
  // Training history: 6 values a row, 3 + 3 per channel a validation (doubles); both bounded
  // (surrogates::History).
  const std::uint64_t history = 8 * (6 * batches + validations * (3 + 3 * channels));

  OutputEstimate e;
  e.model = kFileOverhead + 4 * w;
  // Truth and prediction of every frame of a few validation members (float), the members'
  // table, the training history.
  e.results = kFileOverhead + 2 * 4 * std::min(kPredictedMembers, validation) * frames * outputs +
              members * (8 * inputs + 64) + history;
  const std::uint64_t trainer = kFileOverhead + 4 * w * (1 + kOptimizerCopies) + history;
  if (cfg.training.checkpoint_every > 0) {
    const std::uint64_t written = batches / positive(cfg.training.checkpoint_every);
    const std::uint64_t kept = positive(cfg.training.keep_checkpoints) + 1;  // + the next one
    e.checkpoints += std::min(written, kept) * trainer;
  }
  if (cfg.study.checkpoint_every_s > 0) {
    // A study checkpoint: the trainer, every server rank's buffer, the member table.
    const reservoir::BufferParameters limits = buffer_limits(cfg);
    const std::uint64_t buffer = std::min(positive(limits.capacity) * 4 * (inputs + outputs),
                                          positive(limits.capacity_bytes));
    const std::uint64_t one = trainer + positive(server_ranks) * (kFileOverhead + buffer) +
                              kFileOverhead + members * (8 * inputs + 64);
    e.checkpoints += (positive(cfg.study.checkpoints_kept) + 1) * one;
  }
  e.logs = members * kLogPerMember;
  return e;
}

std::optional<std::string> space_warning(const OutputEstimate& estimate, std::uint64_t free_bytes,
                                         const std::string& dir) {
  if (estimate.total() <= free_bytes) return std::nullopt;
  return "study.output_dir '" + dir + "': the study will write about " +
         bytes_text(estimate.total()) + " (results " + bytes_text(estimate.results) + ", model " +
         bytes_text(estimate.model) + ", checkpoints " + bytes_text(estimate.checkpoints) +
         ", logs " + bytes_text(estimate.logs) + ") but " + bytes_text(free_bytes) +
         " are free: it will not fit";
}

void check_output_directory(const ExperimentConfig& cfg, const surrogates::IoDescription& io,
                            const core::ConfigSource& source, const std::string& output_dir,
                            bool overwrite) {
  const fs::path dir = directory_path(output_dir);
  require_writable(dir, "study.output_dir");
  if (fs::path(cfg.training.checkpoint_dir).is_absolute())
    require_writable(directory_path(cfg.training.checkpoint_dir), "training.checkpoint_dir");
  for (const char* name : {"results.h5", "model", "model/model.pt", "model/surrogate.yaml"})
    require_replaceable(dir / name);

  int ranks = 1, initialized = 0;
  SURGE_MPI_CHECK(MPI_Initialized(&initialized));
  if (initialized) ranks = core::comm_size(MPI_COMM_WORLD);
  const OutputEstimate estimate =
      estimate_output(cfg, io, surrogates::count_weights(cfg.model, io, source), ranks);
  struct statvfs vfs {};
  if (::statvfs(existing_base(dir).c_str(), &vfs) != 0) return;
  std::uint64_t free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  if (overwrite) {
    for (const char* name : kReplaced) free_bytes += bytes_under(dir / name);
  }
  if (const auto warning = space_warning(estimate, free_bytes, dir.string())) {
    const core::Logger log("run");
    SURGE_LOG(log, warn, *warning);
  }
}

}  // namespace surge::experiments
