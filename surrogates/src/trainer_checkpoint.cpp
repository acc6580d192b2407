// Checkpoints and export of a Trainer: everything needed to continue training exactly, and
// the loadable surrogate directory.
#include <filesystem>
#include <regex>

#include "surge/core/atomic_file.hpp"
#include "trainer_impl.hpp"

namespace surge::surrogates {

namespace fs = std::filesystem;
using detail::first_line;

namespace {
constexpr std::int64_t kCheckpointFormat = 1;
constexpr int kTrainingColumns = 6;  // batch, samples, loss, lr, samples/s, wall
}  // namespace

namespace {
torch::Tensor doubles_tensor(const std::vector<double>& v) {
  return torch::tensor(v, torch::kDouble);
}
std::vector<double> tensor_doubles(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kDouble).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}
std::string identity_text(const ModelConfig& model, const IoDescription& io) {
  YAML::Node node(YAML::NodeType::Map);
  node["type"] = model.type;
  node["parameters"] = YAML::Clone(model.parameters);
  node["io"] = io.to_yaml();
  return core::to_yaml_text(node);
}
}  // namespace

void Trainer::save_checkpoint(const std::string& path) const {
  const Impl& m = *impl_;
  std::string bytes;
  try {
    torch::serialize::OutputArchive archive;
    archive.write("format", torch::tensor({kCheckpointFormat}, torch::kLong));
    archive.write("identity", c10::IValue(identity_text(m.model_config, m.io)));
    torch::serialize::OutputArchive model_archive, optimizer_archive;
    m.model->save(model_archive);
    m.optimizer->save(optimizer_archive);
    archive.write("model", model_archive);
    archive.write("optimizer", optimizer_archive);
    archive.write("step", torch::tensor({m.step}, torch::kLong));
    archive.write("elapsed", doubles_tensor({m.wall()}));
    archive.write("normaliser", doubles_tensor(m.norm.state.state()));
    archive.write("delta_normaliser", doubles_tensor(m.norm.delta.state()));
    {
      auto generator = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(generator.mutex());
      archive.write("torch_rng", generator.get_state());
    }
    std::vector<double> train;
    for (const auto& r : m.history.training) {
      train.insert(train.end(), {static_cast<double>(r.batch), static_cast<double>(r.samples),
                                 r.loss, r.learning_rate, r.samples_per_second, r.wall_seconds});
    }
    archive.write("history_training", doubles_tensor(train));
    std::vector<double> valid;
    for (const auto& r : m.history.validation) {
      valid.insert(valid.end(), {static_cast<double>(r.batch), r.wall_seconds, r.loss});
      for (const auto& f : r.fields) valid.insert(valid.end(), {f.relative_l2, f.nrmse, f.vrmse});
    }
    archive.write("history_validation", doubles_tensor(valid));
    bytes = detail::archive_bytes(archive);
  } catch (const c10::Error& e) {
    SURGE_THROW(IoError, "cannot write checkpoint '"
                             << path << "': " << first_line(e.what_without_backtrace()));
  }
  core::AtomicFile out(path);
  out.write(bytes);
  out.commit();
}

void Trainer::load_checkpoint(const std::string& path) {
  Impl& m = *impl_;
  SURGE_REQUIRE(fs::is_regular_file(path), IoError, "checkpoint '" << path << "' does not exist");
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    torch::Tensor format;
    archive.read("format", format);
    SURGE_REQUIRE(format.item<std::int64_t>() == kCheckpointFormat, IoError,
                  "checkpoint '" << path << "' has format " << format.item<std::int64_t>()
                                 << ", expected " << kCheckpointFormat);
    c10::IValue identity;
    archive.read("identity", identity);
    SURGE_REQUIRE(identity.toStringRef() == identity_text(m.model_config, m.io), ConfigError,
                  "checkpoint '" << path << "' belongs to another model or description:\n"
                                 << identity.toStringRef());
    const auto shapes = detail::parameter_shapes(*m.model);
    torch::serialize::InputArchive model_archive, optimizer_archive;
    archive.read("model", model_archive);
    archive.read("optimizer", optimizer_archive);
    {
      torch::NoGradGuard no_grad;
      m.model->load(model_archive);
    }
    SURGE_REQUIRE(detail::parameter_shapes(*m.model) == shapes, IoError,
                  "checkpoint '" << path << "' holds weights of other shapes");
    m.optimizer->load(optimizer_archive);
    torch::Tensor step, elapsed, normaliser, rng, train, valid;
    archive.read("step", step);
    archive.read("elapsed", elapsed);
    archive.read("normaliser", normaliser);
    archive.read("torch_rng", rng);
    archive.read("history_training", train);
    archive.read("history_validation", valid);
    m.step = step.item<std::int64_t>();
    m.elapsed_before = elapsed.item<double>();
    m.start = Clock::now();
    m.norm.state.set_state(tensor_doubles(normaliser));
    if (m.io.is_operator()) {
      torch::Tensor delta;
      archive.read("delta_normaliser", delta);
      m.norm.delta.set_state(tensor_doubles(delta));
    }
    {
      auto generator = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_state(rng);
    }
    m.history = {};
    const auto t = tensor_doubles(train);
    for (std::size_t i = 0; i + kTrainingColumns <= t.size(); i += kTrainingColumns) {
      m.history.training.push_back({static_cast<std::int64_t>(t[i]),
                                    static_cast<std::int64_t>(t[i + 1]), t[i + 2], t[i + 3],
                                    t[i + 4], t[i + 5]});
    }
    const auto v = tensor_doubles(valid);
    const std::size_t columns = 3 + 3 * m.io.fields.size();
    for (std::size_t i = 0; i + columns <= v.size(); i += columns) {
      ValidationRecord r;
      r.batch = static_cast<std::int64_t>(v[i]);
      r.wall_seconds = v[i + 1];
      r.loss = v[i + 2];
      for (std::size_t f = 0; f < m.io.fields.size(); ++f)
        r.fields.push_back({m.io.fields[f], v[i + 3 + 3 * f], v[i + 4 + 3 * f], v[i + 5 + 3 * f]});
      m.history.validation.push_back(r);
    }
  } catch (const c10::Error& e) {
    SURGE_THROW(IoError, "cannot read checkpoint '"
                             << path << "': " << first_line(e.what_without_backtrace()));
  }
  // The optimizer's load replaces nothing but its state; gradients stay bound to flat_grad.
  SURGE_LOG(m.log, info, "resumed from '" << path << "' at batch " << m.step);
}

std::optional<std::string> Trainer::latest_checkpoint(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  const std::regex pattern("checkpoint_([0-9]+)\\.pt");
  std::optional<std::string> best;
  long long best_step = -1;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::smatch match;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, match, pattern) && std::stoll(match[1]) > best_step) {
      best_step = std::stoll(match[1]);
      best = entry.path().string();
    }
  }
  return best;
}

void Trainer::Impl::prune_checkpoints() const {
  const std::regex pattern("checkpoint_([0-9]+)\\.pt");
  std::vector<std::pair<long long, fs::path>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(config.checkpoint_dir, ec)) {
    std::smatch match;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, match, pattern))
      found.emplace_back(std::stoll(match[1]), entry.path());
  }
  std::sort(found.begin(), found.end());
  const auto keep = static_cast<std::size_t>(config.keep_checkpoints);
  for (std::size_t i = 0; i + keep < found.size(); ++i) fs::remove(found[i].second, ec);
}

void Trainer::export_model(const std::string& dir) const {
  const Impl& m = *impl_;
  detail::write_surrogate_dir(dir, *m.model, m.model_config, m.io, m.norm.state,
                              m.io.is_operator() ? &m.norm.delta : nullptr,
                              core::dump_config(m.config), m.step);
}

}  // namespace surge::surrogates
