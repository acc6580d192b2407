// Configuration of the buffers: defaults, documentation, and errors that name the key.
#include <gtest/gtest.h>

#include "helpers.hpp"

namespace surge::reservoir {
namespace {

// The message of the ConfigError that building `type` with `yaml` raises ("" if none).
std::string error_of(const std::string& type, const std::string& yaml,
                     const core::ConfigSource& source = {},
                     const std::string& path = "reservoir.parameters") {
  try {
    (void)make_buffer<Sample>(testing::part(type, yaml), source, path);
  } catch (const core::ConfigError& e) {
    return e.message();
  }
  return "";
}

TEST(BufferConfig, DefaultsBuildEveryPolicy) {
  for (const std::string& name : buffer_registry<Sample>().names()) {
    auto buffer = make_buffer<Sample>(testing::part(name, "{}"));
    ASSERT_NE(buffer, nullptr);
    EXPECT_EQ(buffer->policy(), name);
    EXPECT_EQ(buffer->parameters().capacity, 1024);
    EXPECT_EQ(buffer->parameters().batch_size, 32);
  }
}

TEST(BufferConfig, EveryKeyIsDocumentedWithADefault) {
  for (const std::string& name : buffer_registry<Sample>().names()) {
    const auto keys = buffer_registry<Sample>().at(name).keys();
    EXPECT_GE(keys.size(), 6u) << name;
    for (const auto& k : keys) {
      EXPECT_FALSE(k.doc.empty()) << name << "." << k.key;
      EXPECT_FALSE(k.default_value.empty()) << name << "." << k.key;
      EXPECT_FALSE(k.constraint.empty()) << name << "." << k.key;
    }
  }
  bool has_window = false;
  for (const auto& k : buffer_registry<Sample>().at("trajectory").keys())
    has_window = has_window || k.key == "window";
  EXPECT_TRUE(has_window);
}

TEST(BufferConfig, ErrorsNameTheKey) {
  EXPECT_NE(error_of("fifo", "{capcity: 8}").find("unknown key 'reservoir.parameters.capcity'"),
            std::string::npos);
  // A replay key is not a fifo key.
  EXPECT_NE(error_of("fifo", "{extra_passes: 2}").find("'reservoir.parameters.extra_passes'"),
            std::string::npos);
  EXPECT_NE(error_of("reservoir", "{capacity: many}")
                .find("'reservoir.parameters.capacity' must be an integer, got 'many'"),
            std::string::npos);
  EXPECT_NE(
      error_of("firo", "{batch_size: 0}").find("'reservoir.parameters.batch_size' must be >= 1"),
      std::string::npos);
  EXPECT_NE(error_of("reservoir", "{extra_passes: -1}").find("'reservoir.parameters.extra_passes'"),
            std::string::npos);
  EXPECT_NE(error_of("fifo", "{capacity: 8, batch_size: 16}")
                .find("'reservoir.parameters.batch_size' must be <= capacity (8), got 16"),
            std::string::npos);
  EXPECT_NE(error_of("reservoir", "{capacity: 8, batch_size: 4, watermark: 9}")
                .find("'reservoir.parameters.watermark' must be <= capacity (8), got 9"),
            std::string::npos);
  EXPECT_NE(error_of("trajectory", "{capacity: 8, batch_size: 4, watermark: 4, window: 9}")
                .find("'reservoir.parameters.window' must be <= capacity (8), got 9"),
            std::string::npos);
  EXPECT_NE(error_of("lifo", "{}")
                .find("unknown buffer policy 'lifo' (known: fifo, firo, "
                      "reservoir, trajectory)"),
            std::string::npos);
  EXPECT_EQ(error_of("reservoir", "{capacity: 8, batch_size: 4, watermark: 8}"), "");
}

TEST(BufferConfig, ErrorsPointAtTheFileLine) {
  core::ConfigSource source;
  source.file = "exp.yaml";
  const YAML::Node root = YAML::Load(
      "reservoir:\n  type: fifo\n  parameters:\n"
      "    capacity: 8\n    batch_size: 16\n");
  core::Pluggable part;
  part.type = root["reservoir"]["type"].as<std::string>();
  part.parameters = root["reservoir"]["parameters"];
  try {
    (void)make_buffer<Sample>(part, source, "reservoir.parameters");
    FAIL() << "batch_size > capacity accepted";
  } catch (const core::ConfigError& e) {
    EXPECT_EQ(e.message().rfind("exp.yaml:5: 'reservoir.parameters.batch_size'", 0), 0u)
        << e.message();
  }
}

}  // namespace
}  // namespace surge::reservoir
