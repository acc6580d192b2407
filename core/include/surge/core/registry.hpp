#pragma once
// A registry of named implementations of a pluggable part (TorchFort style): config says
// `type: name` + `parameters: {...}`, the registry builds the object from the parameters.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "surge/core/config.hpp"
#include "surge/core/error.hpp"

namespace surge::core {

template <class Base, class... Args>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Base>(const YAML::Node& parameters,
                                                      const ConfigSource& source, Args...)>;
  struct Entry {
    Factory create;
    std::string summary;                        // one line for listings
    std::function<std::vector<KeyDoc>()> keys;  // every parameter with its default
  };

  explicit Registry(std::string what) : what_(std::move(what)) {}

  void add(const std::string& name, Entry entry) { entries_[name] = std::move(entry); }

  // Returns the entry for `name`; throws ConfigError listing the known names.
  [[nodiscard]] const Entry& at(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      std::string known;
      for (const auto& [n, e] : entries_) known += (known.empty() ? "" : ", ") + n;
      SURGE_THROW(ConfigError, "unknown " << what_ << " '" << name << "' (known: " << known << ")");
    }
    return it->second;
  }

  [[nodiscard]] std::unique_ptr<Base> create(const Pluggable& part, const ConfigSource& source,
                                             Args... args) const {
    return at(part.type).create(part.parameters, source, args...);
  }

  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [n, e] : entries_) out.push_back(n);
    return out;
  }

 private:
  std::string what_;
  std::map<std::string, Entry> entries_;
};

}  // namespace surge::core
