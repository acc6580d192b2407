// The progress line's final count: what was done, not the budget (issue 32: a training that
// stopped before its first batch said "done: 3000 batches").
#include <gtest/gtest.h>

#include <string>

#include "surge/core/log.hpp"
#include "surge/core/progress.hpp"

namespace core = surge::core;

namespace {
// The log of `body` (stderr, not a terminal under the test runner's capture).
template <class F>
std::string log_of(F&& body) {
  core::Logger::set_level(core::LogLevel::info);
  testing::internal::CaptureStderr();
  body();
  return testing::internal::GetCapturedStderr();
}
}  // namespace

TEST(Progress, FinalLineCountsWhatWasDone) {
  const core::Logger log("test");
  const std::string none = log_of([&] {
    core::Progress p(log, "batches", 3000);
    p.finish(0, "buffer exhausted");
  });
  EXPECT_NE(none.find("done: 0 batches in "), std::string::npos) << none;
  EXPECT_NE(none.find(", buffer exhausted"), std::string::npos) << none;
  EXPECT_EQ(none.find("3000"), std::string::npos) << none;
  const std::string some = log_of([&] {
    core::Progress p(log, "batches", 3000);
    p.update(7);
    p.finish(12, "max_batches");
  });
  EXPECT_NE(some.find("done: 12 batches in "), std::string::npos) << some;
}
