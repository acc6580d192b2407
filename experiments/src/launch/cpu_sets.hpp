// Which cores a thread may run on, and the study's split of them between its local members
// and its server (launcher.parameters.member_cores).
#pragma once

#include <string>
#include <vector>

namespace surge::experiments {

// The CPUs the calling thread may run on, in increasing order (empty if the kernel will not
// say).
[[nodiscard]] std::vector<int> thread_cpus();
// Confines the calling thread, and the threads and processes it starts afterwards, to `cpus`.
// False (errno set) if the kernel refuses.
bool set_thread_cpus(const std::vector<int>& cpus);
// "0-3,6": the CPU list as taskset and /proc/<pid>/status write it.
[[nodiscard]] std::string cpu_list_text(const std::vector<int>& cpus);

// The local members' cores and the trainer's: the first `member_cores` of `available` and the
// rest. Both empty (members and trainer share every core) when member_cores is 0 or leaves no
// core for the trainer; `why_shared` then says why if it was asked for.
struct CoreShare {
  std::vector<int> members;
  std::vector<int> server;
  std::string why_shared;
};
[[nodiscard]] CoreShare share_cores(const std::vector<int>& available, int member_cores);

}  // namespace surge::experiments
