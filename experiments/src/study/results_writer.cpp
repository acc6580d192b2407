#include "surge/experiments/results_writer.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>

#include "surge/core/error.hpp"
#include "surge/core/hdf5.hpp"
#include "surge/core/hdf5_atomic.hpp"
#include "surge/core/mesh_hdf5.hpp"
#include "surge/core/version.hpp"
#include "surge/reservoir/statistics.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;
namespace h5 = core::h5;

namespace {

template <class T, class F>
std::vector<T> column(const std::vector<surrogates::TrainingRecord>& records, F f) {
  std::vector<T> out;
  out.reserve(records.size());
  for (const auto& r : records) out.push_back(static_cast<T>(f(r)));
  return out;
}

void write_members(hid_t file, const RunSummary& s) {
  h5::Group g = h5::create_group(file, "members");
  std::vector<std::int64_t> ids, attempts, samples, trained;
  std::vector<std::string> roles, statuses, errors;
  std::vector<double> params, loss, fresh;
  for (const auto& m : s.members) {
    ids.push_back(static_cast<std::int64_t>(m.simulation_id));
    attempts.push_back(m.attempts);
    const auto it = s.samples.find(m.simulation_id);
    samples.push_back(it == s.samples.end() ? 0 : it->second);
    const surrogates::MemberLoss* l =
        s.member_losses.find(static_cast<std::int64_t>(m.simulation_id));
    trained.push_back(l != nullptr ? l->samples : 0);
    loss.push_back(l != nullptr ? l->mean_loss() : std::numeric_limits<double>::quiet_NaN());
    fresh.push_back(l != nullptr ? l->fresh_ratio() : std::numeric_limits<double>::quiet_NaN());
    roles.emplace_back(to_string(m.role));
    statuses.emplace_back(to_string(m.status));
    errors.push_back(m.last_error);
    params.insert(params.end(), m.parameters.begin(), m.parameters.end());
  }
  h5::write_dataset(g, "simulation_id", ids);
  h5::write_dataset(g, "attempts", attempts);
  h5::write_dataset(g, "samples", samples);
  h5::write_dataset(g, "trained_samples", trained);
  h5::write_dataset(g, "training_loss", loss);
  h5::write_dataset(g, "fresh_loss_ratio", fresh);
  h5::write_attribute(g, "fresh_loss_ratio_definition",
                      "mean over the member's first items in a batch (8 per server rank, about "
                      "its samples' first times) of their relative L2 error (||prediction - "
                      "target|| / ||target|| in physical units, mean over the fields) divided by "
                      "their batch's mean relative L2 error: the breed sampler's statistic; NaN "
                      "where never trained on");
  h5::write_attribute(g, "training_loss_definition",
                      "mean over the times the member's samples (next_step: windows starting "
                      "in it) were in a batch of their training loss, in the units of "
                      "training/loss; NaN where never trained on (validation members)");
  h5::write_dataset(
      g, "parameters", params,
      {static_cast<hsize_t>(s.members.size()), static_cast<hsize_t>(s.parameter_names.size())});
  // Strings (role, status, last error) are attributes: small, and easy to read from h5py.
  h5::write_attribute(g, "role", roles);
  h5::write_attribute(g, "status", statuses);
  h5::write_attribute(g, "last_error", errors);
  h5::write_attribute(g, "parameter_names", s.parameter_names);
  if (!s.member_sources.empty()) h5::write_attribute(g, "source", s.member_sources);
}

// final_validation/relative_l2_per_member [validation members, channels] (the mean over
// each member's samples, as relative_l2 is over all of them) and the members' ids, in id
// order: worst-case errors compare between studies judged on the same members.
void write_per_member(hid_t group, const surrogates::Trainer& trainer,
                      const surrogates::ValidationSet& validation, std::size_t channels) {
  std::map<std::int64_t, surrogates::ValidationSet> by_member;
  for (const auto& sample : validation.samples)
    by_member[sample.simulation_id].samples.push_back(sample);
  std::vector<std::int64_t> ids;
  std::vector<double> rel;
  for (const auto& [id, set] : by_member) {
    const surrogates::ValidationRecord r = trainer.validate(set);
    ids.push_back(id);
    for (std::size_t k = 0; k < channels; ++k)
      rel.push_back(k < r.fields.size() ? r.fields[k].relative_l2 : 0.0);
  }
  h5::write_dataset(group, "relative_l2_per_member", rel,
                    {static_cast<hsize_t>(ids.size()), static_cast<hsize_t>(channels)});
  h5::write_dataset(group, "simulation_id", ids);
}

void write_training(hid_t file, const surrogates::History& history) {
  h5::Group g = h5::create_group(file, "training");
  const auto& t = history.training;
  h5::write_dataset(g, "batch", column<std::int64_t>(t, [](auto& r) { return r.batch; }));
  h5::write_dataset(g, "loss", column<double>(t, [](auto& r) { return r.loss; }));
  h5::write_dataset(g, "learning_rate", column<double>(t, [](auto& r) { return r.learning_rate; }));
  h5::write_dataset(g, "samples_per_s",
                    column<double>(t, [](auto& r) { return r.samples_per_second; }));
  h5::write_dataset(g, "wall_time_s", column<double>(t, [](auto& r) { return r.wall_seconds; }));
  h5::write_attribute(g, "loss_definition", "MSE of the normalised outputs");
}

void write_validation(hid_t file, const surrogates::History& history,
                      const std::vector<std::string>& fields) {
  h5::Group g = h5::create_group(file, "validation");
  const auto& v = history.validation;
  const std::size_t n = v.size(), f = fields.size();
  std::vector<std::int64_t> batch;
  std::vector<double> wall, loss, rel(n * f), nrmse(n * f), vrmse(n * f);
  for (std::size_t i = 0; i < n; ++i) {
    batch.push_back(v[i].batch);
    wall.push_back(v[i].wall_seconds);
    loss.push_back(v[i].loss);
    for (std::size_t k = 0; k < f && k < v[i].fields.size(); ++k) {
      rel[i * f + k] = v[i].fields[k].relative_l2;
      nrmse[i * f + k] = v[i].fields[k].nrmse;
      vrmse[i * f + k] = v[i].fields[k].vrmse;
    }
  }
  const std::vector<hsize_t> dims = {static_cast<hsize_t>(n), static_cast<hsize_t>(f)};
  h5::write_dataset(g, "batch", batch);
  h5::write_dataset(g, "wall_time_s", wall);
  h5::write_dataset(g, "loss", loss);
  h5::write_dataset(g, "relative_l2", rel, dims);
  h5::write_dataset(g, "nrmse", nrmse, dims);
  h5::write_dataset(g, "vrmse", vrmse, dims);
  h5::write_attribute(g, "field_names", fields);
}

// The predictions/ datasets: members' ids, frame times, truth and prediction of shape `dims`.
void write_prediction_frames(hid_t group, const std::vector<std::int64_t>& ids,
                             const std::vector<double>& times, const std::vector<float>& truth,
                             const std::vector<float>& prediction, const std::vector<hsize_t>& dims,
                             const std::vector<std::string>& fields) {
  h5::write_dataset(group, "simulation_id", ids);
  h5::write_dataset(group, "time", times);
  h5::write_dataset(group, "truth", truth, dims);
  h5::write_dataset(group, "prediction", prediction, dims);
  h5::write_attribute(group, "field_names", fields);
}

// Truth and prediction of every frame of up to `count` validation members.
void write_predictions(hid_t file, const surrogates::Trainer& trainer,
                       const surrogates::ValidationSet& validation,
                       const surrogates::IoDescription& io, int count) {
  h5::Group g = h5::create_group(file, "predictions");
  std::vector<std::int64_t> ids;
  for (const auto& s : validation.samples) {
    if (std::find(ids.begin(), ids.end(), s.simulation_id) == ids.end() &&
        static_cast<int>(ids.size()) < count) {
      ids.push_back(s.simulation_id);
    }
  }
  const std::size_t frames = io.times.size();
  const std::size_t out = static_cast<std::size_t>(io.output_size());
  // Validation samples are indexed by step, which counts frames from the initial state.
  std::vector<float> truth(ids.size() * frames * out, 0.0f), pred(truth.size(), 0.0f);
  std::vector<double> times(io.times);
  for (std::size_t m = 0; m < ids.size(); ++m) {
    std::vector<float> x;
    std::vector<std::size_t> slots;
    for (const auto& s : validation.samples) {
      if (s.simulation_id != ids[m] || s.step < 0 || static_cast<std::size_t>(s.step) >= frames)
        continue;
      x.insert(x.end(), s.x.begin(), s.x.end());
      slots.push_back(static_cast<std::size_t>(s.step));
      std::copy(s.y.begin(), s.y.end(), truth.begin() + (m * frames + slots.back()) * out);
    }
    if (slots.empty()) continue;
    const auto y = trainer.predict(x, static_cast<std::int64_t>(slots.size()));
    for (std::size_t k = 0; k < slots.size(); ++k) {
      std::copy(y.begin() + k * out, y.begin() + (k + 1) * out,
                pred.begin() + (m * frames + slots[k]) * out);
    }
  }
  std::vector<hsize_t> dims = {static_cast<hsize_t>(ids.size()), static_cast<hsize_t>(frames)};
  if (io.fields.size() > 1) dims.push_back(static_cast<hsize_t>(io.fields.size()));
  for (auto e : io.grid) dims.push_back(static_cast<hsize_t>(e));
  write_prediction_frames(g, ids, times, truth, pred, dims, io.fields);
}

// Rollouts of next_step models: metrics at every horizon, and truth / rollout of the kept
// members in the same layout as field-from-parameters predictions.
void write_rollout(hid_t file, const surrogates::RolloutResult& r,
                   const surrogates::IoDescription& io) {
  const std::size_t h = r.horizon.size(), c = io.fields.size();
  {
    h5::Group g = h5::create_group(file, "rollout");
    std::vector<double> rel(h * c), nrmse(h * c), vrmse(h * c);
    for (std::size_t i = 0; i < h; ++i) {
      for (std::size_t k = 0; k < c; ++k) {
        rel[i * c + k] = r.metrics[i][k].relative_l2;
        nrmse[i * c + k] = r.metrics[i][k].nrmse;
        vrmse[i * c + k] = r.metrics[i][k].vrmse;
      }
    }
    const std::vector<hsize_t> dims = {static_cast<hsize_t>(h), static_cast<hsize_t>(c)};
    h5::write_dataset(g, "horizon", r.horizon);
    h5::write_dataset(g, "time", r.time);
    h5::write_dataset(g, "relative_l2", rel, dims);
    h5::write_dataset(g, "nrmse", nrmse, dims);
    h5::write_dataset(g, "vrmse", vrmse, dims);
    h5::write_attribute(g, "field_names", io.fields);
    h5::write_attribute(g, "definition",
                        std::string("each validation member rolled out autoregressively from its "
                                    "first state; metrics per channel at each horizon, mean over "
                                    "the members"));
  }
  h5::Group g = h5::create_group(file, "predictions");
  const auto members = static_cast<hsize_t>(r.simulation_id.size());
  std::vector<hsize_t> dims = {members, static_cast<hsize_t>(r.frames), static_cast<hsize_t>(c)};
  for (auto e : io.grid) dims.push_back(static_cast<hsize_t>(e));
  std::vector<double> times;
  for (std::int64_t f = 0; f < r.frames; ++f) times.push_back(static_cast<double>(f) * io.dt);
  write_prediction_frames(g, r.simulation_id, times, r.truth, r.prediction, dims, io.fields);
  h5::write_attribute(g, "kind", std::string("rollout from the first frame"));
}

}  // namespace

void write_curves(hid_t file, const surrogates::History& history,
                  const std::vector<std::string>& fields) {
  write_training(file, history);
  write_validation(file, history, fields);
}

surrogates::ValidationRecord write_results(const std::string& path, const RunSummary& summary,
                                           const surrogates::Trainer& trainer,
                                           const surrogates::ValidationSet& validation,
                                           const surrogates::IoDescription& io,
                                           const surrogates::RolloutResult* rollout,
                                           int predicted_members) {
  surrogates::ValidationRecord final_metrics;
  if (!validation.empty()) final_metrics = trainer.validate(validation);
  h5::AtomicFile file(path);
  file.write([&] {
    h5::write_attribute(file, "study", summary.study);
    h5::write_attribute(file, "surge_version", std::string(kVersion) + " (" + kGitRevision + ")");
    h5::write_attribute(file, "surge_config", summary.resolved_config);
    h5::write_attribute(file, "stop_reason", summary.stop_reason);
    h5::write_attribute(file, "wall_seconds", summary.seconds);
    h5::write_attribute(file, "batches", static_cast<std::int64_t>(trainer.batches()));
    h5::write_attribute(file, "server_ranks",
                        static_cast<std::int64_t>(summary.server_ranks.size()));
    h5::write_attribute(file, "model_kind", io.kind);
    h5::write_attribute(file, "rejected_fields", summary.rejected_fields);
    h5::write_attribute(file, "refused_handshakes", summary.refused_handshakes);
    {
      h5::Group g = h5::create_group(file, "streaming");
      for (const auto& [name, count] : summary.streaming) h5::write_attribute(g, name, count);
    }
    write_members(file, summary);
    if (!summary.mesh.empty()) h5::write_mesh_group(file, core::read_mesh(summary.mesh));
    write_curves(file, trainer.history(), io.fields);
    {
      h5::Group g = h5::create_group(file, "final_validation");
      std::vector<double> rel, nrmse, vrmse;
      for (const auto& f : final_metrics.fields) {
        rel.push_back(f.relative_l2);
        nrmse.push_back(f.nrmse);
        vrmse.push_back(f.vrmse);
      }
      h5::write_dataset(g, "relative_l2", rel);
      h5::write_dataset(g, "nrmse", nrmse);
      h5::write_dataset(g, "vrmse", vrmse);
      h5::write_attribute(g, "field_names", io.fields);
      write_per_member(g, trainer, validation, io.fields.size());
    }
    {
      h5::Group g = h5::create_group(file, "reservoir");
      h5::write_attribute(g, "policy", summary.reservoir_policy);
      h5::write_attribute(g, "occupancy_of", std::string("server rank 0"));
      reservoir::write_statistics(g, summary.reservoir);
    }
    {
      // One row per server rank (trainer replica).
      h5::Group g = h5::create_group(file, "server_ranks");
      const auto& r = summary.server_ranks;
      auto col = [&](auto f) {
        std::vector<std::int64_t> v;
        for (const auto& c : r) v.push_back(f(c));
        return v;
      };
      h5::write_dataset(g, "samples_received", col([](auto& c) { return c.received; }));
      h5::write_dataset(g, "reservoir_puts", col([](auto& c) { return c.puts; }));
      h5::write_dataset(g, "reservoir_rejected_puts", col([](auto& c) { return c.rejected_puts; }));
      h5::write_dataset(g, "reservoir_gets", col([](auto& c) { return c.gets; }));
      h5::write_dataset(g, "batches_served", col([](auto& c) { return c.batches; }));
    }
    if (io.is_operator()) {
      if (rollout != nullptr && !rollout->horizon.empty()) write_rollout(file, *rollout, io);
    } else {
      write_predictions(file, trainer, validation, io, predicted_members);
    }
  });
  file.commit();
  return final_metrics;
}

void make_plots(const std::string& output_dir, const core::Logger& log) {
  const fs::path script = fs::path(SURGE_SOURCE_DIR) / "experiments" / "plot_results.py";
  if (!fs::exists("/usr/bin/python3")) {
    SURGE_LOG(log, warn,
              "no plots: /usr/bin/python3 is missing (install python3-h5py "
              "python3-matplotlib)");
    return;
  }
  if (!fs::exists(script)) {
    SURGE_LOG(log, warn, "no plots: " << script.string() << " is missing");
    return;
  }
  const std::string command = "/usr/bin/python3 '" + script.string() + "' '" + output_dir + "'";
  const int rc = std::system(command.c_str());
  if (rc != 0) {
    SURGE_LOG(log, warn,
              "no plots: plot_results.py failed (exit " << WEXITSTATUS(rc)
                                                        << "; are python3-h5py and "
                                                           "python3-matplotlib "
                                                           "installed?)");
  }
}

}  // namespace surge::experiments
