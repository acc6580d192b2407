// core::TrainingArena: the training thread's freed pages stay with it (core/allocator.hpp).
// Built twice: linked with jemalloc as the surge server is, and with the C library's malloc.

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "surge/core/allocator.hpp"

namespace {

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt;
}

// Minor page faults of `rounds` rounds of a training step's pattern after the first: allocate
// a large temporary, write all of it, free it.
long faults_after_first_round(std::size_t bytes, int rounds) {
  // Called through volatile pointers: the compiler may not drop the allocation.
  void* (*volatile allocate)(std::size_t) = std::malloc;
  void (*volatile release)(void*) = std::free;
  long before = 0;
  for (int r = 0; r < rounds; ++r) {
    if (r == 1) before = minor_faults();
    auto* p = static_cast<char*>(allocate(bytes));
    if (!p) return -1;
    std::memset(p, r + 1, bytes);
    release(p);
  }
  return minor_faults() - before;
}

#ifdef SURGE_TEST_JEMALLOC
using Mallctl = int (*)(const char*, void*, std::size_t*, void*, std::size_t);

unsigned thread_arena() {
  auto mallctl = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  unsigned index = 0;
  std::size_t size = sizeof index;
  EXPECT_NE(mallctl, nullptr);
  if (mallctl) {
    EXPECT_EQ(mallctl("thread.arena", &index, &size, nullptr, 0), 0);
  }
  return index;
}

TEST(TrainingArena, BindsTheThreadWhileItLivesAndGivesItBack) {
  const unsigned before = thread_arena();
  unsigned inside = 0;
  {
    const surge::core::TrainingArena arena;
    ASSERT_TRUE(arena.bound()) << arena.description();
    inside = thread_arena();
    EXPECT_NE(inside, before);
    EXPECT_NE(arena.description().find("training arena " + std::to_string(inside)),
              std::string::npos)
        << arena.description();
  }
  EXPECT_EQ(thread_arena(), before);
  const surge::core::TrainingArena again;  // one arena per process
  EXPECT_EQ(thread_arena(), inside);
}

// The pathology it removes: jemalloc's default arenas return a freed 32 MiB temporary to the
// system (allocations over 8 MiB go to an arena that purges at once), so every round faults
// all its pages back in; the training arena keeps them.
TEST(TrainingArena, ARepeatedLargeTemporaryIsNotFaultedInAgain) {
  constexpr std::size_t kBytes = std::size_t{32} << 20;
  constexpr long kPages = static_cast<long>(kBytes / 4096);
  constexpr int kRounds = 6;
  const long outside = faults_after_first_round(kBytes, kRounds);
  long inside = 0;
  {
    const surge::core::TrainingArena arena;
    ASSERT_TRUE(arena.bound());
    inside = faults_after_first_round(kBytes, kRounds);
  }
  // The control shows the test can fail: without the arena each round faults in its pages.
  EXPECT_GT(outside, (kRounds - 1) * kPages / 2);
  EXPECT_LT(inside, kPages / 8) << "the training arena gave its pages back between rounds";
}
#else
TEST(TrainingArena, SaysItDoesNothingWithoutJemalloc) {
  const surge::core::TrainingArena arena;
  EXPECT_FALSE(arena.bound());
  EXPECT_NE(arena.description().find("the C library's malloc"), std::string::npos)
      << arena.description();
  EXPECT_GE(faults_after_first_round(std::size_t{1} << 20, 2), 0);
}
#endif

}  // namespace
