#pragma once
// A mesh's nodes and edges as an HDF5 group, so that a file of fields on its nodes carries their
// real coordinates: results.h5 (for the plots) and the Well-layout files of `surge solve` and
// `surge predict` write the same group.

#include <hdf5.h>

#include "surge/core/mesh.hpp"

namespace surge::core::h5 {

// Writes the group `mesh` under `loc`: x and y (float64, one per node: node k at (x[k], y[k])),
// edges (int64, E x 2, undirected, each once) and node_type (int32, 0 interior, 1 wall), as
// experiments/meshes/README.md defines them. Throws core::IoError on an HDF5 failure.
void write_mesh_group(hid_t loc, const Mesh& mesh);

}  // namespace surge::core::h5
