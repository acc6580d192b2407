// The LibTorch side shared by training and inference: architectures (MLP), their registry,
// normalisers, the exported directory, and surge::Surrogate.
#include "model.hpp"

#include "fno.hpp"
#include "graphnet.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

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
          const auto channels = static_cast<std::int64_t>(io.fields.size());
          const bool px = !io.periodic.empty() && io.periodic[0];
          const bool py = io.periodic.size() > 1 && io.periodic[1];
          return make_fno(p, channels + io.input_size() + 2, channels, px, py);
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
          const auto channels = static_cast<std::int64_t>(io.fields.size());
          const bool px = !io.periodic.empty() && io.periodic[0];
          const bool py = io.periodic.size() > 1 && io.periodic[1];
          return make_graphnet(p, channels + io.input_size() + 2, channels, io.grid.at(0),
                               io.grid.at(1), px, py, base_directory(source));
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

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

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

// ---- Normaliser ----

Normaliser::Normaliser(const IoDescription& io)
    : fields_(static_cast<std::int64_t>(io.fields.size())),
      field_size_(io.field_size()),
      mean_(io.fields.size(), 0.0),
      m2_(io.fields.size(), 0.0) {
  std::vector<float> center, scale;
  for (const InputRange& r : io.inputs) {
    center.push_back(static_cast<float>(0.5 * (r.min + r.max)));
    scale.push_back(r.max > r.min ? static_cast<float>(2.0 / (r.max - r.min)) : 0.0f);
  }
  in_center_ = torch::tensor(center, torch::kFloat);
  in_scale_ = torch::tensor(scale, torch::kFloat);
  refresh();
}

std::vector<double> Normaliser::std() const {
  std::vector<double> out(mean_.size(), 1.0);
  for (std::size_t f = 0; f < mean_.size(); ++f) {
    const double s = count_ > 0 ? std::sqrt(m2_[f] / count_) : 1.0;
    out[f] = s > 1e-30 ? s : 1.0;  // a constant field is only shifted
  }
  return out;
}

void Normaliser::refresh() {
  const std::vector<double> s = std();
  std::vector<float> mean(static_cast<std::size_t>(fields_ * field_size_));
  std::vector<float> sd(mean.size()), inv(mean.size());
  for (std::int64_t f = 0; f < fields_; ++f) {
    for (std::int64_t i = 0; i < field_size_; ++i) {
      const auto k = static_cast<std::size_t>(f * field_size_ + i);
      mean[k] = static_cast<float>(mean_[static_cast<std::size_t>(f)]);
      sd[k] = static_cast<float>(s[static_cast<std::size_t>(f)]);
      inv[k] = static_cast<float>(1.0 / s[static_cast<std::size_t>(f)]);
    }
  }
  out_mean_ = torch::tensor(mean, torch::kFloat);
  out_std_ = torch::tensor(sd, torch::kFloat);
  out_inv_std_ = torch::tensor(inv, torch::kFloat);
}

std::vector<double> Normaliser::batch_sums(const torch::Tensor& y) const {
  // One pass over the floats with double accumulators: no temporary tensors, so that the
  // statistics stay a small share of a step even for large fields.
  const torch::Tensor yc = y.contiguous();
  const std::int64_t n = yc.size(0);
  const float* data = yc.data_ptr<float>();
  std::vector<double> sums(static_cast<std::size_t>(1 + 2 * fields_), 0.0);
  sums[0] = static_cast<double>(n * field_size_);
  for (std::int64_t f = 0; f < fields_; ++f) {
    const double shift = mean_[static_cast<std::size_t>(f)];
    double s1 = 0.0, s2 = 0.0;
    for (std::int64_t r = 0; r < n; ++r) {
      const float* row = data + (r * fields_ + f) * field_size_;
      for (std::int64_t i = 0; i < field_size_; ++i) {
        const double d = static_cast<double>(row[i]) - shift;
        s1 += d;
        s2 += d * d;
      }
    }
    sums[static_cast<std::size_t>(1 + f)] = s1;
    sums[static_cast<std::size_t>(1 + fields_ + f)] = s2;
  }
  return sums;
}

void Normaliser::normalise_outputs_in_place(torch::Tensor& y) const {
  const std::int64_t n = y.size(0);
  float* data = y.data_ptr<float>();
  const std::vector<double> sd = std();
  for (std::int64_t f = 0; f < fields_; ++f) {
    const auto mean = static_cast<float>(mean_[static_cast<std::size_t>(f)]);
    const auto inv = static_cast<float>(1.0 / sd[static_cast<std::size_t>(f)]);
    for (std::int64_t r = 0; r < n; ++r) {
      float* row = data + (r * fields_ + f) * field_size_;
      for (std::int64_t i = 0; i < field_size_; ++i) row[i] = (row[i] - mean) * inv;
    }
  }
}

void Normaliser::merge(const std::vector<double>& sums) {
  const double nb = sums[0];
  if (nb <= 0) return;
  for (std::int64_t f = 0; f < fields_; ++f) {
    const auto i = static_cast<std::size_t>(f);
    const double s1 = sums[static_cast<std::size_t>(1 + f)];
    const double s2 = sums[static_cast<std::size_t>(1 + fields_ + f)];
    // Sums are shifted by the old mean, so the batch mean is mean + d and its M2 is
    // s2 - s1^2 / nb; Chan's update combines the two (count, mean, M2) triples.
    const double d = s1 / nb;
    const double m2b = std::max(0.0, s2 - s1 * d);
    const double total = count_ + nb;
    mean_[i] += d * nb / total;
    m2_[i] += m2b + d * d * count_ * nb / total;
  }
  count_ += nb;
  refresh();
}

std::vector<double> Normaliser::state() const {
  std::vector<double> out{count_};
  out.insert(out.end(), mean_.begin(), mean_.end());
  out.insert(out.end(), m2_.begin(), m2_.end());
  return out;
}

void Normaliser::set_state(const std::vector<double>& state) {
  SURGE_REQUIRE(state.size() == static_cast<std::size_t>(1 + 2 * fields_), IoError,
                "normaliser state of " << state.size() << " values, expected " << 1 + 2 * fields_);
  count_ = state[0];
  std::copy(state.begin() + 1, state.begin() + 1 + fields_, mean_.begin());
  std::copy(state.begin() + 1 + fields_, state.end(), m2_.begin());
  refresh();
}

void Normaliser::set_fixed(const std::vector<double>& mean, const std::vector<double>& std) {
  // count 1 with M2 = std^2 reproduces exactly these statistics.
  count_ = 1.0;
  mean_ = mean;
  m2_.resize(std.size());
  for (std::size_t f = 0; f < std.size(); ++f) m2_[f] = std[f] * std[f];
  refresh();
  std::vector<float> sd(static_cast<std::size_t>(fields_ * field_size_));
  for (std::int64_t f = 0; f < fields_; ++f)
    for (std::int64_t i = 0; i < field_size_; ++i)
      sd[static_cast<std::size_t>(f * field_size_ + i)] =
          static_cast<float>(std[static_cast<std::size_t>(f)]);
  // Exactly the stored values, not sqrt(std^2); the inverse as refresh() computes it, so that a
  // loaded surrogate normalises bit for bit as the trainer did.
  std::vector<float> inv(sd.size());
  for (std::int64_t f = 0; f < fields_; ++f)
    for (std::int64_t i = 0; i < field_size_; ++i)
      inv[static_cast<std::size_t>(f * field_size_ + i)] =
          static_cast<float>(1.0 / std[static_cast<std::size_t>(f)]);
  out_std_ = torch::tensor(sd, torch::kFloat);
  out_inv_std_ = torch::tensor(inv, torch::kFloat);
}

// ---- next_step models ----

torch::Tensor operator_input(const Normaliser& state_norm, const torch::Tensor& state,
                             const torch::Tensor& parameters) {
  const std::int64_t b = state.size(0), nx = state.size(2), ny = state.size(3);
  const torch::Tensor s = state_norm.outputs(state.reshape({b, -1})).reshape(state.sizes());
  const auto opts = state.options();
  std::vector<torch::Tensor> parts{s};
  if (parameters.size(1) > 0) {
    const torch::Tensor p = state_norm.inputs(parameters);
    parts.push_back(p.reshape({b, p.size(1), 1, 1}).expand({b, p.size(1), nx, ny}));
  }
  const torch::Tensor cx = torch::linspace(-1.0, 1.0, nx, opts).reshape({1, 1, nx, 1});
  const torch::Tensor cy = torch::linspace(-1.0, 1.0, ny, opts).reshape({1, 1, 1, ny});
  parts.push_back(cx.expand({b, 1, nx, ny}));
  parts.push_back(cy.expand({b, 1, nx, ny}));
  return torch::cat(parts, 1);
}

torch::Tensor operator_next(const IoDescription& io, const OperatorNorm& norm,
                            const torch::Tensor& state, const torch::Tensor& out_n) {
  const std::int64_t b = state.size(0);
  const torch::Tensor flat = out_n.reshape({b, -1});
  if (io.increment) return state + norm.delta.denormalise(flat).reshape(state.sizes());
  return norm.state.denormalise(flat).reshape(state.sizes());
}

torch::Tensor operator_step(Model& model, const IoDescription& io, const OperatorNorm& norm,
                            const torch::Tensor& state, const torch::Tensor& parameters) {
  return operator_next(io, norm, state,
                       model.forward(operator_input(norm.state, state, parameters)));
}

torch::Tensor operator_error(const IoDescription& io, const OperatorNorm& norm,
                             const torch::Tensor& predicted, const torch::Tensor& truth) {
  const Normaliser& n = io.increment ? norm.delta : norm.state;
  const std::int64_t b = predicted.size(0);
  return ((predicted - truth).reshape({b, -1}) * n.out_inv_std()).reshape(predicted.sizes());
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
  std::error_code ec;
  fs::create_directories(dir, ec);
  SURGE_REQUIRE(!ec && fs::is_directory(dir), IoError,
                "cannot create surrogate directory '" << dir << "': " << ec.message());
  const fs::path weights = fs::path(dir) / "model.pt";
  const fs::path yaml = fs::path(dir) / "surrogate.yaml";
  try {
    torch::serialize::OutputArchive archive;
    model.save(archive);
    archive.save_to((weights.string() + ".partial"));
  } catch (const c10::Error& e) {
    SURGE_THROW(IoError, "cannot write weights '" << weights.string() << "': "
                                                  << first_line(e.what_without_backtrace()));
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
    fs::copy_file(mesh, fs::path(dir) / "mesh.yaml", fs::copy_options::overwrite_existing, ec);
    SURGE_REQUIRE(!ec, IoError,
                  "cannot copy the mesh '" << mesh << "' into '" << dir << "': " << ec.message());
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
    std::ofstream out(yaml.string() + ".partial");
    out << core::to_yaml_text(root);
    SURGE_REQUIRE(out.good(), IoError, "cannot write '" << yaml.string() << "'");
  }
  fs::rename(weights.string() + ".partial", weights, ec);
  if (!ec) fs::rename(yaml.string() + ".partial", yaml, ec);
  SURGE_REQUIRE(!ec, IoError, "cannot rename into '" << dir << "': " << ec.message());
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

}  // namespace surge::surrogates

// ---- surge::Surrogate ----

namespace surge {

namespace fs = std::filesystem;
using surrogates::IoDescription;

struct Surrogate::Impl {
  IoDescription io;
  std::string architecture;
  std::vector<std::string> input_names;
  std::string metadata;
  std::shared_ptr<surrogates::detail::Model> model;
  surrogates::detail::OperatorNorm norm;  // .state normalises field_from_parameters outputs
};

namespace {
std::vector<double> read_doubles(const YAML::Node& node, const std::string& what,
                                 std::size_t expected, const std::string& file) {
  SURGE_REQUIRE(node.IsSequence() && node.size() == expected, ConfigError,
                file << ": '" << what << "' must be a list of " << expected << " numbers");
  std::vector<double> out;
  for (const auto& v : node) out.push_back(v.as<double>());
  return out;
}
}  // namespace

Surrogate Surrogate::load(const std::string& dir) {
  SURGE_REQUIRE(fs::is_directory(dir), IoError,
                "surrogate directory '" << dir << "' does not exist or is not a directory");
  const std::string yaml = (fs::path(dir) / "surrogate.yaml").string();
  SURGE_REQUIRE(fs::is_regular_file(yaml), IoError,
                "'" << dir << "' holds no surrogate.yaml: not an exported surrogate");
  const YAML::Node root = core::load_yaml_file(yaml);
  auto impl = std::make_shared<Impl>();
  try {
    SURGE_REQUIRE(root.IsMap() && root["format_version"] && root["architecture"] && root["io"] &&
                      root["normalisation"],
                  ConfigError,
                  yaml << ": not a surrogate description (format_version, architecture, io or "
                          "normalisation missing)");
    const auto version = root["format_version"].as<std::int64_t>();
    SURGE_REQUIRE(version >= 1 && version <= surrogates::detail::kSurrogateFormat, ConfigError,
                  yaml << ": format_version " << version << " is not supported (1 to "
                       << surrogates::detail::kSurrogateFormat << ")");
    impl->io = IoDescription::from_yaml(root["io"]);
    core::ConfigSource source{yaml, {}};
    const core::Pluggable arch = core::read_pluggable(root["architecture"], source, "architecture");
    impl->architecture = arch.type;
    const std::size_t fields = impl->io.fields.size();
    const auto mean = read_doubles(root["normalisation"]["output_mean"],
                                   "normalisation.output_mean", fields, yaml);
    const auto sd =
        read_doubles(root["normalisation"]["output_std"], "normalisation.output_std", fields, yaml);
    impl->model = surrogates::detail::make_model(arch, impl->io, source, "architecture");
    impl->norm.state = surrogates::detail::Normaliser(impl->io);
    impl->norm.state.set_fixed(mean, sd);
    impl->norm.delta = surrogates::detail::Normaliser(impl->io);
    if (impl->io.is_operator()) {
      impl->norm.delta.set_fixed(read_doubles(root["normalisation"]["increment_mean"],
                                              "normalisation.increment_mean", fields, yaml),
                                 read_doubles(root["normalisation"]["increment_std"],
                                              "normalisation.increment_std", fields, yaml));
    }
  } catch (const YAML::Exception& e) {
    SURGE_THROW(ConfigError, yaml << ":" << e.mark.line + 1 << ": " << e.msg);
  }
  for (const auto& input : impl->io.inputs) impl->input_names.push_back(input.name);
  impl->metadata = core::to_yaml_text(root);

  const std::string weights = (fs::path(dir) / "model.pt").string();
  SURGE_REQUIRE(fs::is_regular_file(weights), IoError,
                "'" << dir << "' holds no model.pt (the weights)");
  const auto expected = surrogates::detail::parameter_shapes(*impl->model);
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(weights);
    impl->model->load(archive);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    SURGE_THROW(IoError,
                "cannot read weights '" << weights << "': " << what.substr(0, what.find('\n')));
  }
  const auto loaded = surrogates::detail::parameter_shapes(*impl->model);
  SURGE_REQUIRE(loaded == expected, IoError,
                "weights '" << weights << "' do not fit the architecture in surrogate.yaml");
  impl->model->eval();
  return Surrogate(std::move(impl));
}

torch::Tensor Surrogate::predict(const torch::Tensor& x) const {
  SURGE_REQUIRE(!impl_->io.is_operator(), ConfigError,
                "predict() needs a field_from_parameters model; this next_step model has step() "
                "and rollout()");
  const std::int64_t n_in = impl_->io.input_size();
  SURGE_REQUIRE((x.dim() == 1 || x.dim() == 2) && x.size(-1) == n_in, ConfigError,
                "a surrogate of " << n_in << " inputs needs x of shape [batch, " << n_in << "] or ["
                                  << n_in << "], got " << x.sizes());
  torch::NoGradGuard no_grad;
  const torch::Tensor xs = x.to(torch::kCPU, torch::kFloat).reshape({-1, n_in}).contiguous();
  torch::Tensor y =
      impl_->norm.state.denormalise(impl_->model->forward(impl_->norm.state.inputs(xs)));
  return x.dim() == 1 ? y.reshape({impl_->io.output_size()}) : y;
}

namespace {
// A state [C, nx, ny] or [B, C, nx, ny] and parameters [P] or [B, P] as float CPU tensors
// [B, C, nx, ny] and [B, P]; checks every size against the description.
std::pair<torch::Tensor, torch::Tensor> operator_arguments(const IoDescription& io,
                                                           const torch::Tensor& state,
                                                           const torch::Tensor& parameters) {
  SURGE_REQUIRE(io.is_operator(), ConfigError,
                "step() and rollout() need a next_step model; this one is " << io.kind);
  const auto c = static_cast<std::int64_t>(io.fields.size());
  const std::vector<std::int64_t> one = {c, io.grid[0], io.grid[1]};
  const bool batched = state.dim() == 4;
  SURGE_REQUIRE((state.dim() == 3 && state.sizes().vec() == one) ||
                    (batched && state.sizes().slice(1).vec() == one),
                ConfigError,
                "the state must be [" << c << ", " << io.grid[0] << ", " << io.grid[1]
                                      << "] (channels, nx, ny) or batched, got " << state.sizes());
  const std::int64_t b = batched ? state.size(0) : 1;
  const std::int64_t p = io.input_size();
  SURGE_REQUIRE(parameters.numel() == b * p || parameters.numel() == p, ConfigError,
                "the surrogate takes " << p << " parameters per state, got " << parameters.numel());
  torch::Tensor s = state.to(torch::kCPU, torch::kFloat).reshape({b, c, io.grid[0], io.grid[1]});
  torch::Tensor q = parameters.to(torch::kCPU, torch::kFloat).reshape({-1, p});
  if (q.size(0) != b) q = q.expand({b, p});
  return {s.contiguous(), q.contiguous()};
}
}  // namespace

torch::Tensor Surrogate::step(const torch::Tensor& state, const torch::Tensor& parameters) const {
  const auto [s, p] = operator_arguments(impl_->io, state, parameters);
  torch::NoGradGuard no_grad;
  torch::Tensor next =
      surrogates::detail::operator_step(*impl_->model, impl_->io, impl_->norm, s, p);
  return state.dim() == 3 ? next[0] : next;
}

torch::Tensor Surrogate::step(const torch::Tensor& state,
                              const std::vector<double>& parameters) const {
  return step(state, torch::tensor(parameters, torch::kDouble).to(torch::kFloat));
}

torch::Tensor Surrogate::rollout(const torch::Tensor& initial, const torch::Tensor& parameters,
                                 std::int64_t steps) const {
  SURGE_REQUIRE(steps >= 0, ConfigError, "rollout: steps must be >= 0, got " << steps);
  const auto [s, p] = operator_arguments(impl_->io, initial, parameters);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> frames{s};
  for (std::int64_t k = 0; k < steps; ++k)
    frames.push_back(
        surrogates::detail::operator_step(*impl_->model, impl_->io, impl_->norm, frames.back(), p));
  torch::Tensor out = torch::stack(frames, 1);  // [B, steps + 1, C, nx, ny]
  return initial.dim() == 3 ? out[0] : out;
}

torch::Tensor Surrogate::rollout(const torch::Tensor& initial,
                                 const std::vector<double>& parameters, std::int64_t steps) const {
  return rollout(initial, torch::tensor(parameters, torch::kDouble).to(torch::kFloat), steps);
}

double Surrogate::dt() const noexcept { return impl_->io.dt; }
std::int64_t Surrogate::stride() const noexcept { return impl_->io.stride; }
const std::vector<bool>& Surrogate::periodic() const noexcept { return impl_->io.periodic; }
std::vector<std::pair<std::string, int>> Surrogate::field_layout() const {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& f : impl_->io.field_layout()) out.emplace_back(f.name, f.components);
  return out;
}

torch::Tensor Surrogate::predict(const std::vector<double>& parameters, double t) const {
  SURGE_REQUIRE(impl_->io.kind == "field_from_parameters", ConfigError,
                "predict(parameters, t) needs a field_from_parameters model, this one is '"
                    << impl_->io.kind << "'");
  const bool timed = impl_->io.has_time();
  const std::size_t expected = impl_->io.inputs.size() - (timed ? 1 : 0);
  SURGE_REQUIRE(parameters.size() == expected, ConfigError,
                "the surrogate takes " << expected << " parameters, got " << parameters.size());
  std::vector<float> x(parameters.begin(), parameters.end());
  if (timed) x.push_back(static_cast<float>(t));
  torch::Tensor y = predict(torch::tensor(x, torch::kFloat));
  std::vector<std::int64_t> shape{static_cast<std::int64_t>(impl_->io.fields.size())};
  shape.insert(shape.end(), impl_->io.grid.begin(), impl_->io.grid.end());
  return y.reshape(shape);
}

const std::string& Surrogate::kind() const noexcept { return impl_->io.kind; }
const std::string& Surrogate::architecture() const noexcept { return impl_->architecture; }
const std::string& Surrogate::solver() const noexcept { return impl_->io.solver; }
const std::vector<std::string>& Surrogate::input_names() const noexcept {
  return impl_->input_names;
}
std::vector<std::string> Surrogate::parameter_names() const { return impl_->io.parameter_names(); }
std::vector<std::pair<double, double>> Surrogate::input_ranges() const {
  std::vector<std::pair<double, double>> out;
  for (const auto& r : impl_->io.inputs) out.emplace_back(r.min, r.max);
  return out;
}
const std::vector<std::string>& Surrogate::field_names() const noexcept { return impl_->io.fields; }
const std::vector<std::int64_t>& Surrogate::grid() const noexcept { return impl_->io.grid; }
const std::vector<double>& Surrogate::times() const noexcept { return impl_->io.times; }
std::int64_t Surrogate::input_size() const noexcept { return impl_->io.input_size(); }
std::int64_t Surrogate::output_size() const noexcept { return impl_->io.output_size(); }
const std::string& Surrogate::metadata_yaml() const noexcept { return impl_->metadata; }

}  // namespace surge
