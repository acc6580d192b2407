#include "surge/core/mesh_hdf5.hpp"

#include <cstdint>
#include <vector>

#include "surge/core/hdf5.hpp"

namespace surge::core::h5 {

void write_mesh_group(hid_t loc, const Mesh& mesh) {
  Group g = create_group(loc, "mesh");
  std::vector<double> x, y;
  for (const auto& p : mesh.positions) {
    x.push_back(p[0]);
    y.push_back(p[1]);
  }
  std::vector<std::int64_t> edges;
  for (const auto& [a, b] : mesh.edges) {
    edges.push_back(a);
    edges.push_back(b);
  }
  write_dataset(g, "x", x);
  write_dataset(g, "y", y);
  write_dataset(g, "edges", edges, {static_cast<hsize_t>(mesh.edges.size()), 2});
  write_dataset(g, "node_type",
                std::vector<std::int32_t>(mesh.node_type.begin(), mesh.node_type.end()));
}

}  // namespace surge::core::h5
