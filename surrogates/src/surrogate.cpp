// surge::Surrogate: a trained model loaded from its exported directory, for any C++ program.
#include <filesystem>
#include <utility>

#include "model.hpp"
#include "surge/core/error.hpp"
#include "surge/surrogate.hpp"

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
    SURGE_THROW(IoError, "cannot read weights '" << weights
                                                 << "': " << surrogates::detail::first_line(what));
  }
  const auto loaded = surrogates::detail::parameter_shapes(*impl->model);
  SURGE_REQUIRE(loaded == expected, IoError,
                "weights '" << weights << "' do not fit the architecture in surrogate.yaml");
  impl->model->eval();
  return Surrogate(std::move(impl));
}

namespace {
// x [batch, input_size] or [input_size] of a field_from_parameters model as a contiguous float
// CPU tensor [batch, input_size].
torch::Tensor field_input(const IoDescription& io, const torch::Tensor& x) {
  SURGE_REQUIRE(!io.is_operator(), ConfigError,
                "predict() needs a field_from_parameters model; this next_step model has step() "
                "and rollout()");
  const std::int64_t n_in = io.input_size();
  SURGE_REQUIRE((x.dim() == 1 || x.dim() == 2) && x.size(-1) == n_in, ConfigError,
                "a surrogate of " << n_in << " inputs needs x of shape [batch, " << n_in << "] or ["
                                  << n_in << "], got " << x.sizes());
  return x.to(torch::kCPU, torch::kFloat).reshape({-1, n_in}).contiguous();
}
}  // namespace

torch::Tensor Surrogate::predict(const torch::Tensor& x) const {
  const torch::Tensor xs = field_input(impl_->io, x);
  torch::NoGradGuard no_grad;
  torch::Tensor y =
      impl_->norm.state.denormalise(impl_->model->forward(impl_->norm.state.inputs(xs)));
  return x.dim() == 1 ? y.reshape({impl_->io.output_size()}) : y;
}

void Surrogate::predict_into(const torch::Tensor& x, torch::Tensor& out) const {
  const torch::Tensor xs = field_input(impl_->io, x);
  const std::vector<std::int64_t> shape{xs.size(0), impl_->io.output_size()};
  SURGE_REQUIRE(out.defined() && out.device().is_cpu() && out.scalar_type() == torch::kFloat &&
                    out.is_contiguous() && out.sizes().vec() == shape,
                ConfigError,
                "predict_into needs out as a contiguous float CPU tensor of [" << shape[0] << ", "
                                                                               << shape[1] << "]");
  torch::NoGradGuard no_grad;
  impl_->norm.state.denormalise_into(impl_->model->forward(impl_->norm.state.inputs(xs)), out);
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
