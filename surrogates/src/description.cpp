// What an exported surrogate describes, Torch-free: the I/O description and the MLP's
// parameters (part of surge::surrogate, with the models that load them).
#include <cmath>
#include <set>

#include "surge/core/error.hpp"
#include "surge/surrogates/config.hpp"
#include "surge/surrogates/description.hpp"

namespace surge::surrogates {

MlpParameters read_mlp_parameters(const YAML::Node& parameters, const core::ConfigSource& source,
                                  const std::string& path) {
  return core::read_config<MlpParameters>(parameters, source, path);
}

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

}  // namespace surge::surrogates
