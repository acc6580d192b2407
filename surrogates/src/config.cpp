// Torch-free parts: training-config checks, the MLP's parameters, the I/O description and
// The Well's metrics.
#include <algorithm>
#include <cmath>
#include <set>

#include "surge/core/error.hpp"
#include "surge/surrogates/config.hpp"
#include "surge/surrogates/description.hpp"
#include "surge/surrogates/metrics.hpp"

namespace surge::surrogates {

MlpParameters read_mlp_parameters(const YAML::Node& parameters, const core::ConfigSource& source,
                                  const std::string& path) {
  return core::read_config<MlpParameters>(parameters, source, path);
}

void validate(const TrainingConfig& c) {
  const auto& m = c.schedule.milestones;
  for (std::size_t i = 0; i < m.size(); ++i) {
    SURGE_REQUIRE(m[i] >= 0 && (i == 0 || m[i] > m[i - 1]), ConfigError,
                  "'training.schedule.milestones' must be increasing batch numbers >= 0");
  }
  SURGE_REQUIRE(c.schedule.type != "multistep" || !m.empty(), ConfigError,
                "'training.schedule.milestones' must not be empty for a multistep schedule");
  SURGE_REQUIRE(c.schedule.type != "cosine" || c.schedule.period > 0 || c.max_batches > 0,
                ConfigError,
                "a cosine schedule needs 'training.schedule.period' or 'training.max_batches'");
  SURGE_REQUIRE(c.schedule.type != "cosine" || c.schedule.min_lr <= c.optimizer.lr, ConfigError,
                "'training.schedule.min_lr' (" << c.schedule.min_lr << ") exceeds the rate "
                                               << c.optimizer.lr);
}

// ---- IoDescription ----

std::vector<std::string> channel_names(const std::vector<FieldLayout>& layout) {
  static const char* const kAxes[] = {"x", "y", "z"};
  std::vector<std::string> out;
  for (const auto& f : layout) {
    if (f.components == 1) {
      out.push_back(f.name);
    } else {
      for (int c = 0; c < f.components; ++c)
        out.push_back(f.name + "_" + (c < 3 ? std::string(kAxes[c]) : std::to_string(c)));
    }
  }
  return out;
}

std::vector<FieldLayout> IoDescription::field_layout() const {
  if (!layout.empty()) return layout;
  std::vector<FieldLayout> out;
  for (const auto& f : fields) out.push_back({f, 1});
  return out;
}

std::int64_t IoDescription::field_size() const {
  std::int64_t n = 1;
  for (std::int64_t g : grid) n *= g;
  return n;
}
std::int64_t IoDescription::output_size() const {
  return static_cast<std::int64_t>(fields.size()) * field_size();
}
bool IoDescription::has_time() const { return !inputs.empty() && inputs.back().name == "t"; }
std::vector<std::string> IoDescription::parameter_names() const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < inputs.size() - (has_time() ? 1 : 0); ++i)
    out.push_back(inputs[i].name);
  return out;
}

void IoDescription::check() const {
  SURGE_REQUIRE(kind == kFieldFromParameters || kind == kNextStep, ConfigError,
                "unknown surrogate kind '" << kind << "' (known: " << kFieldFromParameters << ", "
                                           << kNextStep << ")");
  SURGE_REQUIRE(!inputs.empty() || is_operator(), ConfigError,
                "a surrogate needs at least one input");
  SURGE_REQUIRE(!fields.empty(), ConfigError, "a surrogate needs at least one output field");
  SURGE_REQUIRE(!grid.empty(), ConfigError, "a surrogate needs the grid of its fields");
  for (std::int64_t g : grid)
    SURGE_REQUIRE(g >= 1, ConfigError, "grid extents must be >= 1, got " << g);
  std::set<std::string> names;
  for (const auto& r : inputs) {
    SURGE_REQUIRE(names.insert(r.name).second, ConfigError, "input '" << r.name << "' twice");
    SURGE_REQUIRE(std::isfinite(r.min) && std::isfinite(r.max) && r.min <= r.max, ConfigError,
                  "input '" << r.name << "' has the range [" << r.min << ", " << r.max << "]");
  }
  std::set<std::string> field_set(fields.begin(), fields.end());
  SURGE_REQUIRE(field_set.size() == fields.size(), ConfigError, "a field is named twice");
  for (const auto& f : layout)
    SURGE_REQUIRE(f.components >= 1 && f.components <= 16, ConfigError,
                  "field '" << f.name << "' has " << f.components << " components");
  SURGE_REQUIRE(layout.empty() || channel_names(layout) == fields, ConfigError,
                "the field layout does not give the channels " << fields.size());
  SURGE_REQUIRE(
      periodic.empty() || periodic.size() == grid.size(), ConfigError,
      "periodicity is given for " << periodic.size() << " axes of a " << grid.size() << "D grid");
  if (is_operator()) {
    SURGE_REQUIRE(grid.size() == 2, ConfigError, "next_step models need a 2D grid");
    SURGE_REQUIRE(stride >= 1, ConfigError, "the step stride must be >= 1, got " << stride);
    SURGE_REQUIRE(std::isfinite(dt) && dt >= 0, ConfigError, "dt must be >= 0, got " << dt);
  }
}

YAML::Node IoDescription::to_yaml() const {
  YAML::Node node(YAML::NodeType::Map);
  node["kind"] = kind;
  node["solver"] = solver;
  YAML::Node in(YAML::NodeType::Sequence);
  for (const auto& r : inputs) {
    YAML::Node e(YAML::NodeType::Map);
    e["name"] = r.name;
    e["min"] = core::detail::to_text(r.min);
    e["max"] = core::detail::to_text(r.max);
    e.SetStyle(YAML::EmitterStyle::Flow);
    in.push_back(e);
  }
  node["inputs"] = in;
  node["fields"] = fields;
  node["fields"].SetStyle(YAML::EmitterStyle::Flow);
  node["grid"] = grid;
  node["grid"].SetStyle(YAML::EmitterStyle::Flow);
  YAML::Node t(YAML::NodeType::Sequence);
  for (double v : times) t.push_back(core::detail::to_text(v));
  t.SetStyle(YAML::EmitterStyle::Flow);
  node["times"] = t;
  YAML::Node l(YAML::NodeType::Sequence);
  for (const auto& f : field_layout()) {
    YAML::Node e(YAML::NodeType::Map);
    e["name"] = f.name;
    e["components"] = f.components;
    e.SetStyle(YAML::EmitterStyle::Flow);
    l.push_back(e);
  }
  node["layout"] = l;
  if (!periodic.empty()) {
    node["periodic"] = periodic;
    node["periodic"].SetStyle(YAML::EmitterStyle::Flow);
  }
  if (is_operator()) {
    node["stride"] = stride;
    node["dt"] = core::detail::to_text(dt);
    node["increment"] = increment;
  }
  return node;
}

IoDescription IoDescription::from_yaml(const YAML::Node& node) {
  IoDescription io;
  SURGE_REQUIRE(node.IsMap(), ConfigError, "'io' must be a map");
  io.kind = node["kind"].as<std::string>();
  if (node["solver"]) io.solver = node["solver"].as<std::string>();
  for (const auto& e : node["inputs"])
    io.inputs.push_back(
        {e["name"].as<std::string>(), e["min"].as<double>(), e["max"].as<double>()});
  io.fields = node["fields"].as<std::vector<std::string>>();
  io.grid = node["grid"].as<std::vector<std::int64_t>>();
  if (node["times"]) io.times = node["times"].as<std::vector<double>>();
  if (node["layout"]) {
    for (const auto& e : node["layout"])
      io.layout.push_back({e["name"].as<std::string>(), e["components"].as<int>()});
  }
  if (node["periodic"]) io.periodic = node["periodic"].as<std::vector<bool>>();
  if (node["stride"]) io.stride = node["stride"].as<std::int64_t>();
  if (node["dt"]) io.dt = node["dt"].as<double>();
  if (node["increment"]) io.increment = node["increment"].as<bool>();
  io.check();
  return io;
}

// ---- Metrics ----

FieldMetrics field_metrics(const float* prediction, const float* target, std::int64_t n) {
  double se = 0, yy = 0, ysum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(prediction[i]) - target[i];
    se += d * d;
    yy += static_cast<double>(target[i]) * target[i];
    ysum += target[i];
  }
  const double mean = ysum / static_cast<double>(n);
  double var = 0;
  for (std::int64_t i = 0; i < n; ++i) var += (target[i] - mean) * (target[i] - mean);
  // The Well's denominator: the unbiased variance (torch.std), over the n nodes.
  var /= static_cast<double>(std::max<std::int64_t>(n - 1, 1));
  const double mse = se / static_cast<double>(n);
  FieldMetrics m;
  m.relative_l2 = std::sqrt(se) / (std::sqrt(yy) + kMetricEpsilon);
  m.nrmse = std::sqrt(mse / (yy / static_cast<double>(n) + kMetricEpsilon));
  m.vrmse = std::sqrt(mse / (var + kMetricEpsilon));
  return m;
}

std::vector<FieldMetrics> mean_field_metrics(const std::vector<float>& prediction,
                                             const std::vector<float>& target, std::int64_t samples,
                                             const std::vector<std::string>& fields,
                                             std::int64_t field_size) {
  const auto row = static_cast<std::int64_t>(fields.size()) * field_size;
  SURGE_REQUIRE(samples > 0 && static_cast<std::int64_t>(prediction.size()) == samples * row &&
                    prediction.size() == target.size(),
                ConfigError,
                "metrics of " << samples << " samples of " << row << " values need "
                              << samples * row << " predictions and targets, got "
                              << prediction.size() << " and " << target.size());
  std::vector<FieldMetrics> out(fields.size());
  for (std::size_t f = 0; f < fields.size(); ++f) out[f].field = fields[f];
  for (std::int64_t s = 0; s < samples; ++s) {
    for (std::size_t f = 0; f < fields.size(); ++f) {
      const std::int64_t offset = s * row + static_cast<std::int64_t>(f) * field_size;
      const FieldMetrics m =
          field_metrics(prediction.data() + offset, target.data() + offset, field_size);
      out[f].relative_l2 += m.relative_l2 / static_cast<double>(samples);
      out[f].nrmse += m.nrmse / static_cast<double>(samples);
      out[f].vrmse += m.vrmse / static_cast<double>(samples);
    }
  }
  return out;
}

}  // namespace surge::surrogates
