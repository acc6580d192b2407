#include "members/external_solver.hpp"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>

#include "surge/core/error.hpp"
#include "surge/core/mesh.hpp"

namespace surge::experiments {

namespace {

constexpr const char* kSimulationIdPlaceholder = "simulation_id";
constexpr const char* kExperimentDirPlaceholder = "experiment_dir";

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// `arg` with every "{name}" replaced by replace(name); other braces are kept.
std::string substitute(const std::string& arg,
                       const std::function<std::string(const std::string&)>& replace) {
  std::string out;
  std::size_t i = 0;
  while (i < arg.size()) {
    if (arg[i] == '{') {
      std::size_t j = i + 1;
      while (j < arg.size() && name_char(arg[j])) ++j;
      if (j > i + 1 && j < arg.size() && arg[j] == '}') {
        out += replace(arg.substr(i + 1, j - i - 1));
        i = j + 1;
        continue;
      }
    }
    out += arg[i++];
  }
  return out;
}

// Unquoted, YAML reads `{vx}` in a command as a map: say so instead of "must be a list of
// strings".
void check_placeholders_quoted(const YAML::Node& parameters, const core::ConfigSource& source) {
  const YAML::Node command = parameters.IsMap() ? parameters["command"] : YAML::Node();
  if (!command.IsDefined() || !command.IsSequence()) return;
  const core::ConfigReader reader(parameters, "solver.parameters", source);
  for (const auto& item : command) {
    if (item.IsMap() && item.size() == 1 && item.begin()->second.IsNull()) {
      const std::string name = item.begin()->first.as<std::string>();
      SURGE_THROW(ConfigError, reader.where(item, "solver.parameters.command")
                                   << "'solver.parameters.command': quote the placeholder {" << name
                                   << "} as \"{" << name
                                   << "}\" (unquoted, YAML reads it as a map)");
    }
  }
}

// The member's program as the user's shell would find it, from the experiment file's
// directory: a bare name on surge run's PATH (which the members get, surge's mpirun adding
// nothing in front), a relative path from `experiment_dir`. The launch uses what the check
// found, so that both agree. "" when there is none.
std::string resolve_program(const std::string& program,
                            const std::filesystem::path& experiment_dir) {
  if (program.find('/') == std::string::npos) return find_on_path(program);
  return find_on_path(from_experiment_dir(experiment_dir, program));
}

}  // namespace

std::filesystem::path experiment_directory(const core::ConfigSource& source) {
  // Not canonical: a study file reached through a symbolic link keeps its link's directory.
  return std::filesystem::absolute(source.file.empty() ? "." : source.file)
      .lexically_normal()
      .parent_path();
}

std::string from_experiment_dir(const std::filesystem::path& dir, const std::string& path) {
  const std::filesystem::path p(path);
  return (p.is_absolute() ? p : dir / p).lexically_normal().string();
}

std::string with_experiment_dir(const std::string& word, const std::string& dir) {
  return substitute(word, [&](const std::string& name) {
    return name == kExperimentDirPlaceholder ? dir : "{" + name + "}";
  });
}

ExternalSolverConfig read_external_solver(const ExperimentConfig& cfg,
                                          const core::ConfigSource& source) {
  check_placeholders_quoted(cfg.solver.parameters, source);
  ExternalSolverConfig solver =
      core::read_config<ExternalSolverConfig>(cfg.solver.parameters, source, "solver.parameters");
  SURGE_REQUIRE(!solver.command.empty() && !solver.command[0].empty(), ConfigError,
                "solver type external needs solver.parameters.command: the member's program and "
                "its arguments");
  SURGE_REQUIRE(solver.outputs > 0, ConfigError,
                "solver type external needs solver.parameters.outputs: the steps each member "
                "sends");
  // {experiment_dir}: the directory of the experiment file, in any word of the command.
  const std::string experiment_dir = experiment_directory(source).string();
  for (auto& arg : solver.command) arg = with_experiment_dir(arg, experiment_dir);
  if (!solver.mesh.empty()) solver.mesh = from_experiment_dir(experiment_dir, solver.mesh);
  const std::string program = resolve_program(solver.command[0], experiment_dir);
  SURGE_REQUIRE(!program.empty(), ConfigError,
                "solver.parameters.command: '"
                    << solver.command[0]
                    << "' is not an executable (a relative path is taken from the experiment "
                       "file's directory "
                    << experiment_dir << "; a bare name is looked up on PATH)");
  solver.command[0] = program;
  std::set<std::string> declared;
  for (const auto& name : solver.parameters) {
    SURGE_REQUIRE(name != kSimulationIdPlaceholder, ConfigError,
                  "solver.parameters.parameters: '" << name
                                                    << "' names the member's id placeholder; "
                                                       "rename the parameter");
    SURGE_REQUIRE(declared.insert(name).second, ConfigError,
                  "solver.parameters.parameters: '" << name << "' is listed twice");
    SURGE_REQUIRE(cfg.parameters.ranges.count(name), ConfigError,
                  "solver.parameters.parameters: '"
                      << name << "' has no range or fixed value in parameters.ranges (an external "
                      << "solver's parameters have no defaults)");
  }
  for (const auto& [name, range] : cfg.parameters.ranges) {
    SURGE_REQUIRE(declared.count(name), ConfigError,
                  "'parameters.ranges." << name
                                        << "' is not one of solver.parameters.parameters, the "
                                           "values an external member sends");
  }
  for (const auto& arg : solver.command) {
    (void)substitute(arg, [&](const std::string& name) {
      SURGE_REQUIRE(name == kSimulationIdPlaceholder || declared.count(name), ConfigError,
                    "solver.parameters.command: unknown placeholder {"
                        << name << "} in '" << arg
                        << "' (known: {simulation_id}, {experiment_dir} and "
                           "solver.parameters.parameters)");
      return std::string();
    });
  }
  return solver;
}

namespace {

// One entry of solver.parameters.fields: {shape: [...], components: k}, or its shape alone.
ExternalFieldConfig read_field(const YAML::Node& node, const core::ConfigSource& source,
                               const std::string& path) {
  SURGE_REQUIRE(node.IsMap() || node.IsSequence(), ConfigError,
                "'" << path << "' must be a map {shape: [nx, ny], components: k} or a shape");
  // A fresh map for the shape alone: assigning to a copy of `node` would rebind `node` itself.
  YAML::Node shorthand(YAML::NodeType::Map);
  if (node.IsSequence()) shorthand["shape"] = YAML::Clone(node);
  const auto field =
      core::read_config<ExternalFieldConfig>(node.IsSequence() ? shorthand : node, source, path);
  const bool extents_ok =
      std::all_of(field.shape.begin(), field.shape.end(), [](int n) { return n >= 1; });
  SURGE_REQUIRE((field.shape.size() == 1 || field.shape.size() == 2) && extents_ok, ConfigError,
                "'" << path
                    << ".shape' must be the field's grid [nx, ny] or its nodes [n] (extents "
                    << ">= 1), got " << core::detail::to_text(field.shape));
  return field;
}

// The mesh of fields on n nodes: read (every check of the file's format), and of n nodes.
void check_mesh(const ExternalSolverConfig& solver, const SolverFacts& facts) {
  SURGE_REQUIRE(facts.on_nodes, ConfigError,
                "'solver.parameters.mesh' needs fields on its nodes (shape [n]), got the grid "
                    << core::detail::to_text(facts.grid));
  core::Mesh mesh;
  try {
    mesh = core::read_mesh(solver.mesh);
  } catch (const core::Error& e) {
    SURGE_THROW(ConfigError, "solver.parameters.mesh: " << e.message());
  }
  SURGE_REQUIRE(mesh.nodes() == facts.grid[0], ConfigError,
                "solver.parameters.mesh '" << solver.mesh << "' has " << mesh.nodes()
                                           << " nodes, the fields " << facts.grid[0]);
}

}  // namespace

SolverFacts external_solver_facts(const ExternalSolverConfig& solver,
                                  const core::ConfigSource& source) {
  SolverFacts facts;
  facts.parameter_names = solver.parameters;
  SURGE_REQUIRE(solver.fields.IsMap() && solver.fields.size() > 0, ConfigError,
                "solver type external needs solver.parameters.fields: name: {shape: [nx, ny]} "
                "(or [n] on nodes) for each field a member streams");
  std::string first;
  std::vector<int> first_shape;
  for (const auto& entry : solver.fields) {
    const std::string name = entry.first.as<std::string>();
    const std::string path = "solver.parameters.fields." + name;
    const ExternalFieldConfig field = read_field(entry.second, source, path);
    if (first.empty()) {
      first = name;
      first_shape = field.shape;
    }
    SURGE_REQUIRE(field.shape == first_shape, ConfigError,
                  "'" << path << ".shape' " << core::detail::to_text(field.shape)
                      << " differs from field '" << first << "''s "
                      << core::detail::to_text(first_shape) << ": every field is on one grid");
    facts.layout.push_back({name, field.components});
  }
  // n nodes are carried as a grid of n x 1, as mesh_heat's are (what the graph network reads).
  facts.on_nodes = first_shape.size() == 1;
  facts.grid = {first_shape[0], facts.on_nodes ? 1 : first_shape[1]};
  for (int k = 0; k < solver.outputs; ++k) facts.times.push_back(k * solver.output_dt);
  std::vector<bool> periodic = solver.periodic;
  if (facts.on_nodes && periodic == std::vector<bool>{false, false}) periodic = {false};
  SURGE_REQUIRE(periodic.size() == first_shape.size(), ConfigError,
                "'solver.parameters.periodic' needs one boolean per axis of the grid "
                    << core::detail::to_text(first_shape) << ", got "
                    << core::detail::to_text(solver.periodic));
  facts.periodic = periodic;
  if (facts.on_nodes) facts.periodic.push_back(false);
  if (!solver.mesh.empty()) {
    check_mesh(solver, facts);
    facts.mesh = solver.mesh;
  }
  return facts;
}

streaming::DType external_dtype(const ExternalSolverConfig& solver) {
  return solver.dtype == "float32" ? streaming::DType::float32 : streaming::DType::float64;
}

std::vector<std::string> external_command(const ExternalSolverConfig& solver,
                                          const std::vector<std::string>& range_names,
                                          const MemberRecord& member) {
  auto value_of = [&](const std::string& name) {
    if (name == kSimulationIdPlaceholder) return std::to_string(member.simulation_id);
    const auto it = std::find(range_names.begin(), range_names.end(), name);
    SURGE_REQUIRE(it != range_names.end(), ConfigError,
                  "no value for placeholder {" << name << "}");
    return core::detail::to_text(
        member.parameters.at(static_cast<std::size_t>(it - range_names.begin())));
  };
  std::vector<std::string> out;
  for (const auto& arg : solver.command) out.push_back(substitute(arg, value_of));
  return out;
}

}  // namespace surge::experiments
