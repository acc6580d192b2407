// The environment members start with, and where their programs are (launcher.hpp).
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "surge/core/mpi.hpp"
#include "surge/experiments/launcher.hpp"

extern char** environ;

namespace surge::experiments {

namespace {
std::vector<std::string>& saved_environment() {
  static std::vector<std::string> env;
  return env;
}
bool g_captured = false;

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// Variables an MPI launcher (Open MPI's mpirun / PMIx) sets for the processes it starts.
bool set_by_mpi_launcher(const std::string& entry) {
  static const char* const kPrefixes[] = {"PMIX_",
                                          "OPAL_",
                                          "OMPI_COMM_WORLD_",
                                          "OMPI_MCA_orte_",
                                          "OMPI_MCA_ess",
                                          "OMPI_MCA_pmix",
                                          "OMPI_MCA_shmem_RUNTIME",
                                          "OMPI_MCA_initial_wdir",
                                          "OMPI_MCA_mpi_oversubscribe",
                                          "OMPI_APP_CTX_",
                                          "OMPI_NUM_APP_CTX=",
                                          "OMPI_FIRST_RANKS=",
                                          "OMPI_UNIVERSE_SIZE=",
                                          "OMPI_FILE_LOCATION=",
                                          "OMPI_COMMAND=",
                                          "OMPI_ARGV=",
                                          "OMPI_MCA_io="};
  for (const char* p : kPrefixes) {
    if (starts_with(entry, p)) return true;
  }
  return false;
}
}  // namespace

void capture_launch_environment() {
  auto& env = saved_environment();
  env.clear();
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  g_captured = true;
}

std::vector<std::string> launch_environment(const std::vector<std::string>& extra) {
  if (!g_captured) capture_launch_environment();  // embedded use: today's environment
  std::vector<std::string> out;
  for (const auto& entry : saved_environment()) {
    if (!set_by_mpi_launcher(entry)) out.push_back(entry);
  }
  for (const auto& e : extra) {
    const std::string name = e.substr(0, e.find('=') + 1);
    out.erase(std::remove_if(out.begin(), out.end(),
                             [&](const std::string& o) { return starts_with(o, name.c_str()); }),
              out.end());
    out.push_back(e);
  }
  return out;
}

std::vector<std::string> with_local_mpi_environment(std::vector<std::string> extra) {
  static const bool fabric = core::mpi_fabric_present();
  for (auto& e : core::mpi_start_environment(fabric, launch_environment(extra)))
    extra.push_back(std::move(e));
  return extra;
}

std::string find_on_path(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    return access(program.c_str(), X_OK) == 0 ? program : std::string();
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    const auto end = dirs.find(':', start);
    const std::string dir =
        dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return {};
}

}  // namespace surge::experiments
