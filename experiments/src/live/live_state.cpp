#include "live/live_state.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <type_traits>
#include <utility>

#include "surge/core/error.hpp"

namespace surge::experiments {

namespace {

// Every other element kept (the first, the third, ...), and the last.
template <class T>
void keep_every_other(std::vector<T>& v) {
  const std::size_t n = v.size();
  if (n < 3) return;
  const T last = v.back();
  std::size_t out = 0;
  for (std::size_t i = 0; i < n; i += 2) v[out++] = v[i];
  v.resize(out);
  if ((n - 1) % 2 != 0) v.push_back(last);  // by index, so that paired series stay paired
}

class JsonWriter {
 public:
  void key(const char* k) {
    comma();
    text_ << '"' << k << "\":";
    first_ = true;
  }
  void open(char c) {
    comma();
    text_ << c;
    first_ = true;
  }
  void close(char c) {
    text_ << c;
    first_ = false;
  }
  // `digits` significant digits: 17 keeps every double exact (the tests compare the page's
  // numbers with results.h5's); images need fewer.
  void number(double x, int digits = 17) {
    comma();
    if (!std::isfinite(x)) {
      text_ << "null";
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.*g", digits, x);
      text_ << buf;
    }
  }
  void string(const std::string& s) {
    comma();
    text_ << '"';
    for (const unsigned char c : s) {
      if (c == '"' || c == '\\') {
        text_ << '\\' << c;
      } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {  // safe inside any page
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        text_ << buf;
      } else {
        text_ << c;
      }
    }
    text_ << '"';
  }
  void boolean(bool b) {
    comma();
    text_ << (b ? "true" : "false");
  }
  template <class T>
  void numbers(const std::vector<T>& v) {
    open('[');
    for (const auto x : v) number(static_cast<double>(x));
    close(']');
  }
  void rows(const std::vector<std::vector<double>>& v, int digits = 17) {
    open('[');
    for (const auto& row : v) {
      open('[');
      for (const double x : row) number(x, digits);
      close(']');
    }
    close(']');
  }
  void strings(const std::vector<std::string>& v) {
    open('[');
    for (const auto& x : v) string(x);
    close(']');
  }
  // "key":value, the value written by its type.
  template <class T>
  void field(const char* k, const T& v) {
    key(k);
    if constexpr (std::is_same_v<T, std::string>) {
      string(v);
    } else if constexpr (std::is_same_v<T, bool>) {
      boolean(v);
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      strings(v);
    } else if constexpr (std::is_same_v<T, std::vector<std::vector<double>>>) {
      rows(v);
    } else if constexpr (std::is_arithmetic_v<T>) {
      number(static_cast<double>(v));
    } else {
      numbers(v);
    }
  }
  std::string str() const { return text_.str(); }

 private:
  void comma() {
    if (!first_) text_ << ',';
    first_ = false;
  }
  std::ostringstream text_;
  bool first_ = true;
};

void write_members(JsonWriter& w, const LiveMembers& s) {
  w.key("members");
  w.open('{');
  w.field("present", s.present);
  const std::pair<const char*, double> counts[] = {
      {"samples_in", static_cast<double>(s.samples_in)},
      {"pending", s.pending},
      {"running", s.running},
      {"done", s.done},
      {"failed", s.failed},
      {"redrawn", s.redrawn},
      {"stopped", s.stopped}};
  for (const auto& [name, n] : counts) w.field(name, n);
  w.key("rows");
  w.open('[');
  for (const auto& m : s.rows) {
    w.open('{');
    w.field("id", m.simulation_id);
    w.field("role", m.role);
    w.field("status", m.status);
    w.field("attempts", m.attempts);
    w.field("samples", m.samples);
    w.field("last_error", m.last_error);
    w.field("parameters", m.parameters);
    w.close('}');
  }
  w.close(']');
  w.field("parameter_names", s.parameter_names);
  w.field("samples_scope", s.samples_scope);
  w.close('}');
}

void write_image(JsonWriter& w, const LiveImage& image) {
  w.key("image");
  w.open('{');
  w.field("simulation_id", image.simulation_id);
  w.field("label", image.label);
  w.field("time", image.time);
  w.field("grid", image.grid);
  w.field("step", image.step);
  w.key("truth");
  w.rows(image.truth, 6);  // 64 x 64 nodes a channel, twice, every second: 6 digits suffice
  w.key("prediction");
  w.rows(image.prediction, 6);
  w.close('}');
}

}  // namespace

LiveMembers live_members(const std::vector<MemberRecord>& members,
                         const std::map<std::uint64_t, std::int64_t>& samples,
                         const std::vector<std::string>& parameter_names) {
  LiveMembers m;
  m.present = true;
  m.parameter_names = parameter_names;
  const MemberCounts c = count_members(members);
  m.pending = c.pending;
  m.running = c.running;
  m.done = c.done;
  m.failed = c.failed;
  m.redrawn = c.redrawn;
  m.stopped = c.stopped;
  m.rows.reserve(members.size());
  for (const auto& r : members) {
    const auto it = samples.find(r.simulation_id);
    const std::int64_t n = it == samples.end() ? 0 : it->second;
    m.rows.push_back({r.simulation_id, to_string(r.role), to_string(r.status), r.last_error,
                      r.attempts, n, r.parameters});
    m.samples_in += n;
  }
  return m;
}

std::string to_json(const LiveState& s) {
  JsonWriter w;
  w.open('{');
  w.field("study", s.study);
  w.field("command", s.command);
  w.field("finished", s.finished);
  w.field("from_checkpoint", s.from_checkpoint);
  w.field("stop_reason", s.stop_reason);
  const std::pair<const char*, double> figures[] = {
      {"exit_code", s.exit_code},
      {"batch", static_cast<double>(s.batch)},
      {"max_batches", static_cast<double>(s.max_batches)},
      {"wall_s", s.wall_s},
      {"samples_per_s", s.samples_per_s},
      {"batches_per_s", s.batches_per_s},
      {"buffer_size", static_cast<double>(s.buffer_size)},
      {"buffer_bytes", static_cast<double>(s.buffer_bytes)}};
  for (const auto& [name, x] : figures) w.field(name, x);
  w.field("loss_batch", s.loss_batch);
  w.field("loss", s.loss);
  w.field("channels", s.channels);
  w.field("validation_batch", s.validation_batch);
  w.field("validation_rel_l2", s.validation_rel_l2);
  w.field("rollout_horizon", s.rollout_horizon);
  w.field("rollout_rel_l2", s.rollout_rel_l2);
  write_members(w, s.members);
  write_image(w, s.image);
  w.close('}');
  return w.str();
}

LiveImage live_image(const float* truth, const float* prediction,
                     const std::vector<std::int64_t>& grid, std::size_t channels) {
  LiveImage image;
  if (grid.size() != 2 || grid[0] < 1 || grid[1] < 1) return image;
  image.step =
      std::max((std::max(grid[0], grid[1]) + kLiveImageSide - 1) / kLiveImageSide, std::int64_t{1});
  const std::int64_t n0 = (grid[0] + image.step - 1) / image.step;
  const std::int64_t n1 = (grid[1] + image.step - 1) / image.step;
  const std::int64_t field = grid[0] * grid[1];
  image.grid = {n0, n1};
  image.truth.assign(channels, std::vector<double>(static_cast<std::size_t>(n0 * n1)));
  image.prediction = image.truth;
  for (std::size_t c = 0; c < channels; ++c) {
    const std::int64_t base = static_cast<std::int64_t>(c) * field;
    for (std::int64_t i = 0; i < n0; ++i) {
      for (std::int64_t j = 0; j < n1; ++j) {
        const std::int64_t from = base + i * image.step * grid[1] + j * image.step;
        image.truth[c][static_cast<std::size_t>(i * n1 + j)] = truth[from];
        image.prediction[c][static_cast<std::size_t>(i * n1 + j)] = prediction[from];
      }
    }
  }
  image.simulation_id = 0;  // the caller names the member
  return image;
}

void LiveBoard::record_batch(std::int64_t batch, double loss, double samples_per_s, double wall_s) {
  std::lock_guard<std::mutex> lock(mutex_);
  state_.batch = batch;
  state_.wall_s = wall_s;
  state_.samples_per_s = samples_per_s;
  state_.loss_batch.push_back(static_cast<double>(batch));
  state_.loss.push_back(loss);
  if (state_.loss.size() > max_points_) thin();
  // batches/s over a window of about 5 s (restarted when a resumed trainer's clock goes back).
  if (wall_s < rate_wall_ || rate_wall_ == 0.0) {
    rate_batch_ = batch;
    rate_wall_ = wall_s;
  } else if (wall_s - rate_wall_ >= 1.0) {
    state_.batches_per_s = static_cast<double>(batch - rate_batch_) / (wall_s - rate_wall_);
    if (wall_s - rate_wall_ >= 5.0) {
      rate_batch_ = batch;
      rate_wall_ = wall_s;
    }
  }
}

void LiveBoard::replace_loss(std::vector<double> batch, std::vector<double> loss) {
  SURGE_REQUIRE(batch.size() == loss.size(), ConfigError,
                "replace_loss: " << batch.size() << " batches for " << loss.size() << " losses");
  std::lock_guard<std::mutex> lock(mutex_);
  state_.loss_batch = std::move(batch);
  state_.loss = std::move(loss);
  while (state_.loss.size() > max_points_ && state_.loss.size() >= 3) thin();  // thin keeps 2
}

void LiveBoard::record_validation(std::int64_t batch, const std::vector<std::string>& channels,
                                  const std::vector<double>& rel_l2) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_.channels.empty()) {
    state_.channels = channels;
    state_.validation_rel_l2.assign(channels.size(), {});
  }
  if (rel_l2.size() != state_.channels.size()) return;
  state_.validation_batch.push_back(static_cast<double>(batch));
  for (std::size_t c = 0; c < rel_l2.size(); ++c) state_.validation_rel_l2[c].push_back(rel_l2[c]);
  if (state_.validation_batch.size() > max_points_) {
    keep_every_other(state_.validation_batch);
    for (auto& row : state_.validation_rel_l2) keep_every_other(row);
  }
}

void LiveBoard::thin() {
  keep_every_other(state_.loss_batch);
  keep_every_other(state_.loss);
}

LiveState LiveBoard::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_;
}

}  // namespace surge::experiments
