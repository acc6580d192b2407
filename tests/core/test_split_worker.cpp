// core::SplitWorker: both parts run once per call, the second on another thread that lives
// across calls; an exception from either part reaches the caller after both parts are done,
// and the worker goes on serving later calls.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "surge/core/split_worker.hpp"

using surge::core::SplitWorker;

TEST(SplitWorker, RunsEachPartOnceTheSecondOnItsOwnThread) {
  SplitWorker worker;
  std::thread::id second;
  for (int call = 0; call < 100; ++call) {
    int ran[2] = {0, 0};
    std::thread::id ids[2];
    worker.run([&](int part) {
      ++ran[part];
      ids[part] = std::this_thread::get_id();
    });
    ASSERT_EQ(ran[0], 1);
    ASSERT_EQ(ran[1], 1);
    EXPECT_EQ(ids[0], std::this_thread::get_id());
    EXPECT_NE(ids[1], std::this_thread::get_id());
    if (call == 0) second = ids[1];
    EXPECT_EQ(ids[1], second) << "the worker thread is started once, not per call";
  }
}

TEST(SplitWorker, WaitsForTheSlowerPart) {
  SplitWorker worker;
  std::atomic<bool> finished{false};
  worker.run([&](int part) {
    if (part == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      finished = true;
    }
  });
  EXPECT_TRUE(finished);
}

TEST(SplitWorker, ExceptionsReachTheCallerAndTheWorkerLivesOn) {
  SplitWorker worker;
  std::atomic<bool> second_done{false};
  EXPECT_THROW(worker.run([&](int part) {
    if (part == 1) throw std::runtime_error("worker part failed");
  }),
               std::runtime_error);
  // The caller's part throws while the worker's is still running: run() waits for it.
  EXPECT_THROW(worker.run([&](int part) {
    if (part == 0) throw std::logic_error("caller part failed");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    second_done = true;
  }),
               std::logic_error);
  EXPECT_TRUE(second_done);
  int ran = 0;
  worker.run([&](int) { ++ran; });  // still serving
  EXPECT_EQ(ran, 2);
}
