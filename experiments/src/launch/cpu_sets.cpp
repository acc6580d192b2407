#include "launch/cpu_sets.hpp"

#include <sched.h>

#include <algorithm>

namespace surge::experiments {

std::vector<int> thread_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

bool set_thread_cpus(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) {
    if (c >= 0 && c < CPU_SETSIZE) CPU_SET(c, &set);
  }
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

std::string cpu_list_text(const std::vector<int>& cpus) {
  std::string text;
  for (std::size_t k = 0; k < cpus.size();) {
    std::size_t end = k;
    while (end + 1 < cpus.size() && cpus[end + 1] == cpus[end] + 1) ++end;
    if (!text.empty()) text += ',';
    text += std::to_string(cpus[k]);
    if (end > k) text += '-' + std::to_string(cpus[end]);
    k = end + 1;
  }
  return text;
}

CoreShare share_cores(const std::vector<int>& available, int member_cores) {
  CoreShare share;
  if (member_cores <= 0) return share;
  const int n = static_cast<int>(available.size());
  if (member_cores >= n) {
    share.why_shared = "launcher.parameters.member_cores " + std::to_string(member_cores) +
                       " leaves no core for the trainer: surge run may use " + std::to_string(n) +
                       " core" + (n == 1 ? "" : "s") + " (" + cpu_list_text(available) +
                       "); members and trainer share them";
    return share;
  }
  share.members.assign(available.begin(), available.begin() + member_cores);
  share.server.assign(available.begin() + member_cores, available.end());
  return share;
}

}  // namespace surge::experiments
