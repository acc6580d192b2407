// `surge predict <model-dir> key=value... [--out FILE]`: evaluates a trained surrogate at
// the given parameters and writes its fields at the output times in the layout of The Well,
// through the same writer as `surge solve` (the surrogate poses as a solver).
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include "surge/core/hdf5.hpp"

#include "surge/core/config.hpp"
#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mesh.hpp"
#include "surge/experiments/cli.hpp"
#include "surge/solvers/member.hpp"
#include "surge/solvers/solver.hpp"
#include "surge/surrogate.hpp"

namespace surge::experiments {

namespace {

// The mesh a model on a mesh carries (architecture.parameters.mesh, relative to its
// directory), whose coordinates the written file then holds; none for a model on a grid.
std::optional<core::Mesh> model_mesh(const Surrogate& s, const std::string& dir) {
  const YAML::Node root = YAML::Load(s.metadata_yaml());
  const YAML::Node mesh = root["architecture"]["parameters"]["mesh"];
  if (!mesh || !mesh.IsScalar() || mesh.as<std::string>().empty()) return std::nullopt;
  const std::filesystem::path p(mesh.as<std::string>());
  return core::read_mesh((p.is_absolute() ? p : std::filesystem::path(dir) / p).string());
}

// A surrogate seen through the Solver interface, so that the Well writer of `surge solve`
// writes its frames. Field-from-parameters models: advance_to(t) predicts the fields at t,
// and the initial state is the prediction at the first requested time. Next-step models:
// the initial state is given, and advance_to(t) steps the model until t. Either way the
// file's frames (solvers::frame_times) are exactly `times`. The surrogate's channels are
// written as the fields they came from (a vector's components as one t1 field).
class SurrogateMember final : public solvers::Solver {
 public:
  SurrogateMember(const Surrogate& surrogate, std::string dir, std::vector<double> parameters,
                  std::vector<double> times, torch::Tensor initial = {})
      : s_(surrogate),
        dir_(std::move(dir)),
        parameters_(std::move(parameters)),
        times_(std::move(times)),
        decomposition_(MPI_COMM_SELF, static_cast<int>(s_.grid().at(0)),
                       static_cast<int>(s_.grid().at(1))) {
    int channel = 0;
    for (const auto& [name, components] : s_.field_layout()) {
      layout_.push_back({name, channel, components});
      channel += components;
    }
    mesh_ = model_mesh(s_, dir_);
    if (initial.defined()) {
      state_ = initial;
      time_ = times_.at(0);
    } else {
      advance_to(times_.at(0));
    }
  }

  std::string name() const override {
    return (s_.solver().empty() ? std::string("field") : s_.solver()) + "_surrogate";
  }
  const solvers::Decomposition2D& decomposition() const override { return decomposition_; }
  std::vector<std::string> field_names() const override {
    std::vector<std::string> out;
    for (const auto& f : layout_) out.push_back(f.name);
    return out;
  }
  std::vector<solvers::FieldDescriptor> fields() const override {
    std::vector<solvers::FieldDescriptor> out;
    for (const auto& f : layout_) out.push_back({f.name, f.components > 1 ? 1 : 0, f.components});
    return out;
  }
  // Row-major (y fastest), a vector field's components interleaved last, as solvers do.
  void copy_field(const std::string& field, std::vector<float>& out) const override {
    const auto it = std::find_if(layout_.begin(), layout_.end(),
                                 [&](const Slot& f) { return f.name == field; });
    SURGE_REQUIRE(it != layout_.end(), ConfigError, "the surrogate has no field '" << field << "'");
    const torch::Tensor f =
        state_.narrow(0, it->channel, it->components).permute({1, 2, 0}).contiguous();
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
  const core::Mesh* mesh() const override { return mesh_ ? &*mesh_ : nullptr; }
  std::vector<solvers::BoundaryCondition> boundary_conditions() const override {
    std::vector<solvers::BoundaryCondition> out;
    const auto& periodic = s_.periodic();
    for (std::size_t axis = 0; axis < periodic.size() && axis < 2; ++axis) {
      if (periodic[axis]) out.push_back({axis == 0 ? "x" : "y", "periodic", field_names(), {}});
    }
    return out;
  }
  void advance_to(double t) override {
    if (s_.kind() == "next_step") {
      // Steps of dt from the current time; t is one of times_, k steps of dt apart.
      while (time_ + 0.5 * s_.dt() < t) {
        state_ = s_.step(state_, parameters_);
        time_ += s_.dt();
      }
      time_ = t;
      return;
    }
    state_ = s_.predict(parameters_, t);
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
           std::to_string(s_.field_names().size()) + " channel(s) on " +
           std::to_string(s_.grid()[0]) + " x " + std::to_string(s_.grid()[1]);
  }

 private:
  struct Slot {
    std::string name;
    std::int64_t channel = 0;
    int components = 1;
  };
  const Surrogate& s_;
  std::string dir_;
  std::vector<double> parameters_, times_;
  solvers::Decomposition2D decomposition_;
  std::vector<Slot> layout_;
  std::optional<core::Mesh> mesh_;
  torch::Tensor state_;  // [channels, nx, ny]
  double time_ = 0.0;
};

// One frame of a Well-layout member file (`surge solve`'s) as the surrogate's state
// [channels, nx, ny], with its time and the file's value of every parameter it has.
struct InitialState {
  torch::Tensor state;
  double time = 0.0;
  std::map<std::string, double> parameters;
  std::int64_t frames = 0;
};

InitialState read_initial_state(const std::string& path, const Surrogate& s, std::int64_t frame) {
  namespace h5 = core::h5;
  h5::silence_library_errors();
  const h5::File file = h5::open_file(path);
  InitialState out;
  const std::int64_t nx = s.grid().at(0), ny = s.grid().at(1);
  std::vector<torch::Tensor> channels;
  for (const auto& [name, components] : s.field_layout()) {
    const std::string where = (components > 1 ? "t1_fields/" : "t0_fields/") + name;
    SURGE_REQUIRE(h5::exists(file, where), IoError,
                  path << ": no dataset " << where << " (the surrogate's field '" << name << "')");
    std::vector<hsize_t> dims;
    const std::vector<float> data = h5::read_dataset<float>(file, where, &dims);
    const std::vector<hsize_t> expected_tail =
        components > 1 ? std::vector<hsize_t>{static_cast<hsize_t>(nx), static_cast<hsize_t>(ny),
                                              static_cast<hsize_t>(components)}
                       : std::vector<hsize_t>{static_cast<hsize_t>(nx), static_cast<hsize_t>(ny)};
    SURGE_REQUIRE(dims.size() == 2 + expected_tail.size() && dims[0] >= 1 &&
                      std::equal(expected_tail.begin(), expected_tail.end(), dims.begin() + 2),
                  IoError,
                  path << ": " << where << " is not (trajectories, frames, " << nx << ", " << ny
                       << (components > 1 ? ", " + std::to_string(components) : "")
                       << ") as the surrogate's grid needs");
    out.frames = static_cast<std::int64_t>(dims[1]);
    SURGE_REQUIRE(frame >= 0 && frame < out.frames, ConfigError,
                  "--frame " << frame << " is outside the " << out.frames << " frames of " << path);
    const std::int64_t per_frame = nx * ny * components;
    torch::Tensor f = torch::from_blob(const_cast<float*>(data.data()) + frame * per_frame,
                                       {nx, ny, components}, torch::kFloat)
                          .permute({2, 0, 1})
                          .clone();
    channels.push_back(f);
  }
  out.state = torch::cat(channels, 0).contiguous();
  const auto times = h5::read_dataset<double>(file, "dimensions/time");
  SURGE_REQUIRE(static_cast<std::int64_t>(times.size()) == out.frames, IoError,
                path << ": dimensions/time has " << times.size() << " values for " << out.frames
                     << " frames");
  out.time = times[static_cast<std::size_t>(frame)];
  for (const auto& name : s.parameter_names()) {
    if (SURGE_HDF5_CHECK(H5Aexists(file, name.c_str())) > 0)
      out.parameters[name] = h5::read_attribute_double(file, name);
  }
  return out;
}

void print_help() {
  std::printf(
      "usage: surge predict <model-dir> key=value... [options]\n"
      "       surge predict <model-dir> --initial MEMBER.h5 [--frame K] [--steps N] [options]\n"
      "\nEvaluates a trained surrogate (a directory written by training: surrogate.yaml +\n"
      "model.pt) and writes its fields as an HDF5 file in the layout of The Well, like\n"
      "`surge solve`, frame by frame comparable with a member's file.\n"
      "Field-from-parameters models (mlp): the fields at the output times for one set of\n"
      "parameters. Next-step models (fno): a rollout from the state of a member file.\n"
      "\narguments:\n"
      "  key=value   a value for every parameter of the model (its names are listed by\n"
      "              --help with a model directory); t=T or t=[T1, T2, ...] sets the output\n"
      "              times (default: the solver's frame times stored with the model). With\n"
      "              --initial, parameters default to the member file's and key=value\n"
      "              overrides them\n"
      "\noptions:\n"
      "  --out FILE      output HDF5 file (default: prediction.h5, or rollout.h5)\n"
      "  --initial FILE  next-step models: a Well-layout member file to start from\n"
      "  --frame K       the frame of --initial to start from (default: 0, the initial state)\n"
      "  --steps N       model steps to roll out (default: as far as the member file goes)\n"
      "  --log-level L   debug, info, warn, error, off (default: info)\n"
      "  --help          this text\n");
}

// The command line of `surge predict`.
struct PredictOptions {
  std::string dir, out, initial;
  std::int64_t frame = 0, steps = -1;
  std::map<std::string, std::string> values;  // key=value: parameters, and t
  bool help = false;
};

std::int64_t whole_number(const std::string& option, const std::string& text) {
  try {
    std::size_t used = 0;
    const long long v = std::stoll(text, &used);
    SURGE_REQUIRE(used == text.size() && v >= 0, ConfigError, "");
    return static_cast<std::int64_t>(v);
  } catch (const std::exception&) {
    SURGE_THROW(ConfigError, option << " needs an integer >= 0, got '" << text << "'");
  }
}

PredictOptions parse_predict_options(const std::vector<std::string>& args) {
  PredictOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      SURGE_REQUIRE(i + 1 < args.size(), ConfigError, a << " needs a value");
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--out") {
      o.out = value();
    } else if (a == "--initial") {
      o.initial = value();
    } else if (a == "--log-level") {
      core::Logger::set_level(core::parse_log_level(value()));
    } else if (a == "--frame") {
      o.frame = whole_number(a, value());
    } else if (a == "--steps") {
      o.steps = whole_number(a, value());
    } else if (core::is_override(a)) {
      const auto eq = a.find('=');
      o.values[a.substr(0, eq)] = a.substr(eq + 1);
    } else if (!a.empty() && a[0] != '-' && o.dir.empty()) {
      o.dir = a;
    } else {
      SURGE_THROW(ConfigError, "unknown argument '" << a << "' (see surge predict --help)");
    }
  }
  return o;
}

// What a model directory takes, after --help.
void print_model_inputs(const std::string& dir) {
  const Surrogate s = Surrogate::load(dir);
  std::printf("\n%s takes:", dir.c_str());
  const auto ranges = s.input_ranges();
  for (std::size_t i = 0; i < ranges.size(); ++i)
    std::printf(" %s in [%g, %g]", s.input_names()[i].c_str(), ranges[i].first, ranges[i].second);
  std::printf("\n");
}

// The model's parameters in its order, taken (and erased) from `values`; a value outside the
// training range is a warning.
std::vector<double> take_parameters(const Surrogate& s, std::map<std::string, std::string>& values,
                                    const std::string& known, const core::Logger& log) {
  const auto names = s.parameter_names();
  const auto ranges = s.input_ranges();
  std::vector<double> parameters;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto it = values.find(names[i]);
    SURGE_REQUIRE(it != values.end(), ConfigError,
                  "missing parameter '" << names[i] << "' (the model takes " << known << ")");
    try {
      parameters.push_back(YAML::Load(it->second).as<double>());
    } catch (const YAML::Exception&) {
      SURGE_THROW(ConfigError, "'" << names[i] << "' must be a number, got '" << it->second << "'");
    }
    if (parameters.back() < ranges[i].first || parameters.back() > ranges[i].second)
      SURGE_LOG(log, warn,
                names[i] << " = " << parameters.back() << " is outside the training range ["
                         << ranges[i].first << ", " << ranges[i].second << "]");
    values.erase(it);
  }
  return parameters;
}

// t=T or t=[T1, T2, ...] of a field-from-parameters model (taken from `values`), else the
// model's output times.
std::vector<double> take_times(const Surrogate& s, std::map<std::string, std::string>& values) {
  const auto it = values.find("t");
  if (it == values.end()) return s.times();
  std::vector<double> times;
  try {
    const YAML::Node node = YAML::Load(it->second);
    times =
        node.IsSequence() ? node.as<std::vector<double>>() : std::vector<double>{node.as<double>()};
  } catch (const YAML::Exception&) {
    SURGE_THROW(ConfigError, "'t' must be a time or a list of times, got '" << it->second << "'");
  }
  values.erase(it);
  return times;
}

// The model checked against the options: a 2D grid, --initial for next_step models only.
void check_model(const Surrogate& s, const PredictOptions& o, bool rollout) {
  SURGE_REQUIRE(s.grid().size() == 2, ConfigError,
                "surge predict writes models on 2D grids; '" << o.dir << "' has a "
                                                             << s.grid().size() << "D grid");
  SURGE_REQUIRE(!rollout || !o.initial.empty(), ConfigError,
                "'" << o.dir << "' is a next_step model: give the state to start from with "
                    << "--initial MEMBER.h5 (a surge solve file)");
  SURGE_REQUIRE(rollout || (o.initial.empty() && o.steps < 0), ConfigError,
                "--initial and --steps are for next_step models; '" << o.dir << "' is a "
                                                                    << s.kind() << " model");
}

}  // namespace

int predict_command(const std::vector<std::string>& args) {
  PredictOptions o = parse_predict_options(args);
  if (o.help || o.dir.empty()) {
    if (core::Logger::rank() == 0) print_help();
    if (o.help && !o.dir.empty()) print_model_inputs(o.dir);
    return o.help ? 0 : 2;
  }
  int size = 1;
  SURGE_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
  SURGE_REQUIRE(size == 1, ConfigError, "surge predict runs on one MPI rank, not " << size);

  const Surrogate s = Surrogate::load(o.dir);
  const bool rollout = s.kind() == "next_step";
  check_model(s, o, rollout);
  if (o.out.empty()) o.out = rollout ? "rollout.h5" : "prediction.h5";
  InitialState start;
  if (rollout) {
    start = read_initial_state(o.initial, s, o.frame);
    for (const auto& [name, v] : start.parameters)
      if (!o.values.count(name)) o.values[name] = core::detail::to_text(v);
  }
  std::string known;
  for (const auto& n : s.parameter_names()) known += (known.empty() ? "" : ", ") + n;
  core::Logger log("predict");
  const std::vector<double> parameters = take_parameters(s, o.values, known, log);
  std::vector<double> times = rollout ? std::vector<double>{} : take_times(s, o.values);
  SURGE_REQUIRE(o.values.empty(), ConfigError,
                "unknown parameter '" << o.values.begin()->first << "' (the model takes " << known
                                      << (rollout ? "" : ", t") << ")");
  torch::Tensor state;
  if (rollout) {
    // By default as far as the member file goes, in steps of stride frames.
    const std::int64_t steps = o.steps >= 0 ? o.steps : (start.frames - 1 - o.frame) / s.stride();
    for (std::int64_t k = 0; k <= steps; ++k)
      times.push_back(start.time + static_cast<double>(k) * s.dt());
    state = start.state;
    SURGE_LOG(log, info,
              "rolling out " << steps << " steps of dt = " << s.dt() << " from frame " << o.frame
                             << " (t = " << start.time << ") of " << o.initial);
  }
  SURGE_REQUIRE(!times.empty(), ConfigError,
                "the model stores no output times: give them as t=[T1, T2, ...]");

  SurrogateMember member(s, o.dir, parameters, times, state);
  solvers::WellWriter writer(o.out, member);
  (void)solvers::run_member(member, {&writer}, log);
  SURGE_LOG(log, info, "wrote " << o.out);
  return 0;
}

}  // namespace surge::experiments
