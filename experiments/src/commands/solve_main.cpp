// `surge-solve`: `surge solve` as an executable of its own, the one studies start for built-in
// solvers. It links the solvers, the streaming client and core, never LibTorch, whose loading
// and static initialisation cost a member about 0.4 s of start-up it never uses
// (experiments/README.md, "Ensemble throughput").
#include <string>
#include <vector>

#include "commands/command_guard.hpp"
#include "surge/core/mpi.hpp"
#include "surge/experiments/cli.hpp"

int main(int argc, char** argv) {
  surge::core::MpiSession mpi(&argc, &argv);
  const std::vector<std::string> args(argv + 1, argv + argc);
  return surge::experiments::run_guarded(mpi.rank(), mpi.size(),
                                         [&] { return surge::experiments::solve_command(args); });
}
