// Loads a surrogate directory and prints the prediction the test compares:
//   consumer <model-dir> b1 b2 b3 b4 t
#include <cstdio>
#include <cstdlib>
#include <surge/surrogate.hpp>

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: consumer <model-dir> b1 b2 b3 b4 t\n");
    return 2;
  }
  try {
    const surge::Surrogate s = surge::Surrogate::load(argv[1]);
    std::vector<double> p;
    for (int i = 2; i < 6; ++i) p.push_back(std::atof(argv[i]));
    const torch::Tensor field = s.predict(p, std::atof(argv[6])).contiguous();
    const float* v = field.data_ptr<float>();
    std::printf("PREDICTION %lld %.9g %.9g %.9g\n", static_cast<long long>(field.numel()), v[0],
                v[field.numel() / 2], field.sum().item<double>());
    return 0;
  } catch (const surge::core::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
