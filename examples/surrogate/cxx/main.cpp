// A program that uses a trained surrogate through surge::surrogate: the C++ example of the
// surrogates/README.md, and a consumer the tests build against an installed surge.
//   surrogate_cxx MODEL OUT P1 P2 ...                field-from-parameters models: every
//                                                    channel at each of the model's times
//   surrogate_cxx MODEL OUT INITIAL STEPS P1 P2 ...  next-step models: a rollout from INITIAL
// P1 P2 ... are the parameters in the model's order. INITIAL (one state) and OUT (the frames)
// are raw float32 files, [frames, channels, grid...] in C order. Prints the channel names.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <surge/surrogate.hpp>

namespace {

// One state [channels, grid...] of the surrogate from a raw float32 file.
torch::Tensor read_state(const std::string& path, const surge::Surrogate& s) {
  std::vector<std::int64_t> shape{static_cast<std::int64_t>(s.channel_names().size())};
  shape.insert(shape.end(), s.grid().begin(), s.grid().end());
  torch::Tensor state = torch::empty(shape, torch::kFloat);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(state.data_ptr<float>()), state.numel() * sizeof(float));
  if (!in)
    throw std::runtime_error("cannot read " + std::to_string(state.numel()) + " floats from '" +
                             path + "'");
  return state;
}

void write_frames(const std::string& path, const std::vector<torch::Tensor>& frames) {
  std::ofstream out(path, std::ios::binary);
  for (const torch::Tensor& f : frames) {
    const torch::Tensor c = f.contiguous();
    out.write(reinterpret_cast<const char*>(c.data_ptr<float>()), c.numel() * sizeof(float));
  }
  if (!out) throw std::runtime_error("cannot write '" + path + "'");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: surrogate_cxx MODEL OUT [INITIAL STEPS] P1 P2 ...\n");
    return 2;
  }
  try {
    // [readme]
    const surge::Surrogate s = surge::Surrogate::load(argv[1]);  // throws surge::core::Error
    const bool next_step = s.kind() == "next_step";              // or "field_from_parameters"
    if (next_step && argc < 5) throw std::runtime_error("a next_step model needs INITIAL STEPS");
    std::vector<double> parameters;  // in the order of s.parameter_names()
    for (int i = next_step ? 5 : 3; i < argc; ++i) parameters.push_back(std::atof(argv[i]));
    std::vector<torch::Tensor> frames;  // each [channels, nx, ny]
    if (next_step) {
      const torch::Tensor initial = read_state(argv[3], s);
      frames = s.rollout(initial, parameters, std::atoll(argv[4])).unbind(0);  // initial first
    } else {
      for (double t : s.times()) frames.push_back(s.predict(parameters, t));
    }
    // [readme end]
    write_frames(argv[2], frames);
    for (const std::string& c : s.channel_names()) std::printf("channel %s\n", c.c_str());
    return 0;
  } catch (const surge::core::Error& e) {
    std::fprintf(stderr, "surrogate_cxx: %s\n", e.message().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "surrogate_cxx: %s\n", e.what());
  }
  return 1;
}
