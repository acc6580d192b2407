#pragma once
// The training thread's allocator arena. LibTorch frees and allocates the same large temporaries
// on every training step (an FNO step at 64^2, batch 16: hundreds of MB). Under jemalloc's
// default decay (dirty pages purged over 10 s, muzzy at once, allocations over 8 MiB in an arena
// that purges at once) a steady step is purged between steps and page-faulted back on the next:
// measured 7.6 FNO samples/s against 63-70 with freed pages kept (bench_operators, 2026-12-07).
// Keeping every freed page process-wide grows the stream's memory (run_continuous_memory_flat
// failed), so only the training thread gets an arena that keeps its freed pages; its size is
// the largest step's, and it is purged when training ends.
//
// Without jemalloc (a program linked with the C library's malloc) this does nothing and says so.

#include <string>

namespace surge::core {

class TrainingArena {
 public:
  // Binds the calling thread to the process's training arena (created on first use).
  TrainingArena();
  // Binds the thread back to its previous arena and returns the training arena's freed pages
  // to the system.
  ~TrainingArena();
  TrainingArena(const TrainingArena&) = delete;
  TrainingArena& operator=(const TrainingArena&) = delete;

  // Whether the thread allocates from the training arena now.
  bool bound() const noexcept { return bound_; }
  // One line for the log: which allocator, and what the arena does.
  const std::string& description() const noexcept { return description_; }

 private:
  unsigned previous_ = 0;
  unsigned arena_ = 0;
  bool bound_ = false;
  std::string description_;
};

}  // namespace surge::core
