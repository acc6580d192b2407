#include "live/live_results.hpp"

#include <cstdint>

#include "surge/core/error.hpp"
#include "surge/core/hdf5.hpp"

namespace surge::experiments {

namespace h5 = core::h5;

namespace {

// Rows [point][channel] of a results.h5 metric as series [channel][point].
std::vector<std::vector<double>> by_channel(hid_t group, const char* name) {
  std::vector<hsize_t> dims;
  const auto values = h5::read_dataset<double>(group, name, &dims);
  const std::size_t points = dims.empty() ? 0 : dims[0];
  const std::size_t channels = dims.size() < 2 ? 1 : dims[1];
  std::vector<std::vector<double>> out(channels, std::vector<double>(points));
  for (std::size_t p = 0; p < points; ++p)
    for (std::size_t c = 0; c < channels; ++c) out[c][p] = values[p * channels + c];
  return out;
}

void read_training(hid_t file, LiveBoard& board) {
  const h5::Group g = h5::open_group(file, "training");
  const auto batch = h5::read_dataset<std::int64_t>(g, "batch");
  const auto loss = h5::read_dataset<double>(g, "loss");
  const auto rate = h5::read_dataset<double>(g, "samples_per_s");
  const auto wall = h5::read_dataset<double>(g, "wall_time_s");
  SURGE_REQUIRE(
      loss.size() == batch.size() && rate.size() == batch.size() && wall.size() == batch.size(),
      IoError, "training/ datasets of different lengths");
  for (std::size_t i = 0; i < batch.size(); ++i)
    board.record_batch(batch[i], loss[i], rate[i], wall[i]);
}

void read_validation(hid_t file, LiveBoard& board) {
  if (!h5::exists(file, "validation")) return;
  const h5::Group g = h5::open_group(file, "validation");
  const auto batch = h5::read_dataset<std::int64_t>(g, "batch");
  const auto rel = by_channel(g, "relative_l2");
  const auto names = h5::read_attribute_strings(g, "field_names");
  for (std::size_t p = 0; p < batch.size(); ++p) {
    std::vector<double> at(rel.size());
    for (std::size_t c = 0; c < rel.size(); ++c) at[c] = rel[c].at(p);
    board.record_validation(batch[p], names, at);
  }
}

LiveMembers read_members(hid_t file) {
  LiveMembers m;
  if (!h5::exists(file, "members")) return m;
  const h5::Group g = h5::open_group(file, "members");
  const auto ids = h5::read_dataset<std::int64_t>(g, "simulation_id");
  const auto attempts = h5::read_dataset<std::int64_t>(g, "attempts");
  const auto samples = h5::read_dataset<std::int64_t>(g, "samples");
  const auto roles = h5::read_attribute_strings(g, "role");
  const auto statuses = h5::read_attribute_strings(g, "status");
  const auto errors = h5::read_attribute_strings(g, "last_error");
  const std::size_t n = ids.size();
  SURGE_REQUIRE(attempts.size() == n && samples.size() == n && roles.size() == n &&
                    statuses.size() == n && errors.size() == n,
                IoError, "members/ datasets of different lengths");
  m.present = true;
  std::vector<double> parameters;
  std::size_t p = 0;
  if (h5::exists(g, "parameters")) {
    std::vector<hsize_t> dims;
    parameters = h5::read_dataset<double>(g, "parameters", &dims);
    p = dims.size() == 2 && dims[0] == n ? dims[1] : 0;
    if (p > 0) m.parameter_names = h5::read_attribute_strings(g, "parameter_names");
    SURGE_REQUIRE(
        p == 0 || m.parameter_names.size() == p, IoError,
        "members/parameters has " << p << " columns and " << m.parameter_names.size() << " names");
  }
  const std::pair<const char*, int*> counts[] = {{"pending", &m.pending}, {"running", &m.running},
                                                 {"done", &m.done},       {"failed", &m.failed},
                                                 {"redrawn", &m.redrawn}, {"stopped", &m.stopped}};
  for (std::size_t i = 0; i < n; ++i) {
    m.rows.push_back(
        {static_cast<std::uint64_t>(ids[i]), roles[i], statuses[i], errors[i],
         static_cast<int>(attempts[i]), samples[i],
         std::vector<double>(parameters.begin() + static_cast<std::ptrdiff_t>(i * p),
                             parameters.begin() + static_cast<std::ptrdiff_t>((i + 1) * p))});
    m.samples_in += samples[i];
    for (const auto& [name, count] : counts)
      if (statuses[i] == name) ++*count;
  }
  return m;
}

// The last frame of the first member in predictions/ ([members, frames, (channels,) n0, n1]).
LiveImage read_image(hid_t file) {
  if (!h5::exists(file, "predictions")) return {};
  const h5::Group g = h5::open_group(file, "predictions");
  const auto names = h5::read_attribute_strings(g, "field_names");
  const auto ids = h5::read_dataset<std::int64_t>(g, "simulation_id");
  const auto times = h5::read_dataset<double>(g, "time");
  std::vector<hsize_t> dims, pdims;
  const auto truth = h5::read_dataset<float>(g, "truth", &dims);
  const auto prediction = h5::read_dataset<float>(g, "prediction", &pdims);
  const std::size_t channels = names.size(), axes = dims.size() - (channels > 1 ? 3 : 2);
  if (ids.empty() || dims.size() < 3 || dims != pdims || axes != 2 || dims[1] == 0) return {};
  const std::vector<std::int64_t> grid(dims.end() - 2, dims.end());
  const std::size_t frame = channels * static_cast<std::size_t>(grid[0] * grid[1]);
  const std::size_t at = (dims[1] - 1) * frame;  // member 0, last frame
  SURGE_REQUIRE(truth.size() >= at + frame && ids.size() == dims[0], IoError,
                "predictions/ datasets of inconsistent shapes");
  LiveImage image = live_image(truth.data() + at, prediction.data() + at, grid, channels);
  image.simulation_id = ids[0];
  if (times.size() == dims[1]) image.time = times.back();
  image.label = "model at the end (results.h5)";
  return image;
}

}  // namespace

void read_curves(const std::filesystem::path& path, LiveBoard& board) {
  const h5::File file = h5::open_file(path.string());
  if (!h5::exists(file, "training")) return;
  read_training(file, board);
  read_validation(file, board);
}

LiveImage read_live_image(const std::filesystem::path& results) {
  const h5::File file = h5::open_file(results.string());
  return read_image(file);
}

LiveState read_live_state(const std::filesystem::path& results) {
  const h5::File file = h5::open_file(results.string());
  LiveBoard board;
  read_training(file, board);
  read_validation(file, board);
  LiveMembers members = read_members(file);
  board.update([&](LiveState& l) {
    l.study = h5::read_attribute_string(file, "study");
    l.command = "view";
    l.finished = true;
    l.stop_reason = h5::read_attribute_string(file, "stop_reason");
    l.batch = h5::read_attribute_int(file, "batches");
    l.wall_s = h5::read_attribute_double(file, "wall_seconds");
    if (l.wall_s > 0) l.batches_per_s = static_cast<double>(l.batch) / l.wall_s;
    l.members = std::move(members);
  });
  if (h5::exists(file, "rollout")) {
    const h5::Group g = h5::open_group(file, "rollout");
    const auto horizon = h5::read_dataset<double>(g, "horizon");
    auto rel = by_channel(g, "relative_l2");
    board.update([&](LiveState& l) {
      l.rollout_horizon = horizon;
      l.rollout_rel_l2 = std::move(rel);
    });
  }
  LiveImage image = read_image(file);
  board.update([&](LiveState& l) { l.image = std::move(image); });
  return board.snapshot();
}

}  // namespace surge::experiments
