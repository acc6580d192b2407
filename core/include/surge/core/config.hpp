#pragma once
// Configuration: YAML read once into typed structs. A struct lists its keys once, in a
// `template <class V> void visit(V& v)` member; the same list reads and validates a YAML
// tree (unknown keys and wrong types are errors naming the key and file line), documents
// every key for `--help`, and dumps the resolved values back to YAML.
//
//   struct Grid {
//     int nx = 64;
//     template <class V> void visit(V& v) { v("nx", nx, "cells in x", core::at_least(4)); }
//   };
//   Grid g = core::read_config<Grid>(node, source);

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "surge/core/error.hpp"

namespace surge::core {

// A pluggable part: `type:` picks the implementation from a registry, `parameters:` (a map)
// configures it and is read by that implementation.
struct Pluggable {
  std::string type;
  YAML::Node parameters{YAML::NodeType::Map};
};

// Named closed intervals, e.g. the ranges a sampler draws parameters from. In YAML each
// entry is a list [min, max] or a single number (a fixed value, min = max).
struct Interval {
  double min = 0.0, max = 0.0;
  bool operator==(const Interval& o) const { return min == o.min && max == o.max; }
};
using IntervalMap = std::map<std::string, Interval>;

// Where a YAML tree came from, so that errors point at a file line or an override.
struct ConfigSource {
  std::string file;                              // "" when not read from a file
  std::map<std::string, std::string> overrides;  // key path -> "key=value" as typed
};

// A constraint on a value, with the text shown in errors and in --help.
template <class T>
struct Check {
  std::string text;
  std::function<bool(const T&)> ok;
};

namespace detail {
template <class T>
std::string to_text(const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value ? "true" : "false";
  } else if constexpr (std::is_floating_point_v<T>) {
    // Shortest text that reads back to the same double.
    for (int precision : {6, 10, 15, 17}) {
      std::ostringstream os;
      os.precision(precision);
      os << value;
      if (std::stod(os.str()) == value) return os.str();
    }
    return std::to_string(value);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return value;
  } else if constexpr (std::is_same_v<T, Pluggable>) {
    return value.type;
  } else if constexpr (std::is_same_v<T, IntervalMap>) {
    std::string out = "{";
    for (const auto& [name, range] : value) {
      out += (out.size() > 1 ? ", " : "") + name + ": " +
             (range.min == range.max ? to_text(range.min)
                                     : "[" + to_text(range.min) + ", " + to_text(range.max) + "]");
    }
    return out + "}";
  } else if constexpr (std::is_same_v<T, YAML::Node>) {
    YAML::Emitter out;
    out << YAML::Flow << value;
    return value.IsNull() || !value.IsDefined() ? std::string("{}") : std::string(out.c_str());
  } else if constexpr (std::is_arithmetic_v<T>) {
    return std::to_string(value);
  } else {  // vectors
    std::string out = "[";
    for (std::size_t i = 0; i < value.size(); ++i) out += (i ? ", " : "") + to_text(value[i]);
    return out + "]";
  }
}

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, bool>)
    return "boolean";
  else if constexpr (std::is_integral_v<T>)
    return "integer";
  else if constexpr (std::is_floating_point_v<T>)
    return "number";
  else if constexpr (std::is_same_v<T, std::string>)
    return "string";
  else if constexpr (std::is_same_v<T, std::vector<double>>)
    return "list of numbers";
  else if constexpr (std::is_same_v<T, std::vector<std::string>>)
    return "list of strings";
  else if constexpr (std::is_same_v<T, std::vector<int>>)
    return "list of integers";
  else if constexpr (std::is_same_v<T, std::vector<bool>>)
    return "list of booleans";
  else if constexpr (std::is_same_v<T, IntervalMap>)
    return "map of name: [min, max] or value";
  else if constexpr (std::is_same_v<T, YAML::Node>)
    return "map";
  else if constexpr (std::is_same_v<T, Pluggable>)
    return "type + parameters";
  else
    return "value";
}
}  // namespace detail

template <class T>
Check<T> greater_than(T lo) {
  return {"> " + detail::to_text(lo), [lo](const T& v) { return v > lo; }};
}
template <class T>
Check<T> at_least(T lo) {
  return {">= " + detail::to_text(lo), [lo](const T& v) { return v >= lo; }};
}
template <class T>
Check<T> in_range(T lo, T hi) {
  return {"in [" + detail::to_text(lo) + ", " + detail::to_text(hi) + "]",
          [lo, hi](const T& v) { return v >= lo && v <= hi; }};
}
Check<std::string> one_of(std::vector<std::string> choices);

// One documented key, for --help and the docs.
struct KeyDoc {
  std::string key, type, default_value, constraint, doc;
};

// Reads a YAML map into a struct through its visit(); collects the keys it knows so that
// finish() can reject the others.
class ConfigReader {
 public:
  ConfigReader(YAML::Node node, std::string path, const ConfigSource& source);

  template <class T>
  void operator()(const char* key, T& value, const char* doc, const Check<T>& check = {}) {
    known_.emplace_back(key);
    if (!node_.IsMap()) return;
    const YAML::Node child = node_[key];
    if (!child.IsDefined() || child.IsNull()) return;  // keep the default
    const std::string path = join(key);
    read_value(child, path, value);
    if (check.ok && !check.ok(value)) {
      SURGE_THROW(ConfigError, where(child, path) << "'" << path << "' must be " << check.text
                                                  << ", got " << detail::to_text(value));
    }
  }

  template <class S>
  void section(const char* key, S& sub, const char* doc) {
    known_.emplace_back(key);
    YAML::Node child = node_.IsMap() ? node_[key] : YAML::Node();
    if (child.IsDefined() && !child.IsNull() && !child.IsMap()) {
      SURGE_THROW(ConfigError, where(child, join(key)) << "'" << join(key) << "' must be a map");
    }
    ConfigReader reader(child, join(key), source_);
    sub.visit(reader);
    reader.finish();
  }

  // Throws ConfigError naming the first key that no visit() asked for.
  void finish() const;

  // Reads `type:` + `parameters:` from `child` (the node at `path`).
  void read_pluggable(const YAML::Node& child, const std::string& path, Pluggable& value) const;

  // "file.yaml:7: " or "command-line override 'k=v': " for the node at `path`.
  [[nodiscard]] std::string where(const YAML::Node& node, const std::string& path) const;

 private:
  [[nodiscard]] std::string join(const char* key) const {
    return path_.empty() ? std::string(key) : path_ + "." + key;
  }
  template <class T>
  void read_value(const YAML::Node& child, const std::string& path, T& value) const {
    if constexpr (std::is_same_v<T, Pluggable>) {
      read_pluggable(child, path, value);
    } else if constexpr (std::is_same_v<T, IntervalMap>) {
      read_intervals(child, path, value);
    } else if constexpr (std::is_same_v<T, YAML::Node>) {
      SURGE_REQUIRE(child.IsMap(), ConfigError,
                    where(child, path) << "'" << path << "' must be a map of key: value");
      value = child;
    } else {
      try {
        if constexpr (std::is_same_v<T, std::string> || std::is_arithmetic_v<T>) {
          if (!child.IsScalar()) throw YAML::Exception(child.Mark(), "not a scalar");
        } else {
          if (!child.IsSequence()) throw YAML::Exception(child.Mark(), "not a list");
        }
        value = child.as<T>();
      } catch (const YAML::Exception&) {
        std::string got = child.IsScalar()     ? "'" + child.Scalar() + "'"
                          : child.IsSequence() ? std::string("a list")
                                               : std::string("a map");
        SURGE_THROW(ConfigError, where(child, path)
                                     << "'" << path << "' must be "
                                     << article(detail::type_name<T>()) << ", got " << got);
      }
    }
  }
  void read_intervals(const YAML::Node& child, const std::string& path, IntervalMap& value) const;
  static std::string article(const char* type_name);

  YAML::Node node_;
  std::string path_;
  const ConfigSource& source_;
  std::vector<std::string> known_;
};

// Collects KeyDoc entries; the struct's current values are reported as defaults.
class ConfigDescriber {
 public:
  explicit ConfigDescriber(std::string prefix = "") : prefix_(std::move(prefix)) {}
  template <class T>
  void operator()(const char* key, T& value, const char* doc, const Check<T>& check = {}) {
    keys_.push_back(
        {prefix_ + key, detail::type_name<T>(), detail::to_text(value), check.text, doc});
  }
  template <class S>
  void section(const char* key, S& sub, const char* doc) {
    ConfigDescriber inner(prefix_ + key + ".");
    sub.visit(inner);
    keys_.insert(keys_.end(), inner.keys_.begin(), inner.keys_.end());
  }
  [[nodiscard]] const std::vector<KeyDoc>& keys() const { return keys_; }

 private:
  std::string prefix_;
  std::vector<KeyDoc> keys_;
};

// Writes the struct's values into a YAML map.
class ConfigWriter {
 public:
  template <class T>
  void operator()(const char* key, T& value, const char* doc, const Check<T>& check = {}) {
    if constexpr (std::is_same_v<T, IntervalMap>) {
      YAML::Node map(YAML::NodeType::Map);
      for (const auto& [name, range] : value) {
        if (range.min == range.max) {
          map[name] = detail::to_text(range.min);
        } else {
          YAML::Node pair(YAML::NodeType::Sequence);
          pair.SetStyle(YAML::EmitterStyle::Flow);
          pair.push_back(detail::to_text(range.min));
          pair.push_back(detail::to_text(range.max));
          map[name] = pair;
        }
      }
      node_[key] = map;
    } else if constexpr (std::is_same_v<T, YAML::Node>) {
      node_[key] = YAML::Clone(
          value.IsDefined() && !value.IsNull() ? value : YAML::Node(YAML::NodeType::Map));
    } else if constexpr (std::is_same_v<T, Pluggable>) {
      YAML::Node p(YAML::NodeType::Map);
      p["type"] = value.type;
      p["parameters"] = YAML::Clone(value.parameters);
      node_[key] = p;
    } else if constexpr (std::is_floating_point_v<T>) {
      node_[key] = detail::to_text(value);  // exact, shortest; YAML reads it back as a number
    } else {
      node_[key] = value;
    }
  }
  template <class S>
  void section(const char* key, S& sub, const char* doc) {
    ConfigWriter inner;
    sub.visit(inner);
    node_[key] = inner.node_;
  }
  [[nodiscard]] YAML::Node node() const { return node_; }

 private:
  YAML::Node node_{YAML::NodeType::Map};
};

// Reads `S` from `node` (a map, or null for all defaults); throws ConfigError.
template <class S>
S read_config(const YAML::Node& node, const ConfigSource& source, const std::string& path = "") {
  S s{};
  ConfigReader reader(node, path, source);
  s.visit(reader);
  reader.finish();
  return s;
}

template <class S>
std::vector<KeyDoc> describe_config(S s = S{}) {
  ConfigDescriber describer;
  s.visit(describer);
  return describer.keys();
}

template <class S>
YAML::Node dump_config(S s) {
  ConfigWriter writer;
  s.visit(writer);
  return writer.node();
}

// Reads a whole node as `type:` + `parameters:` (e.g. a file that configures one part).
[[nodiscard]] Pluggable read_pluggable(const YAML::Node& node, const ConfigSource& source,
                                       const std::string& path = "");

// Loads a YAML file; IoError if unreadable, ConfigError (with line) if malformed.
[[nodiscard]] YAML::Node load_yaml_file(const std::string& path);

// Applies "a.b.c=value" to `root` (creating maps on the way) and records it in `source`.
// The value is parsed as YAML, so `x=[1, 2]` gives a list. Throws ConfigError.
void apply_override(YAML::Node& root, const std::string& assignment, ConfigSource& source);

// True if `arg` has the form key=value with a non-empty key made of [A-Za-z0-9_.-].
[[nodiscard]] bool is_override(const std::string& arg);

// A table of keys for --help: "  key  (type, default D, C)  doc".
[[nodiscard]] std::string format_key_docs(const std::vector<KeyDoc>& keys, int indent = 2);

// YAML text of a node, as a resolved config file would hold it.
[[nodiscard]] std::string to_yaml_text(const YAML::Node& node);

}  // namespace surge::core
