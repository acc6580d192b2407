#pragma once
// Shared by the graph and graph-network tests: tensor and file helpers, the example mesh.

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace surge::surrogates::testing {

inline std::vector<std::int64_t> to_vector(const torch::Tensor& t) {
  const auto c = t.contiguous();
  return {c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel()};
}

inline std::filesystem::path scratch_dir() {
  const auto dir = std::filesystem::path(SURGE_BINARY_DIR) / "test_output/surrogates/graphnet";
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string write_file(const std::string& name, const std::string& text) {
  const auto path = (scratch_dir() / name).string();
  std::ofstream(path) << text;
  return path;
}

inline const std::string kDisk = std::string(SURGE_SOURCE_DIR) + "/experiments/meshes/disk.yaml";

}  // namespace surge::surrogates::testing
