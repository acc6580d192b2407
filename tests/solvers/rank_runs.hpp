#pragma once
// Helpers for the rank-independence tests: run a case on the first k ranks of
// MPI_COMM_WORLD and gather an owned field (row-major, y fastest) to world rank 0.

#include <mpi.h>

#include <cstddef>
#include <vector>

#include "surge/core/error.hpp"
#include "surge/core/mpi.hpp"
#include "surge/solvers/decomposition.hpp"

namespace surge::test {

// Gathers every rank's owned block (`local`, row-major over local_nx x local_ny) into the
// global nx x ny field on rank 0 of the decomposition; other ranks get an empty vector.
inline std::vector<double> gather_global(const solvers::Decomposition2D& d,
                                         const std::vector<double>& local) {
  const int header[4] = {d.offset_x(), d.offset_y(), d.local_nx(), d.local_ny()};
  const int size = d.size();
  std::vector<int> headers(4 * static_cast<std::size_t>(size));
  SURGE_MPI_CHECK(MPI_Gather(header, 4, MPI_INT, headers.data(), 4, MPI_INT, 0, d.comm()));
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  for (int r = 0; r < size; ++r) {
    counts[r] = headers[4 * r + 2] * headers[4 * r + 3];
    displs[r] = r == 0 ? 0 : displs[r - 1] + counts[r - 1];
  }
  const std::size_t cells = static_cast<std::size_t>(d.nx()) * static_cast<std::size_t>(d.ny());
  std::vector<double> gathered(cells), global;
  SURGE_MPI_CHECK(MPI_Gatherv(local.data(), static_cast<int>(local.size()), MPI_DOUBLE,
                              gathered.data(), counts.data(), displs.data(), MPI_DOUBLE, 0,
                              d.comm()));
  if (d.rank() != 0) return global;
  global.resize(cells);
  for (int r = 0; r < size; ++r) {
    const int ox = headers[4 * r], oy = headers[4 * r + 1], lx = headers[4 * r + 2],
              ly = headers[4 * r + 3];
    for (int i = 0; i < lx; ++i)
      for (int j = 0; j < ly; ++j)
        global[static_cast<std::size_t>(ox + i) * static_cast<std::size_t>(d.ny()) +
               static_cast<std::size_t>(oy + j)] =
            gathered[static_cast<std::size_t>(displs[r] + i * ly + j)];
  }
  return global;
}

// Calls run(comm) on a communicator of the first `ranks` world ranks (the others skip it) and
// returns what it returned on world rank 0.
template <class Run>
std::vector<double> on_first_ranks(int ranks, Run run) {
  const int world_rank = core::comm_rank(MPI_COMM_WORLD);
  MPI_Comm comm = MPI_COMM_NULL;
  SURGE_MPI_CHECK(
      MPI_Comm_split(MPI_COMM_WORLD, world_rank < ranks ? 0 : MPI_UNDEFINED, world_rank, &comm));
  std::vector<double> result;
  if (comm != MPI_COMM_NULL) {
    result = run(comm);
    SURGE_MPI_CHECK(MPI_Comm_free(&comm));
  }
  return result;
}

}  // namespace surge::test
