// Config: typed reading, defaults, checks, unknown keys, overrides and dumps, with the
// messages a user sees.
#include <gtest/gtest.h>

#include "surge/core/config.hpp"
#include "surge/core/registry.hpp"

namespace core = surge::core;

namespace {

struct Inner {
  double tolerance = 1e-8;
  template <class V>
  void visit(V& v) {
    v("tolerance", tolerance, "stop criterion", core::greater_than(0.0));
  }
};

struct Example {
  int nx = 64;
  double alpha = 1.0;
  bool verbose = false;
  std::string scheme = "auto";
  std::vector<double> weights{1.0, 2.0};
  core::Pluggable optimizer{"adam", YAML::Node(YAML::NodeType::Map)};
  Inner inner;
  template <class V>
  void visit(V& v) {
    v("nx", nx, "cells", core::at_least(4));
    v("alpha", alpha, "diffusivity", core::greater_than(0.0));
    v("verbose", verbose, "talk");
    v("scheme", scheme, "time scheme", core::one_of({"auto", "explicit", "implicit"}));
    v("weights", weights, "weights");
    v("optimizer", optimizer, "optimizer");
    v.section("inner", inner, "inner settings");
  }
};

std::string config_error(const std::string& yaml, std::vector<std::string> overrides = {}) {
  core::ConfigSource source{"exp.yaml", {}};
  YAML::Node node = YAML::Load(yaml);
  try {
    for (const auto& o : overrides) core::apply_override(node, o, source);
    (void)core::read_config<Example>(node, source);
  } catch (const core::ConfigError& e) {
    return e.message();
  }
  return "no error";
}

}  // namespace

TEST(Config, DefaultsWhenEmpty) {
  const Example e = core::read_config<Example>(YAML::Node(), core::ConfigSource{});
  EXPECT_EQ(e.nx, 64);
  EXPECT_EQ(e.scheme, "auto");
  EXPECT_EQ(e.optimizer.type, "adam");
  EXPECT_DOUBLE_EQ(e.inner.tolerance, 1e-8);
}

TEST(Config, ReadsEveryType) {
  const Example e = core::read_config<Example>(
      YAML::Load("{nx: 128, alpha: 0.5, verbose: true, scheme: implicit, weights: [3, 4.5],"
                 " optimizer: {type: sgd, parameters: {lr: 0.1}}, inner: {tolerance: 1e-3}}"),
      core::ConfigSource{});
  EXPECT_EQ(e.nx, 128);
  EXPECT_DOUBLE_EQ(e.alpha, 0.5);
  EXPECT_TRUE(e.verbose);
  EXPECT_EQ(e.scheme, "implicit");
  EXPECT_EQ(e.weights, (std::vector<double>{3.0, 4.5}));
  EXPECT_EQ(e.optimizer.type, "sgd");
  EXPECT_DOUBLE_EQ(e.optimizer.parameters["lr"].as<double>(), 0.1);
  EXPECT_DOUBLE_EQ(e.inner.tolerance, 1e-3);
}

TEST(Config, UnknownKeyNamesKeyAndLine) {
  EXPECT_EQ(config_error("nx: 8\nnxx: 9\n"),
            "exp.yaml:2: unknown key 'nxx' (known keys: nx, alpha, verbose, scheme, weights, "
            "optimizer, inner)");
  EXPECT_EQ(config_error("inner:\n  tolerance: 1\n  tol: 2\n"),
            "exp.yaml:3: unknown key 'inner.tol' (known keys: tolerance)");
}

TEST(Config, WrongTypeNamesKeyAndLine) {
  EXPECT_EQ(config_error("alpha: 1\nnx: abc\n"), "exp.yaml:2: 'nx' must be an integer, got 'abc'");
  EXPECT_EQ(config_error("nx: 1.5\n"), "exp.yaml:1: 'nx' must be an integer, got '1.5'");
  EXPECT_EQ(config_error("alpha: [1, 2]\n"), "exp.yaml:1: 'alpha' must be a number, got a list");
  EXPECT_EQ(config_error("verbose: maybe\n"),
            "exp.yaml:1: 'verbose' must be a boolean, got 'maybe'");
  EXPECT_EQ(config_error("inner: 3\n"), "exp.yaml:1: 'inner' must be a map");
}

TEST(Config, ChecksNameTheRange) {
  EXPECT_EQ(config_error("nx: 2\n"), "exp.yaml:1: 'nx' must be >= 4, got 2");
  EXPECT_EQ(config_error("alpha: -1\n"), "exp.yaml:1: 'alpha' must be > 0, got -1");
  EXPECT_EQ(config_error("scheme: rk4\n"),
            "exp.yaml:1: 'scheme' must be one of auto, explicit, implicit, got rk4");
  EXPECT_EQ(config_error("inner: {tolerance: 0}\n"),
            "exp.yaml:1: 'inner.tolerance' must be > 0, got 0");
}

TEST(Config, PluggableNeedsTypeAndOnlyTypeAndParameters) {
  EXPECT_EQ(config_error("optimizer: {parameters: {}}\n"),
            "exp.yaml:1: 'optimizer.type' is required and must be a string");
  EXPECT_EQ(config_error("optimizer: {type: sgd, lr: 1}\n"),
            "exp.yaml:1: unknown key 'optimizer.lr' (known keys: type, parameters)");
  EXPECT_EQ(config_error("optimizer: sgd\n"), "no error");  // shorthand
}

TEST(Config, OverridesWinAndAreNamedInErrors) {
  core::ConfigSource source{"exp.yaml", {}};
  YAML::Node node = YAML::Load("nx: 8\ninner: {tolerance: 1}\n");
  core::apply_override(node, "nx=16", source);
  core::apply_override(node, "inner.tolerance=0.25", source);
  core::apply_override(node, "weights=[7, 8]", source);
  const Example e = core::read_config<Example>(node, source);
  EXPECT_EQ(e.nx, 16);
  EXPECT_DOUBLE_EQ(e.inner.tolerance, 0.25);
  EXPECT_EQ(e.weights, (std::vector<double>{7.0, 8.0}));

  EXPECT_EQ(config_error("nx: 8\n", {"nx=x"}),
            "command-line override 'nx=x': 'nx' must be an "
            "integer, got 'x'");
  EXPECT_EQ(config_error("{}", {"bogus=1"}),
            "command-line override 'bogus=1': unknown key 'bogus' (known keys: nx, alpha, "
            "verbose, scheme, weights, optimizer, inner)");
  EXPECT_EQ(config_error("{}", {"inner.tolerance=-1"}),
            "command-line override 'inner.tolerance=-1': 'inner.tolerance' must be > 0, got -1");
  EXPECT_EQ(config_error("{}", {"nx"}), "command-line override 'nx' is not of the form key=value");
  EXPECT_EQ(config_error("{}", {"a..b=1"}),
            "command-line override 'a..b=1' has an empty key segment");
}

TEST(Config, DumpReadsBackToTheSameValues) {
  Example e;
  e.nx = 96;
  e.alpha = 0.1;  // not exactly representable: the dump must still round-trip
  e.inner.tolerance = 1.0 / 3.0;
  const YAML::Node dumped = core::dump_config(e);
  const Example back =
      core::read_config<Example>(YAML::Load(core::to_yaml_text(dumped)), core::ConfigSource{});
  EXPECT_EQ(back.nx, 96);
  EXPECT_EQ(back.alpha, 0.1);
  EXPECT_EQ(back.inner.tolerance, 1.0 / 3.0);
  EXPECT_EQ(back.scheme, e.scheme);
}

TEST(Config, DescribeListsEveryKeyWithDefault) {
  const auto keys = core::describe_config<Example>();
  ASSERT_EQ(keys.size(), 7u);
  EXPECT_EQ(keys[0].key, "nx");
  EXPECT_EQ(keys[0].default_value, "64");
  EXPECT_EQ(keys[0].constraint, ">= 4");
  EXPECT_EQ(keys[6].key, "inner.tolerance");
  EXPECT_EQ(keys[6].default_value, "1e-08");
  const std::string help = core::format_key_docs(keys);
  EXPECT_NE(help.find("(integer, default 64, >= 4)"), std::string::npos);
}

TEST(Config, MalformedYamlFileNamesLine) {
  const std::string path = std::string(SURGE_BINARY_DIR) + "/malformed_test.yaml";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("nx: 4\nalpha: [1, 2\n", f);
  std::fclose(f);
  try {
    (void)core::load_yaml_file(path);
    FAIL() << "no error";
  } catch (const core::ConfigError& e) {
    EXPECT_NE(e.message().find(path + ":"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("malformed YAML"), std::string::npos) << e.message();
  }
  EXPECT_THROW((void)core::load_yaml_file(path + ".missing"), core::IoError);
}

namespace {
struct Animal {
  virtual ~Animal() = default;
  virtual std::string sound() const = 0;
};
struct Dog : Animal {
  std::string sound() const override { return "woof"; }
};
}  // namespace

TEST(Registry, CreatesByNameAndListsKnownOnError) {
  core::Registry<Animal> registry("animal");
  registry.add("dog", {[](const YAML::Node&, const core::ConfigSource&) {
                         return std::unique_ptr<Animal>(new Dog);
                       },
                       "a dog", [] { return std::vector<core::KeyDoc>{}; }});
  EXPECT_EQ(registry.create({"dog", {}}, {})->sound(), "woof");
  try {
    (void)registry.create({"cat", {}}, {});
    FAIL();
  } catch (const core::ConfigError& e) {
    EXPECT_EQ(e.message(), "unknown animal 'cat' (known: dog)");
  }
}

namespace {
struct WithRanges {
  core::IntervalMap ranges;
  YAML::Node extra;
  template <class V>
  void visit(V& v) {
    v("ranges", ranges, "parameter ranges");
    v("extra", extra, "free-form parameters");
  }
};
}  // namespace

TEST(Config, IntervalMapsReadCheckAndDump) {
  const auto r = core::read_config<WithRanges>(
      YAML::Load("ranges: {b1: [100, 500], alpha: 2}\nextra: {a: 1}"), {});
  ASSERT_EQ(r.ranges.size(), 2u);
  EXPECT_EQ(r.ranges.at("b1"), (core::Interval{100, 500}));
  EXPECT_EQ(r.ranges.at("alpha"), (core::Interval{2, 2}));
  EXPECT_EQ(r.extra["a"].as<int>(), 1);
  const auto back =
      core::read_config<WithRanges>(YAML::Load(core::to_yaml_text(core::dump_config(r))), {});
  EXPECT_EQ(back.ranges, r.ranges);
  auto error = [](const std::string& yaml) {
    try {
      (void)core::read_config<WithRanges>(YAML::Load(yaml), {"exp.yaml", {}});
    } catch (const core::ConfigError& e) {
      return e.message();
    }
    return std::string("no error");
  };
  EXPECT_EQ(error("ranges:\n  b1: [500, 100]\n"), "exp.yaml:2: 'ranges.b1' has min 500 > max 100");
  EXPECT_EQ(error("ranges: {b1: [1, 2, 3]}"),
            "exp.yaml:1: 'ranges.b1' must be [min, max] or a single number");
  EXPECT_EQ(error("ranges: {b1: hot}"),
            "exp.yaml:1: 'ranges.b1' must be [min, max] or a single number");
  EXPECT_EQ(error("extra: 3"), "exp.yaml:1: 'extra' must be a map of key: value");
}
