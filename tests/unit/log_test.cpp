#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "epalm/core/error.h"
#include "epalm/core/log.h"

namespace epalm::log {

namespace {
std::string capture(const std::function<void()>& body) {
  ::testing::internal::CaptureStderr();
  body();
  spdlog::default_logger()->flush();
  return ::testing::internal::GetCapturedStderr();
}
}  // namespace

class LogTest : public ::testing::Test {
 protected:
  void TearDown() override {
    set_rank(0, 1, "");
    configure({});
  }
};

TEST_F(LogTest, LinesCarryTheRankTagWhenThereAreSeveralRanks) {
  configure({"info", RankFilter::kAll});
  set_rank(1, 4, "node07");
  const auto out = capture([] { spdlog::info("step 10 loss 2.5"); });
  EXPECT_NE(out.find("[r1/4 node07]"), std::string::npos) << out;
  EXPECT_NE(out.find("step 10 loss 2.5"), std::string::npos) << out;
}

TEST_F(LogTest, OneProcessHasNoRankTag) {
  configure({"info", RankFilter::kAll});
  set_rank(0, 1, "node07");
  const auto out = capture([] { spdlog::info("hello"); });
  EXPECT_EQ(out.find("[r0"), std::string::npos) << out;
  EXPECT_NE(out.find("hello"), std::string::npos);
}

TEST_F(LogTest, OtherRanksPrintOnlyWarningsByDefault) {
  configure({"info", RankFilter::kRankZero});
  set_rank(2, 4, "node07");
  const auto out = capture([] {
    spdlog::info("quiet");
    spdlog::warn("loud");
  });
  EXPECT_EQ(out.find("quiet"), std::string::npos) << out;
  EXPECT_NE(out.find("loud"), std::string::npos) << out;
}

TEST_F(LogTest, LevelFiltersLines) {
  configure({"error", RankFilter::kAll});
  const auto out = capture([] { spdlog::warn("hidden"); });
  EXPECT_EQ(out.find("hidden"), std::string::npos);
}

TEST_F(LogTest, UnknownLevelIsAUsageError) {
  EXPECT_THROW(configure({"loud", RankFilter::kAll}), UsageError);
  EXPECT_NO_THROW(configure({"off", RankFilter::kAll}));  // "off" itself is valid
}

}  // namespace epalm::log
