#include "surge/reservoir/parameters.hpp"

namespace surge::reservoir {

namespace {
// "file.yaml:7: 'reservoir.parameters.key' " for a key of the parameters map.
std::string locate(const YAML::Node& node, const core::ConfigSource& source,
                   const std::string& path, const char* key) {
  const std::string full = path.empty() ? std::string(key) : path + "." + key;
  const core::ConfigReader reader(YAML::Node(YAML::NodeType::Map), path, source);
  const YAML::Node child = node.IsMap() ? node[key] : YAML::Node();
  return reader.where(child.IsDefined() ? child : node, full) + "'" + full + "'";
}
}  // namespace

void validate(const BufferParameters& p, const YAML::Node& node, const core::ConfigSource& source,
              const std::string& path) {
  SURGE_REQUIRE(p.batch_size <= p.capacity, ConfigError,
                locate(node, source, path, "batch_size")
                    << " must be <= capacity (" << p.capacity << "), got " << p.batch_size);
  SURGE_REQUIRE(p.watermark <= p.capacity, ConfigError,
                locate(node, source, path, "watermark")
                    << " must be <= capacity (" << p.capacity << "), got " << p.watermark);
}

void validate(const TrajectoryParameters& p, const YAML::Node& node,
              const core::ConfigSource& source, const std::string& path) {
  validate(static_cast<const BufferParameters&>(p), node, source, path);
  SURGE_REQUIRE(p.window <= p.capacity, ConfigError,
                locate(node, source, path, "window")
                    << " must be <= capacity (" << p.capacity << "), got " << p.window);
}

}  // namespace surge::reservoir
