// The study's split of the cores between local members and trainer
// (launcher.parameters.member_cores, launch/cpu_sets.hpp).
#include <gtest/gtest.h>

#include <vector>

#include "launch/cpu_sets.hpp"

namespace ex = surge::experiments;

TEST(CpuSets, ListsCoresAsTasksetDoes) {
  EXPECT_EQ(ex::cpu_list_text({0, 1, 2, 3, 6}), "0-3,6");
  EXPECT_EQ(ex::cpu_list_text({1, 3}), "1,3");
  EXPECT_EQ(ex::cpu_list_text({5}), "5");
  EXPECT_EQ(ex::cpu_list_text({}), "");
}

TEST(CpuSets, MembersTakeTheFirstCoresAndLeaveTheTrainerTheRest) {
  const ex::CoreShare s = ex::share_cores({2, 3, 5, 7}, 1);
  EXPECT_EQ(s.members, (std::vector<int>{2}));
  EXPECT_EQ(s.server, (std::vector<int>{3, 5, 7}));
  EXPECT_TRUE(s.why_shared.empty());
  const ex::CoreShare none = ex::share_cores({0, 1}, 0);
  EXPECT_TRUE(none.members.empty() && none.server.empty() && none.why_shared.empty());
  // Nothing left for the trainer: all share, and the user is told.
  const ex::CoreShare all = ex::share_cores({0, 1}, 2);
  EXPECT_TRUE(all.members.empty() && all.server.empty());
  EXPECT_EQ(all.why_shared,
            "launcher.parameters.member_cores 2 leaves no core for the trainer: surge run may use "
            "2 cores (0-1); members and trainer share them");
}
