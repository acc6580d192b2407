// `surge predict <model-dir> key=value... [--out FILE]`: evaluates a trained surrogate at
// the given parameters and writes its fields at the output times in the layout of The Well,
// through the same writer as `surge solve` (the surrogate poses as a solver).
#include <mpi.h>

#include <cstdio>
#include <map>

#include "surge/core/config.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/experiments/cli.hpp"
#include "surge/solvers/member.hpp"
#include "surge/solvers/solver.hpp"
#include "surge/surrogate.hpp"

namespace surge::experiments {

namespace {

// A field-from-parameters surrogate seen through the Solver interface: advance_to(t)
// predicts the fields at t. Its initial state is the prediction at the first requested
// time, so the file's frames (solvers::frame_times) are exactly the requested times.
class SurrogateMember final : public solvers::Solver {
 public:
  SurrogateMember(const Surrogate& surrogate, std::string dir, std::vector<double> parameters,
                  std::vector<double> times)
      : s_(surrogate),
        dir_(std::move(dir)),
        parameters_(std::move(parameters)),
        times_(std::move(times)),
        decomposition_(MPI_COMM_SELF, static_cast<int>(s_.grid().at(0)),
                       static_cast<int>(s_.grid().at(1))) {
    advance_to(times_.at(0));
  }

  std::string name() const override {
    return (s_.solver().empty() ? std::string("field") : s_.solver()) + "_surrogate";
  }
  const solvers::Decomposition2D& decomposition() const override { return decomposition_; }
  std::vector<std::string> field_names() const override { return s_.field_names(); }
  void copy_field(const std::string& field, std::vector<float>& out) const override {
    const auto& names = s_.field_names();
    const auto it = std::find(names.begin(), names.end(), field);
    SURGE_REQUIRE(it != names.end(), ConfigError, "the surrogate has no field '" << field << "'");
    const torch::Tensor f = prediction_[it - names.begin()].contiguous();
    out.assign(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
  }
  std::vector<std::pair<std::string, double>> parameters() const override {
    std::vector<std::pair<std::string, double>> out;
    const auto names = s_.parameter_names();
    for (std::size_t i = 0; i < names.size(); ++i) out.emplace_back(names[i], parameters_[i]);
    return out;
  }
  std::vector<double> output_times() const override {
    return std::vector<double>(times_.begin() + 1, times_.end());
  }
  std::vector<solvers::BoundaryCondition> boundary_conditions() const override { return {}; }
  void advance_to(double t) override {
    prediction_ = s_.predict(parameters_, t);
    time_ = t;
  }
  double time() const override { return time_; }
  YAML::Node resolved_config() const override {
    YAML::Node node(YAML::NodeType::Map);
    node["surrogate"] = dir_;
    for (const auto& [name, value] : parameters()) node[name] = value;
    node["times"] = times_;
    return node;
  }
  std::string summary() const override {
    return s_.architecture() + " surrogate of " + s_.solver() + " from '" + dir_ +
           "': " + std::to_string(s_.input_size()) + " inputs -> " +
           std::to_string(s_.field_names().size()) + " field(s) on " +
           std::to_string(s_.grid()[0]) + " x " + std::to_string(s_.grid()[1]);
  }

 private:
  const Surrogate& s_;
  std::string dir_;
  std::vector<double> parameters_, times_;
  solvers::Decomposition2D decomposition_;
  torch::Tensor prediction_;
  double time_ = 0.0;
};

void print_help() {
  std::printf(
      "usage: surge predict <model-dir> key=value... [options]\n"
      "\nEvaluates a trained surrogate (a directory written by training: surrogate.yaml +\n"
      "model.pt) for one set of parameters and writes its fields at the output times as an\n"
      "HDF5 file in the layout of The Well, like `surge solve`.\n"
      "\narguments:\n"
      "  key=value   a value for every parameter of the model (its names are listed by\n"
      "              --help with a model directory); t=T or t=[T1, T2, ...] sets the output\n"
      "              times (default: the solver's output times stored with the model)\n"
      "\noptions:\n"
      "  --out FILE  output HDF5 file (default: prediction.h5)\n"
      "  --help      this text\n");
}

}  // namespace

int predict_command(const std::vector<std::string>& args) {
  std::string dir, out = "prediction.h5";
  std::map<std::string, std::string> values;
  bool help = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      help = true;
    } else if (a == "--out") {
      SURGE_REQUIRE(i + 1 < args.size(), ConfigError, "--out needs a value");
      out = args[++i];
    } else if (core::is_override(a)) {
      const auto eq = a.find('=');
      values[a.substr(0, eq)] = a.substr(eq + 1);
    } else if (!a.empty() && a[0] != '-' && dir.empty()) {
      dir = a;
    } else {
      SURGE_THROW(ConfigError, "unknown argument '" << a << "' (see surge predict --help)");
    }
  }
  if (help || dir.empty()) {
    if (core::Logger::rank() == 0) print_help();
    if (help && !dir.empty()) {
      const Surrogate s = Surrogate::load(dir);
      std::printf("\n%s takes:", dir.c_str());
      const auto ranges = s.input_ranges();
      for (std::size_t i = 0; i < ranges.size(); ++i)
        std::printf(" %s in [%g, %g]", s.input_names()[i].c_str(), ranges[i].first,
                    ranges[i].second);
      std::printf("\n");
    }
    return help ? 0 : 2;
  }
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  SURGE_REQUIRE(size == 1, ConfigError, "surge predict runs on one MPI rank, not " << size);

  const Surrogate s = Surrogate::load(dir);
  SURGE_REQUIRE(s.kind() == "field_from_parameters" && s.grid().size() == 2, ConfigError,
                "surge predict writes field-from-parameters models on 2D grids; '"
                    << dir << "' is a " << s.kind() << " model on a " << s.grid().size()
                    << "D grid");
  const auto names = s.parameter_names();
  auto parse_number = [](const std::string& key, const std::string& text) {
    try {
      return YAML::Load(text).as<double>();
    } catch (const YAML::Exception&) {
      SURGE_THROW(ConfigError, "'" << key << "' must be a number, got '" << text << "'");
    }
  };
  std::vector<double> parameters;
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  const auto ranges = s.input_ranges();
  core::Logger log("predict");
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto it = values.find(names[i]);
    SURGE_REQUIRE(it != values.end(), ConfigError,
                  "missing parameter '" << names[i] << "' (the model takes " << known << ")");
    parameters.push_back(parse_number(names[i], it->second));
    if (parameters.back() < ranges[i].first || parameters.back() > ranges[i].second)
      SURGE_LOG(log, warn,
                names[i] << " = " << parameters.back() << " is outside the training range ["
                         << ranges[i].first << ", " << ranges[i].second << "]");
    values.erase(it);
  }
  std::vector<double> times = s.times();
  if (const auto it = values.find("t"); it != values.end()) {
    try {
      const YAML::Node node = YAML::Load(it->second);
      times = node.IsSequence() ? node.as<std::vector<double>>()
                                : std::vector<double>{node.as<double>()};
    } catch (const YAML::Exception&) {
      SURGE_THROW(ConfigError, "'t' must be a time or a list of times, got '" << it->second << "'");
    }
    values.erase(it);
  }
  SURGE_REQUIRE(values.empty(), ConfigError,
                "unknown parameter '" << values.begin()->first << "' (the model takes " << known
                                      << (s.kind() == "field_from_parameters" ? ", t" : "") << ")");
  SURGE_REQUIRE(!times.empty(), ConfigError,
                "the model stores no output times: give them as t=[T1, T2, ...]");

  SurrogateMember member(s, dir, parameters, times);
  solvers::WellWriter writer(out, member);
  (void)solvers::run_member(member, {&writer}, log);
  SURGE_LOG(log, info, "wrote " << out);
  return 0;
}

}  // namespace surge::experiments
