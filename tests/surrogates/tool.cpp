// Helper of the command-line tests:
//   surrogates_tool train <model-dir>                 trains a small heat surrogate, exports it
//   surrogates_tool predict <model-dir> b1 b2 b3 b4 t prints what the consumer prints
//   surrogates_tool check-well <model-dir> <pred.h5> b1 b2 b3 b4
//       checks that pred.h5 (from `surge predict`) holds, in the Well layout, the surrogate's
//       field at every time of dimensions/time, bit for bit
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "helpers.hpp"
#include "surge/core/hdf5.hpp"
#include "surge/surrogate.hpp"

using namespace surge;
using namespace surge::surrogates;
using namespace surge::surrogates::testing;

namespace {

int train(const std::string& dir) {
  MPI_Init(nullptr, nullptr);
  {
    const HeatMap map(8);
    TrainingConfig c = quick_training(200);
    c.optimizer.lr = 3e-3;
    Trainer trainer(mlp({32, 32}), c, heat_description(8, true));
    auto buffer = filled_buffer(heat_samples(map, 256, 11, true), 16, "reservoir", 100.0);
    (void)trainer.train(*buffer, {});
    trainer.export_model(dir);
  }
  MPI_Finalize();
  return 0;
}

int predict(char** argv) {
  const Surrogate s = Surrogate::load(argv[2]);
  std::vector<double> p;
  for (int i = 3; i < 7; ++i) p.push_back(std::atof(argv[i]));
  const torch::Tensor field = s.predict(p, std::atof(argv[7])).contiguous();
  const float* v = field.data_ptr<float>();
  std::printf("PREDICTION %lld %.9g %.9g %.9g\n", static_cast<long long>(field.numel()), v[0],
              v[field.numel() / 2], field.sum().item<double>());
  return 0;
}

int check_well(char** argv) {
  namespace h5 = core::h5;
  const Surrogate s = Surrogate::load(argv[2]);
  h5::File file = h5::open_file(argv[3]);
  const auto times = h5::read_dataset<float>(file, "dimensions/time");
  std::vector<hsize_t> dims;
  const auto values = h5::read_dataset<float>(file, "t0_fields/temperature", &dims);
  const std::vector<hsize_t> expected_dims = {1, times.size(), 8, 8};
  if (dims != expected_dims) {
    std::fprintf(stderr, "t0_fields/temperature has the wrong shape\n");
    return 1;
  }
  std::vector<double> p;
  for (int i = 4; i < 8; ++i) p.push_back(std::atof(argv[i]));
  for (std::size_t k = 0; k < times.size(); ++k) {
    if (h5::read_attribute_double(file, "b" + std::to_string(1)) != p[0]) {
      std::fprintf(stderr, "root attribute b1 is not the parameter\n");
      return 1;
    }
    const torch::Tensor field = s.predict(p, static_cast<double>(times[k])).contiguous();
    if (std::memcmp(field.data_ptr<float>(), values.data() + k * 64, 64 * sizeof(float)) != 0) {
      std::fprintf(stderr, "frame %zu differs from the surrogate's prediction\n", k);
      return 1;
    }
  }
  std::printf("OK %zu frames\n", times.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 3 && std::string(argv[1]) == "train") return train(argv[2]);
    if (argc == 8 && std::string(argv[1]) == "predict") return predict(argv);
    if (argc == 8 && std::string(argv[1]) == "check-well") return check_well(argv);
  } catch (const core::Error& e) {
    std::fprintf(stderr, "surrogates_tool: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: see the comment at the top of tool.cpp\n");
  return 2;
}
