#include <gtest/gtest.h>

#include "epalm/core/error.h"
#include "epalm/experiments/self_check.h"

namespace epalm::experiments {

namespace {
SelfCheckSettings small() {
  SelfCheckSettings s;
  s.device = "cpu";
  s.threads = 1;
  s.batch = 2;
  s.tokens = 8;
  s.width = 32;
  s.iterations = 2;
  return s;
}
}  // namespace

TEST(SelfCheck, OneRankAgreesWithItselfAndReportsOneRow) {
  distributed::World world;
  const auto result = run_self_check(small(), world);
  EXPECT_TRUE(result.ranks_agree);
  EXPECT_EQ(result.relative_spread, 0.0);
  ASSERT_EQ(result.per_rank.rows().size(), 1u);
  EXPECT_EQ(result.per_rank.rows()[0][3], "cpu");
}

TEST(SelfCheck, SameSeedSameChecksumOtherSeedOther) {
  distributed::World world;
  auto s = small();
  const auto a = run_self_check(s, world).per_rank.rows()[0][5];
  const auto b = run_self_check(s, world).per_rank.rows()[0][5];
  s.seed = 1;
  const auto c = run_self_check(s, world).per_rank.rows()[0][5];
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(SelfCheck, RejectsBadShapes) {
  distributed::World world;
  auto s = small();
  s.width = 12;
  EXPECT_THROW(run_self_check(s, world), UsageError);
  s = small();
  s.iterations = 0;
  EXPECT_THROW(run_self_check(s, world), UsageError);
}

}  // namespace epalm::experiments
