// The LibTorch side shared by training and inference: the architectures (MLP, FNO, graph
// network), their registry and the exported directory. Normalisers: normaliser.cpp;
// surge::Surrogate: surrogate.cpp.
#include "model.hpp"

#include "fno.hpp"
#include "graphnet.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>

#include "surge/core/atomic_file.hpp"
#include "surge/core/error.hpp"
#include "surge/core/version.hpp"
#include "surge/surrogate.hpp"

namespace surge::surrogates {
namespace detail {
namespace {

namespace fs = std::filesystem;

// inputs -> hidden... -> outputs, fully connected, activation after every hidden layer.
class Mlp final : public Model {
 public:
  Mlp(const MlpParameters& p, std::int64_t inputs, std::int64_t outputs) {
    std::int64_t previous = inputs;
    std::vector<std::int64_t> widths(p.hidden.begin(), p.hidden.end());
    widths.push_back(outputs);
    for (std::size_t i = 0; i < widths.size(); ++i) {
      layers_.push_back(
          register_module("layer" + std::to_string(i), torch::nn::Linear(previous, widths[i])));
      previous = widths[i];
    }
    if (p.activation == "relu")
      activation_ = [](const torch::Tensor& h) { return torch::relu(h); };
    else if (p.activation == "tanh")
      activation_ = [](const torch::Tensor& h) { return torch::tanh(h); };
    else if (p.activation == "gelu")
      activation_ = [](const torch::Tensor& h) { return torch::gelu(h); };
    else
      activation_ = [](const torch::Tensor& h) { return torch::silu(h); };
  }

  torch::Tensor forward(const torch::Tensor& x) override {
    torch::Tensor h = x;
    for (std::size_t i = 0; i + 1 < layers_.size(); ++i) h = activation_(layers_[i]->forward(h));
    return layers_.back()->forward(h);
  }

 private:
  std::vector<torch::nn::Linear> layers_;
  std::function<torch::Tensor(const torch::Tensor&)> activation_;
};

// The directory relative paths in a configuration are resolved against: its file's.
std::string base_directory(const core::ConfigSource& source) {
  if (source.file.empty()) return {};
  return fs::absolute(source.file).parent_path().string();
}

// One architecture: how to build it and how to fill in its defaults.
struct Architecture {
  std::string summary;
  std::string kind;
  std::function<std::unique_ptr<Model>(const YAML::Node&, const core::ConfigSource&,
                                       const std::string&, const IoDescription&)>
      create;
  std::function<YAML::Node(const YAML::Node&, const core::ConfigSource&, const std::string&)>
      resolve;
  std::function<std::vector<core::KeyDoc>()> keys;
};

const std::map<std::string, Architecture>& architectures() {
  static const std::map<std::string, Architecture> table = {
      {"mlp",
       {"fully connected: [parameters..., t] -> every field at t (Melissa's heat MLP)",
        kFieldFromParameters,
        [](const YAML::Node& node, const core::ConfigSource& source, const std::string& path,
           const IoDescription& io) -> std::unique_ptr<Model> {
          const MlpParameters p = read_mlp_parameters(node, source, path);
          return std::make_unique<Mlp>(p, io.input_size(), io.output_size());
        },
        [](const YAML::Node& node, const core::ConfigSource& source, const std::string& path) {
          YAML::Node resolved = core::dump_config(read_mlp_parameters(node, source, path));
          resolved["hidden"].SetStyle(YAML::EmitterStyle::Flow);
          return resolved;
        },
        [] { return core::describe_config<MlpParameters>(); }}},
      {"fno",
       {"Fourier neural operator (Li et al., 2020): state at step k -> state at step k + "
        "stride",
        kNextStep,
        [](const YAML::Node& node, const core::ConfigSource& source, const std::string& path,
           const IoDescription& io) -> std::unique_ptr<Model> {
          const FnoParameters p = read_fno_parameters(node, source, path);
          return make_fno(p, operator_input_channels(io),
                          static_cast<std::int64_t>(io.fields.size()), io.is_periodic(0),
                          io.is_periodic(1));
        },
        [](const YAML::Node& node, const core::ConfigSource& source, const std::string& path) {
          return core::dump_config(read_fno_parameters(node, source, path));
        },
        [] { return core::describe_config<FnoParameters>(); }}},
      {"graphnet",
       {"graph network (MeshGraphNets, Pfaff et al., 2021) on the grid's graph or a mesh: "
        "state at step k -> state at step k + stride",
        kNextStep,
        [](const YAML::Node& node, const core::ConfigSource& source, const std::string& path,
           const IoDescription& io) -> std::unique_ptr<Model> {
          const GraphNetParameters p = read_graphnet_parameters(node, source, path);
          return make_graphnet(p, operator_input_channels(io),
                               static_cast<std::int64_t>(io.fields.size()), io.grid.at(0),
                               io.grid.at(1), io.is_periodic(0), io.is_periodic(1),
                               base_directory(source));
        },
        [](const YAML::Node& node, const core::ConfigSource& source, const std::string& path) {
          GraphNetParameters p = read_graphnet_parameters(node, source, path);
          // The mesh as an absolute path: export copies it next to the weights.
          if (!p.mesh.empty() && fs::path(p.mesh).is_relative())
            p.mesh = (fs::path(base_directory(source)) / p.mesh).lexically_normal().string();
          return core::dump_config(p);
        },
        [] { return core::describe_config<GraphNetParameters>(); }}},
  };
  return table;
}

}  // namespace

const ModelRegistry& model_registry() {
  static const ModelRegistry registry = [] {
    ModelRegistry r("model architecture");
    for (const auto& [name, a] : architectures()) r.add(name, {a.create, a.summary, a.keys});
    return r;
  }();
  return registry;
}

std::shared_ptr<Model> make_model(const ModelConfig& config, const IoDescription& io,
                                  const core::ConfigSource& source, const std::string& path) {
  const std::string& kind = architectures().count(config.type)
                                ? architectures().at(config.type).kind
                                : std::string(kFieldFromParameters);
  SURGE_REQUIRE(
      kind == io.kind, ConfigError,
      "model type '" << config.type << "' learns " << kind << " samples, not " << io.kind);
  std::unique_ptr<Model> model = model_registry().create(config, source, path + ".parameters", io);
  return std::shared_ptr<Model>(std::move(model));
}

ModelConfig resolve_model_config(const ModelConfig& config, const core::ConfigSource& source,
                                 const std::string& path) {
  (void)model_registry().at(config.type);  // unknown type: ConfigError listing the known ones
  ModelConfig out;
  out.type = config.type;
  out.parameters =
      architectures().at(config.type).resolve(config.parameters, source, path + ".parameters");
  return out;
}

std::vector<std::vector<std::int64_t>> parameter_shapes(const Model& model) {
  std::vector<std::vector<std::int64_t>> shapes;
  for (const auto& p : model.parameters()) shapes.push_back(p.sizes().vec());
  return shapes;
}

// ---- Exported directory ----

namespace {
YAML::Node exact_list(const std::vector<double>& values) {
  YAML::Node node(YAML::NodeType::Sequence);
  for (double v : values) node.push_back(core::detail::to_text(v));
  node.SetStyle(YAML::EmitterStyle::Flow);
  return node;
}
}  // namespace

void write_surrogate_dir(const std::string& dir, Model& model, const ModelConfig& resolved,
                         const IoDescription& io, const Normaliser& normaliser,
                         const Normaliser* delta, const YAML::Node& training,
                         std::int64_t batches) {
  // Written whole into <dir>.partial/, then swapped in: never half old and half new.
  core::AtomicDirectory out(dir);
  const auto shown = [&](const char* name) { return (fs::path(dir) / name).string(); };
  std::string bytes;
  try {
    torch::serialize::OutputArchive archive;
    model.save(archive);
    bytes = archive_bytes(archive);
  } catch (const c10::Error& e) {
    SURGE_THROW(IoError, "cannot write '" << shown("model.pt")
                                          << "': " << first_line(e.what_without_backtrace()));
  }
  {
    core::AtomicFile weights(out.file("model.pt"), shown("model.pt"));
    weights.write(bytes);
    weights.commit();
  }
  YAML::Node root(YAML::NodeType::Map);
  root["format_version"] = kSurrogateFormat;
  root["surge_version"] = std::string(kVersion) + " (" + kGitRevision + ")";
  YAML::Node arch(YAML::NodeType::Map);
  arch["type"] = resolved.type;
  arch["parameters"] = YAML::Clone(resolved.parameters);
  if (resolved.parameters["mesh"] && !resolved.parameters["mesh"].as<std::string>().empty()) {
    // A model on a mesh carries its mesh: loading needs nothing but the directory.
    const std::string mesh = resolved.parameters["mesh"].as<std::string>();
    std::ifstream in(mesh, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    SURGE_REQUIRE(in.good() || in.eof(), IoError, "cannot read the mesh '" << mesh << "'");
    core::AtomicFile copy(out.file("mesh.yaml"), shown("mesh.yaml"));
    copy.write(text.str());
    copy.commit();
    arch["parameters"]["mesh"] = "mesh.yaml";
  }
  root["architecture"] = arch;
  root["io"] = io.to_yaml();
  YAML::Node norm(YAML::NodeType::Map);
  norm["inputs"] = "linear map of each input's [min, max] to [-1, 1]";
  // Per channel; for next_step models `output_*` normalise the states (input and, with
  // target: state, output) and `increment_*` the increments.
  norm["output_mean"] = exact_list(normaliser.mean());
  norm["output_std"] = exact_list(normaliser.std());
  norm["output_samples"] = core::detail::to_text(normaliser.count());
  if (delta != nullptr) {
    norm["increment_mean"] = exact_list(delta->mean());
    norm["increment_std"] = exact_list(delta->std());
  }
  root["normalisation"] = norm;
  root["weights"] = "model.pt";
  root["trained_batches"] = batches;
  root["training"] = YAML::Clone(training);
  {
    core::AtomicFile yaml(out.file("surrogate.yaml"), shown("surrogate.yaml"));
    yaml.write(core::to_yaml_text(root));
    yaml.commit();
  }
  out.commit();
}

}  // namespace detail

std::vector<ModelType> model_types() {
  std::vector<ModelType> out;
  for (const auto& [name, a] : detail::architectures())
    out.push_back({name, a.summary, a.keys(), a.kind});
  return out;
}

std::string model_kind(const std::string& type) {
  (void)detail::model_registry().at(type);  // unknown type: ConfigError listing the known ones
  return detail::architectures().at(type).kind;
}

void check_model_config(const ModelConfig& model, const core::ConfigSource& source,
                        const std::string& path) {
  (void)detail::resolve_model_config(model, source, path);
}

std::int64_t count_weights(const ModelConfig& model, const IoDescription& io,
                           const core::ConfigSource& source, const std::string& path) {
  auto generator = at::detail::getDefaultCPUGenerator();
  torch::Tensor state;
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    state = generator.get_state();
  }
  std::int64_t weights = 0;
  {
    torch::NoGradGuard no_grad;
    for (const auto& p : detail::make_model(model, io, source, path)->parameters())
      weights += p.numel();
  }
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
  return weights;
}

}  // namespace surge::surrogates
