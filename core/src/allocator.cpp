#include "surge/core/allocator.hpp"

#include <dlfcn.h>
#include <sys/types.h>

#include <cstddef>
#include <mutex>
#include <string>

namespace surge::core {
namespace {

// jemalloc's control interface, looked up at run time: the server links jemalloc, the
// libraries and the programs that load a surrogate do not.
using Mallctl = int (*)(const char*, void*, std::size_t*, void*, std::size_t);

Mallctl mallctl_function() {
  static const Mallctl f = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  return f;
}

// The arena's index, or the reason there is none (made once per process: jemalloc's arenas
// outlive their threads).
struct Arena {
  unsigned index = 0;
  std::string error;
};

Arena make_arena(Mallctl mallctl) {
  Arena a;
  std::size_t size = sizeof a.index;
  if (mallctl("arenas.create", &a.index, &size, nullptr, 0) != 0) {
    a.error = "jemalloc could not create an arena";
    return a;
  }
  ssize_t keep = -1;  // never purge on a timer
  for (const char* key : {"dirty_decay_ms", "muzzy_decay_ms"}) {
    const std::string name = "arena." + std::to_string(a.index) + "." + key;
    if (mallctl(name.c_str(), nullptr, nullptr, &keep, sizeof keep) != 0) {
      a.error = "jemalloc refused " + name + " = -1";
      return a;
    }
  }
  return a;
}

const Arena& training_arena(Mallctl mallctl) {
  static std::once_flag once;
  static Arena arena;
  std::call_once(once, [&] { arena = make_arena(mallctl); });
  return arena;
}

}  // namespace

TrainingArena::TrainingArena() {
  const Mallctl mallctl = mallctl_function();
  if (!mallctl) {
    description_ = "allocator: the C library's malloc (freed pages go back as it decides)";
    return;
  }
  const Arena& arena = training_arena(mallctl);
  if (!arena.error.empty()) {
    description_ = "allocator: jemalloc, default arenas (" + arena.error + ")";
    return;
  }
  unsigned index = arena.index;
  std::size_t size = sizeof previous_;
  if (mallctl("thread.arena", &previous_, &size, &index, sizeof index) != 0) {
    description_ = "allocator: jemalloc, default arenas (could not bind the training thread)";
    return;
  }
  arena_ = index;
  bound_ = true;
  description_ = "allocator: jemalloc, training arena " + std::to_string(index) +
                 " keeps the steps' freed pages until training ends";
}

TrainingArena::~TrainingArena() {
  if (!bound_) return;
  const Mallctl mallctl = mallctl_function();
  unsigned previous = previous_;
  mallctl("thread.arena", nullptr, nullptr, &previous, sizeof previous);
  const std::string purge = "arena." + std::to_string(arena_) + ".purge";
  mallctl(purge.c_str(), nullptr, nullptr, nullptr, 0);
}

}  // namespace surge::core
