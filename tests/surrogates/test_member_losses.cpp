// The per-simulation loss table: dense ids in a vector, any other id in a map, entries found,
// listed in order and summed exactly, and an id far out of range costs no more than a node.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "surge/surrogates/member_losses.hpp"

using surge::surrogates::MemberLoss;
using surge::surrogates::MemberLosses;

TEST(MemberLosses, BooksDenseAndOutlyingIdsExactly) {
  MemberLosses t;
  EXPECT_TRUE(t.empty());
  const std::int64_t far = MemberLosses::kDenseIds + 5;
  for (const std::int64_t id : {std::int64_t{3}, std::int64_t{0}, far, std::int64_t{-2}}) {
    t.add(id, {2, 0.5 * static_cast<double>(id)});
  }
  t.add(3, {1, 1.0});
  t.add(7, {0, 9.0});  // nothing booked: no entry
  EXPECT_EQ(t.size(), 4u);
  ASSERT_NE(t.find(3), nullptr);
  EXPECT_EQ(t.find(3)->samples, 3);
  EXPECT_EQ(t.find(3)->loss_sum, 2.5);
  EXPECT_EQ(t.find(7), nullptr);
  EXPECT_EQ(t.find(1), nullptr);  // inside the vector, never booked
  EXPECT_EQ(t.find(1 << 30), nullptr);
  ASSERT_NE(t.find(far), nullptr);
  EXPECT_EQ(t.find(far)->samples, 2);
  std::vector<std::int64_t> order;
  t.for_each([&](std::int64_t id, const MemberLoss& l) {
    order.push_back(id);
    EXPECT_GT(l.samples, 0);
  });
  EXPECT_EQ(order, (std::vector<std::int64_t>{0, 3, -2, far}));
  // Booked item by item: the first kFreshItems add their relative L2 error over their
  // batch's mean (0.5 here), not their loss over anything.
  for (std::int64_t i = 0; i < MemberLosses::kFreshItems + 3; ++i) t.book(9, 2.0, 0.25, 0.5);
  ASSERT_NE(t.find(9), nullptr);
  EXPECT_EQ(t.find(9)->samples, MemberLosses::kFreshItems + 3);
  EXPECT_EQ(t.find(9)->loss_sum, 2.0 * static_cast<double>(MemberLosses::kFreshItems + 3));
  EXPECT_EQ(t.find(9)->fresh_samples, MemberLosses::kFreshItems);
  EXPECT_EQ(t.find(9)->fresh_ratio_sum, 0.5 * static_cast<double>(MemberLosses::kFreshItems));
  t.add(9, {1, 1.0, 1, 3.0});
  EXPECT_EQ(t.find(9)->fresh_samples, MemberLosses::kFreshItems + 1);
  EXPECT_EQ(t.find(9)->fresh_ratio_sum, 0.5 * static_cast<double>(MemberLosses::kFreshItems) + 3);
  EXPECT_EQ(t.size(), 5u);
  MemberLosses copy;
  copy = t;
  EXPECT_EQ(copy.size(), 5u);
  t.clear();
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.find(3), nullptr);
  EXPECT_EQ(copy.find(3)->samples, 3);
}

TEST(MemberLosses, MeansAreNaNUntilSomethingIsBooked) {
  MemberLoss l;
  EXPECT_TRUE(std::isnan(l.mean_loss()));
  EXPECT_TRUE(std::isnan(l.fresh_ratio()));
  MemberLosses losses;
  losses.book(7, 3.0, 0.6, 0.2);
  losses.book(7, 1.0, 0.2, 0.2);
  losses.book(8, 1.0, 0.5, 0.0);  // a batch with no error: no ratio
  const MemberLoss* m = losses.find(7);
  ASSERT_NE(m, nullptr);
  EXPECT_DOUBLE_EQ(m->mean_loss(), 2.0);    // (3 + 1) / 2
  EXPECT_DOUBLE_EQ(m->fresh_ratio(), 2.0);  // (0.6/0.2 + 0.2/0.2) / 2
  EXPECT_EQ(losses.find(8)->fresh_samples, 0);
  EXPECT_TRUE(std::isnan(losses.find(8)->fresh_ratio()));
}
