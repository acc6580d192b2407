#include "online/study_checkpoint.hpp"

#include <fcntl.h>
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "surge/core/atomic_file.hpp"
#include "surge/core/error.hpp"
#include "surge/core/hdf5.hpp"
#include "surge/core/hdf5_atomic.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "surge/experiments/results_writer.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;
namespace h5 = core::h5;

namespace {

constexpr const char* kPrefix = "study_";

// study_<batch>, not a temporary (.partial) or a replaced one (.old).
bool is_checkpoint_name(const std::string& name) {
  const std::size_t n = std::strlen(kPrefix);
  return name.rfind(kPrefix, 0) == 0 && name.size() > n &&
         name.find_first_not_of("0123456789", n) == std::string::npos;
}

std::string rank_file(int rank) { return "rank" + std::to_string(rank) + ".h5"; }

// Whether every rank's `ok` holds (collective).
bool all_ranks(bool ok) {
  int value = ok ? 1 : 0;
  SURGE_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
  return value == 1;
}

// Testing aid: SURGE_TEST_FAIL_CHECKPOINT=<n> makes the n-th checkpoint write of this process
// fail after its files were started (an injected disk error).
bool inject_failure() {
  static int attempts = 0;
  ++attempts;
  const char* n = std::getenv("SURGE_TEST_FAIL_CHECKPOINT");
  return n && std::atoi(n) == attempts;
}

void write_rank_file(hid_t file, const ReceptionState& state,
                     const reservoir::Buffer<reservoir::Sample>& buffer) {
  {
    h5::Group group = h5::create_group(file, "buffer");
    buffer.save(group);
  }
  h5::Group reception = h5::create_group(file, "reception");
  std::vector<std::int64_t> sims, counts, steps, ended;
  for (const auto& [sim, set] : state.steps) {
    sims.push_back(static_cast<std::int64_t>(sim));
    counts.push_back(static_cast<std::int64_t>(set.size()));
    steps.insert(steps.end(), set.begin(), set.end());
  }
  // A complete simulation's steps are 0 .. count-1: written out, so that the format is one.
  for (const auto& [sim, count] : state.complete) {
    sims.push_back(static_cast<std::int64_t>(sim));
    counts.push_back(count);
    for (std::int64_t k = 0; k < count; ++k) steps.push_back(k);
  }
  for (auto sim : state.ended) ended.push_back(static_cast<std::int64_t>(sim));
  h5::write_dataset(reception, "simulations", sims);
  h5::write_dataset(reception, "step_counts", counts);
  h5::write_dataset(reception, "steps", steps);
  h5::write_dataset(reception, "ended", ended);
  h5::write_attribute(reception, "received", state.received);
  h5::write_attribute(reception, "rejected", state.rejected);
  h5::write_attribute(reception, "duplicates", state.duplicates);
  reception.close();
}

void write_study_file(hid_t file, const StudyRecord& r, const surrogates::History& history) {
  h5::write_attribute(file, "format_version", kStudyCheckpointFormat);
  h5::write_attribute(file, "batch", r.batch);
  h5::write_attribute(file, "server_ranks", static_cast<std::int64_t>(r.server_ranks));
  h5::write_attribute(file, "elapsed_seconds", r.elapsed_seconds);
  h5::write_attribute(file, "source_file", r.source_file);
  h5::write_attribute(file, "experiment", r.experiment);
  h5::write_attribute(file, "sampler_draws", r.table.train_draws);
  h5::write_attribute(file, "validation_draws", r.table.validation_draws);
  h5::write_attribute(file, "sampler_state", r.table.sampler_state);
  h5::write_attribute(file, "next_simulation_id", static_cast<std::int64_t>(r.table.next_id));
  {
    h5::Group losses = h5::create_group(file, "member_losses");
    std::vector<std::int64_t> ids, samples, fresh;
    std::vector<double> sums, ratios;
    r.member_losses.for_each([&](std::int64_t id, const surrogates::MemberLoss& l) {
      ids.push_back(id);
      samples.push_back(l.samples);
      sums.push_back(l.loss_sum);
      fresh.push_back(l.fresh_samples);
      ratios.push_back(l.fresh_ratio_sum);
    });
    h5::write_dataset(losses, "simulation_id", ids);
    h5::write_dataset(losses, "samples", samples);
    h5::write_dataset(losses, "loss_sum", sums);
    h5::write_dataset(losses, "fresh_samples", fresh);
    h5::write_dataset(losses, "fresh_ratio_sum", ratios);
  }
  {
    h5::Group members = h5::create_group(file, "members");
    std::vector<std::int64_t> ids, roles, statuses, attempts;
    std::vector<double> parameters;
    std::int64_t width =
        r.members.empty() ? 0 : static_cast<std::int64_t>(r.members[0].parameters.size());
    for (const auto& m : r.members) {
      SURGE_REQUIRE(static_cast<std::int64_t>(m.parameters.size()) == width, Error,
                    "members with different parameter counts");
      ids.push_back(static_cast<std::int64_t>(m.simulation_id));
      roles.push_back(static_cast<std::int64_t>(m.role));
      statuses.push_back(static_cast<std::int64_t>(m.status));
      attempts.push_back(m.attempts);
      parameters.insert(parameters.end(), m.parameters.begin(), m.parameters.end());
    }
    h5::write_attribute(members, "parameter_count", width);
    h5::write_attribute(members, "parameter_names", r.parameter_names);
    h5::write_dataset(members, "simulation_id", ids);
    h5::write_dataset(members, "role", roles);
    h5::write_dataset(members, "status", statuses);
    h5::write_dataset(members, "attempts", attempts);
    h5::write_dataset(members, "parameters", parameters);
  }
  {
    h5::Group assignment = h5::create_group(file, "assignment");
    std::vector<std::int64_t> sims, ranks;
    for (const auto& [sim, rank] : r.assignment) {
      sims.push_back(static_cast<std::int64_t>(sim));
      ranks.push_back(rank);
    }
    h5::write_dataset(assignment, "simulation_id", sims);
    h5::write_dataset(assignment, "server_rank", ranks);
  }
  write_curves(file, history, r.fields);
}

// The validation set, the same for the whole study: written once, beside the checkpoints,
// before the first of them is committed.
void write_validation_once(const fs::path& checkpoints,
                           const std::vector<reservoir::Sample>& validation) {
  const fs::path path = checkpoints / kValidationFile;
  if (fs::exists(path)) return;
  h5::AtomicFile file(path.string());
  file.write([&] {
    h5::Group group = h5::create_group(file, "validation");
    std::vector<const reservoir::Sample*> samples;
    for (const auto& s : validation) samples.push_back(&s);
    reservoir::SampleCodec<reservoir::Sample>::write(group, samples);
  });
  file.commit();
}

// Removes all but the newest `keep` complete checkpoints.
void prune(const fs::path& checkpoints, int keep) {
  std::vector<std::pair<std::int64_t, fs::path>> found;
  for (const auto& entry : fs::directory_iterator(checkpoints)) {
    const std::string name = entry.path().filename().string();
    if (!is_checkpoint_name(name)) continue;
    found.emplace_back(std::atoll(name.c_str() + std::strlen(kPrefix)), entry.path());
  }
  std::sort(found.rbegin(), found.rend());
  for (std::size_t i = static_cast<std::size_t>(std::max(keep, 1)); i < found.size(); ++i) {
    std::error_code ec;
    fs::remove_all(found[i].second, ec);
  }
}

}  // namespace

bool write_study_checkpoint(const fs::path& checkpoints, const StudyRecord& record,
                            const surrogates::Trainer& trainer, const Feeder& feeder,
                            const reservoir::Buffer<reservoir::Sample>& buffer, int keep) {
  const auto began = std::chrono::steady_clock::now();
  const int rank = core::comm_rank(MPI_COMM_WORLD);
  const fs::path final_dir = checkpoints / (kPrefix + std::to_string(trainer.batches()));
  // Rank 0's temporary directory; every rank writes its file into it.
  const fs::path partial = core::partial_path(final_dir.string());
  std::optional<core::AtomicDirectory> directory;
  std::string error;
  auto attempt = [&error](auto&& f) {
    if (!error.empty()) return;
    try {
      f();
    } catch (const core::Error& e) {
      error = e.message();
    } catch (const std::exception& e) {
      error = e.what();
    }
  };
  if (rank == 0) attempt([&] { directory.emplace(final_dir.string()); });
  if (all_ranks(error.empty())) {
    attempt([&] {
      const fs::path path = partial / rank_file(rank);
      h5::AtomicFile file(path.string());
      feeder.paused([&](const ReceptionState& state) {
        file.write([&] { write_rank_file(file, state, buffer); });
      });
      SURGE_REQUIRE(!inject_failure(), IoError,
                    "cannot write '" << path.string() << "': injected failure "
                                     << "(SURGE_TEST_FAIL_CHECKPOINT)");
      file.commit();
    });
    if (all_ranks(error.empty()) && rank == 0) {
      attempt([&] {
        write_validation_once(checkpoints, record.validation);
        trainer.save_checkpoint(directory->file("trainer.pt"));
        h5::AtomicFile study(directory->file("study.h5"));
        study.write([&] { write_study_file(study, record, trainer.history()); });
        study.commit();
        directory->commit();
        prune(checkpoints, keep);
      });
    }
  }
  const bool ok = all_ranks(error.empty());
  if (ok && rank == 0) {
    std::uintmax_t bytes = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(final_dir, ec)) bytes += entry.file_size(ec);
    core::Logger log("checkpoint");
    SURGE_LOG(log, info,
              "study checkpoint "
                  << final_dir.filename().string() << ": " << static_cast<double>(bytes) / 1e6
                  << " MB in "
                  << std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count()
                  << " s");
  }
  if (!ok) {
    if (!error.empty()) {  // the logger names the rank
      core::Logger log("checkpoint");
      SURGE_LOG(log, warn,
                "study checkpoint at batch " << trainer.batches() << " not written: " << error
                                             << "; the previous one is kept and the study goes on");
    }
    directory.reset();  // removes the temporary directory, keeps the previous checkpoints
  }
  return ok;
}

std::optional<fs::path> latest_study_checkpoint(const fs::path& checkpoints) {
  std::error_code ec;
  if (!fs::is_directory(checkpoints, ec)) return std::nullopt;
  std::optional<std::pair<std::int64_t, fs::path>> best;
  for (const auto& entry : fs::directory_iterator(checkpoints, ec)) {
    const std::string name = entry.path().filename().string();
    if (!is_checkpoint_name(name)) continue;
    if (!fs::exists(entry.path() / "study.h5")) continue;
    const std::int64_t batch = std::atoll(name.c_str() + std::strlen(kPrefix));
    if (!best || batch > best->first) best = std::make_pair(batch, entry.path());
  }
  if (!best) return std::nullopt;
  return best->second;
}

StudyRecord read_study_record(const fs::path& checkpoint, bool with_validation) {
  h5::File file = h5::open_file((checkpoint / "study.h5").string());
  const std::int64_t format = h5::read_attribute_int(file, "format_version");
  SURGE_REQUIRE(format >= 1 && format <= kStudyCheckpointFormat, IoError,
                "'" << (checkpoint / "study.h5").string() << "' is study checkpoint format "
                    << format << ", this surge reads 1 to " << kStudyCheckpointFormat);
  StudyRecord r;
  r.batch = h5::read_attribute_int(file, "batch");
  r.server_ranks = static_cast<int>(h5::read_attribute_int(file, "server_ranks"));
  r.elapsed_seconds = h5::read_attribute_double(file, "elapsed_seconds");
  r.source_file = h5::read_attribute_string(file, "source_file");
  r.experiment = h5::read_attribute_string(file, "experiment");
  r.table.train_draws = h5::read_attribute_int(file, "sampler_draws");
  r.table.next_id = static_cast<std::uint64_t>(h5::read_attribute_int(file, "next_simulation_id"));
  if (format >= 3) {
    r.table.validation_draws = h5::read_attribute_int(file, "validation_draws");
    r.table.sampler_state = h5::read_attribute_string(file, "sampler_state");
    h5::Group losses = h5::open_group(file, "member_losses");
    const auto ids = h5::read_dataset<std::int64_t>(losses, "simulation_id");
    const auto samples = h5::read_dataset<std::int64_t>(losses, "samples");
    const auto sums = h5::read_dataset<double>(losses, "loss_sum");
    const auto fresh = h5::read_dataset<std::int64_t>(losses, "fresh_samples");
    const auto ratios = h5::read_dataset<double>(losses, "fresh_ratio_sum");
    SURGE_REQUIRE(samples.size() == ids.size() && sums.size() == ids.size() &&
                      fresh.size() == ids.size() && ratios.size() == ids.size(),
                  IoError,
                  "'" << (checkpoint / "study.h5").string() << "': inconsistent member losses");
    for (std::size_t i = 0; i < ids.size(); ++i)
      r.member_losses.add(ids[i], {samples[i], sums[i], fresh[i], ratios[i]});
  }
  {
    h5::Group members = h5::open_group(file, "members");
    const auto width = static_cast<std::size_t>(h5::read_attribute_int(members, "parameter_count"));
    const auto ids = h5::read_dataset<std::int64_t>(members, "simulation_id");
    const auto roles = h5::read_dataset<std::int64_t>(members, "role");
    const auto statuses = h5::read_dataset<std::int64_t>(members, "status");
    const auto attempts = h5::read_dataset<std::int64_t>(members, "attempts");
    const auto parameters = h5::read_dataset<double>(members, "parameters");
    if (H5Aexists(members, "parameter_names") > 0)
      r.parameter_names = h5::read_attribute_strings(members, "parameter_names");
    SURGE_REQUIRE(roles.size() == ids.size() && statuses.size() == ids.size() &&
                      attempts.size() == ids.size() && parameters.size() == ids.size() * width,
                  IoError,
                  "'" << (checkpoint / "study.h5").string() << "': inconsistent member table");
    for (std::size_t i = 0; i < ids.size(); ++i) {
      MemberRecord m;
      m.simulation_id = static_cast<std::uint64_t>(ids[i]);
      m.role = roles[i] == 0 ? MemberRole::validation : MemberRole::train;
      SURGE_REQUIRE(
          statuses[i] >= 0 && statuses[i] <= static_cast<std::int64_t>(MemberStatus::stopped),
          IoError, "'" << (checkpoint / "study.h5").string() << "': bad member status");
      m.status = static_cast<MemberStatus>(statuses[i]);
      m.attempts = static_cast<int>(attempts[i]);
      m.parameters.assign(parameters.begin() + static_cast<std::ptrdiff_t>(i * width),
                          parameters.begin() + static_cast<std::ptrdiff_t>((i + 1) * width));
      r.members.push_back(std::move(m));
    }
  }
  {
    h5::Group assignment = h5::open_group(file, "assignment");
    const auto sims = h5::read_dataset<std::int64_t>(assignment, "simulation_id");
    const auto ranks = h5::read_dataset<std::int64_t>(assignment, "server_rank");
    SURGE_REQUIRE(sims.size() == ranks.size(), IoError,
                  "'" << (checkpoint / "study.h5").string() << "': inconsistent assignment");
    for (std::size_t i = 0; i < sims.size(); ++i)
      r.assignment[static_cast<std::uint64_t>(sims[i])] = static_cast<int>(ranks[i]);
  }
  if (with_validation) {
    // Format 1 kept it in every checkpoint; format 2 once, beside them.
    if (format == 1) {
      h5::Group validation = h5::open_group(file, "validation");
      r.validation = reservoir::SampleCodec<reservoir::Sample>::read(validation);
    } else {
      const fs::path path = checkpoint.parent_path() / kValidationFile;
      h5::File shared = h5::open_file(path.string());
      h5::Group validation = h5::open_group(shared, "validation");
      r.validation = reservoir::SampleCodec<reservoir::Sample>::read(validation);
    }
  }
  return r;
}

std::map<std::uint64_t, std::int64_t> read_samples_received(const fs::path& checkpoint,
                                                            int server_ranks) {
  std::map<std::uint64_t, std::int64_t> samples;
  for (int rank = 0; rank < server_ranks; ++rank) {
    const fs::path path = checkpoint / rank_file(rank);
    h5::File file = h5::open_file(path.string());
    h5::Group reception = h5::open_group(file, "reception");
    const auto sims = h5::read_dataset<std::int64_t>(reception, "simulations");
    const auto counts = h5::read_dataset<std::int64_t>(reception, "step_counts");
    SURGE_REQUIRE(sims.size() == counts.size(), IoError,
                  "'" << path.string() << "': inconsistent reception");
    for (std::size_t i = 0; i < sims.size(); ++i)
      samples[static_cast<std::uint64_t>(sims[i])] += counts[i];
  }
  return samples;
}

ReceptionState read_rank_state(const fs::path& checkpoint, int rank,
                               reservoir::Buffer<reservoir::Sample>& buffer) {
  const fs::path path = checkpoint / rank_file(rank);
  h5::File file = h5::open_file(path.string());
  {
    h5::Group group = h5::open_group(file, "buffer");
    buffer.load(group);
  }
  h5::Group reception = h5::open_group(file, "reception");
  ReceptionState state;
  const auto sims = h5::read_dataset<std::int64_t>(reception, "simulations");
  const auto counts = h5::read_dataset<std::int64_t>(reception, "step_counts");
  const auto steps = h5::read_dataset<std::int64_t>(reception, "steps");
  SURGE_REQUIRE(sims.size() == counts.size(), IoError,
                "'" << path.string() << "': inconsistent reception");
  std::size_t at = 0;
  for (std::size_t i = 0; i < sims.size(); ++i) {
    SURGE_REQUIRE(counts[i] >= 0 && at + static_cast<std::size_t>(counts[i]) <= steps.size(),
                  IoError, "'" << path.string() << "': inconsistent reception");
    auto& set = state.steps[static_cast<std::uint64_t>(sims[i])];
    for (std::int64_t k = 0; k < counts[i]; ++k) set.insert(steps[at++]);
  }
  for (auto sim : h5::read_dataset<std::int64_t>(reception, "ended"))
    state.ended.insert(static_cast<std::uint64_t>(sim));
  state.received = h5::read_attribute_int(reception, "received");
  state.rejected = h5::read_attribute_int(reception, "rejected");
  state.duplicates = h5::read_attribute_int(reception, "duplicates");
  return state;
}

}  // namespace surge::experiments
