#include "surge/core/config.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>

namespace surge::core {

Check<std::string> one_of(std::vector<std::string> choices) {
  std::string text = "one of";
  for (std::size_t i = 0; i < choices.size(); ++i) text += (i ? ", " : " ") + choices[i];
  return {text, [choices](const std::string& v) {
            return std::find(choices.begin(), choices.end(), v) != choices.end();
          }};
}

ConfigReader::ConfigReader(YAML::Node node, std::string path, const ConfigSource& source)
    : node_(std::move(node)), path_(std::move(path)), source_(source) {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap()) {
    SURGE_THROW(ConfigError, where(node_, path_) << "'" << (path_.empty() ? "<root>" : path_)
                                                 << "' must be a map of key: value");
  }
}

std::string ConfigReader::where(const YAML::Node& node, const std::string& path) const {
  // An override on this key or on a section above it wins: that is what the user typed.
  for (std::string p = path;;) {
    if (auto it = source_.overrides.find(p); it != source_.overrides.end()) {
      return "command-line override '" + it->second + "': ";
    }
    const auto dot = p.rfind('.');
    if (dot == std::string::npos) break;
    p.resize(dot);
  }
  const YAML::Mark mark = node.IsDefined() ? node.Mark() : YAML::Mark::null_mark();
  if (!source_.file.empty() && mark.line >= 0) {
    return source_.file + ":" + std::to_string(mark.line + 1) + ": ";
  }
  return source_.file.empty() ? "" : source_.file + ": ";
}

void ConfigReader::finish() const {
  if (!node_.IsMap()) return;
  for (const auto& entry : node_) {
    const std::string key = entry.first.as<std::string>();
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    std::string known;
    for (std::size_t i = 0; i < known_.size(); ++i) known += (i ? ", " : "") + known_[i];
    const std::string path = join(key.c_str());
    SURGE_THROW(ConfigError, where(entry.first, path)
                                 << "unknown key '" << path << "'"
                                 << (known.empty() ? std::string(" (no keys allowed here)")
                                                   : " (known keys: " + known + ")"));
  }
}

void ConfigReader::read_pluggable(const YAML::Node& child, const std::string& path,
                                  Pluggable& value) const {
  if (child.IsScalar()) {  // shorthand `key: name` for a part with default parameters
    value.type = child.Scalar();
    value.parameters = YAML::Node(YAML::NodeType::Map);
    return;
  }
  SURGE_REQUIRE(child.IsMap(), ConfigError,
                where(child, path)
                    << "'" << path << "' must be a map with 'type' and 'parameters'");
  for (const auto& entry : child) {
    const std::string key = entry.first.as<std::string>();
    SURGE_REQUIRE(key == "type" || key == "parameters", ConfigError,
                  where(entry.first, path + "." + key) << "unknown key '" << path << "." << key
                                                       << "' (known keys: type, parameters)");
  }
  const YAML::Node type = child["type"];
  SURGE_REQUIRE(type.IsDefined() && type.IsScalar(), ConfigError,
                where(child, path) << "'" << path << ".type' is required and must be a string");
  value.type = type.Scalar();
  const YAML::Node params = child["parameters"];
  if (!params.IsDefined() || params.IsNull()) {
    value.parameters = YAML::Node(YAML::NodeType::Map);
  } else {
    SURGE_REQUIRE(params.IsMap(), ConfigError,
                  where(params, path + ".parameters")
                      << "'" << path << ".parameters' must be a map");
    value.parameters = params;
  }
}

void ConfigReader::read_intervals(const YAML::Node& child, const std::string& path,
                                  IntervalMap& value) const {
  SURGE_REQUIRE(child.IsMap(), ConfigError,
                where(child, path)
                    << "'" << path << "' must be a map of name: [min, max] or value");
  value.clear();
  for (const auto& entry : child) {
    const std::string name = entry.first.as<std::string>();
    const std::string key = path + "." + name;
    const YAML::Node& v = entry.second;
    Interval range;
    try {
      if (v.IsScalar()) {
        range.min = range.max = v.as<double>();
      } else if (v.IsSequence() && v.size() == 2) {
        range.min = v[0].as<double>();
        range.max = v[1].as<double>();
      } else {
        throw YAML::Exception(v.Mark(), "not a range");
      }
    } catch (const YAML::Exception&) {
      SURGE_THROW(ConfigError, where(v, key)
                                   << "'" << key << "' must be [min, max] or a single number");
    }
    SURGE_REQUIRE(std::isfinite(range.min) && std::isfinite(range.max), ConfigError,
                  where(v, key) << "'" << key << "' must be finite");
    SURGE_REQUIRE(range.min <= range.max, ConfigError,
                  where(v, key) << "'" << key << "' has min " << detail::to_text(range.min)
                                << " > max " << detail::to_text(range.max));
    value[name] = range;
  }
}

std::string ConfigReader::article(const char* type_name) {
  const char c = type_name[0];
  const bool vowel = c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
  if (std::string(type_name).rfind("list", 0) == 0 || std::string(type_name).rfind("type", 0) == 0)
    return type_name;
  return std::string(vowel ? "an " : "a ") + type_name;
}

Pluggable read_pluggable(const YAML::Node& node, const ConfigSource& source,
                         const std::string& path) {
  Pluggable part;
  ConfigReader reader(YAML::Node(YAML::NodeType::Map), path, source);
  reader.read_pluggable(node, path.empty() ? std::string("<root>") : path, part);
  return part;
}

YAML::Node load_yaml_file(const std::string& path) {
  std::ifstream in(path);
  SURGE_REQUIRE(in.good(), IoError, "cannot read config file '" << path << "'");
  try {
    YAML::Node node = YAML::Load(in);
    return node.IsNull() ? YAML::Node(YAML::NodeType::Map) : node;
  } catch (const YAML::ParserException& e) {
    SURGE_THROW(ConfigError, path << ":" << e.mark.line + 1 << ": malformed YAML: " << e.msg);
  }
}

bool is_override(const std::string& arg) {
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  return std::all_of(arg.begin(), arg.begin() + static_cast<std::ptrdiff_t>(eq), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

void apply_override(YAML::Node& root, const std::string& assignment, ConfigSource& source) {
  SURGE_REQUIRE(is_override(assignment), ConfigError,
                "command-line override '" << assignment << "' is not of the form key=value");
  const auto eq = assignment.find('=');
  const std::string path = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    const auto dot = path.find('.', start);
    parts.push_back(path.substr(start, dot - start));
    SURGE_REQUIRE(!parts.back().empty(), ConfigError,
                  "command-line override '" << assignment << "' has an empty key segment");
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  YAML::Node value;
  try {
    value = text.empty() ? YAML::Node(YAML::NodeType::Null) : YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    SURGE_THROW(ConfigError,
                "command-line override '" << assignment << "': cannot parse value: " << e.msg);
  }
  if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  // yaml-cpp nodes are references: walk with reset(), never with operator= (which copies
  // the value into the node being walked).
  YAML::Node current;
  current.reset(root);
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    SURGE_REQUIRE(current.IsMap(), ConfigError,
                  "command-line override '" << assignment << "': '" << parts[i]
                                            << "' is inside a value, not a section");
    YAML::Node next = current[parts[i]];
    if (!next.IsDefined() || next.IsNull()) {
      current[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next.reset(current[parts[i]]);
    }
    current.reset(next);
  }
  SURGE_REQUIRE(current.IsMap(), ConfigError,
                "command-line override '" << assignment << "': the parent of '" << parts.back()
                                          << "' is not a section");
  current[parts.back()] = value;
  source.overrides[path] = assignment;
}

std::string format_key_docs(const std::vector<KeyDoc>& keys, int indent) {
  std::size_t width = 0;
  for (const auto& k : keys) width = std::max(width, k.key.size());
  std::ostringstream os;
  for (const auto& k : keys) {
    os << std::string(static_cast<std::size_t>(indent), ' ') << k.key
       << std::string(width - k.key.size() + 2, ' ') << k.doc << "\n"
       << std::string(static_cast<std::size_t>(indent) + width + 2, ' ') << "(" << k.type
       << ", default " << (k.default_value.empty() ? "\"\"" : k.default_value)
       << (k.constraint.empty() ? "" : ", " + k.constraint) << ")\n";
  }
  return os.str();
}

std::string to_yaml_text(const YAML::Node& node) {
  YAML::Emitter out;
  out << node;
  return std::string(out.c_str()) + "\n";
}

}  // namespace surge::core
