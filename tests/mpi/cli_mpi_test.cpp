// `epalm` across ranks: the rank layout under mpirun, and the demo starting
// its own mpirun. Each child runs under a hard timeout.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "process.h"

namespace epalm {

TEST(CliMpi, EnvReportsEveryRank) {
  const auto r = testing::run_process({EPALM_MPIRUN_TEST, "60", "3", EPALM_EXECUTABLE, "env", "--format", "json"}, 90);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);  // rank 0 alone prints
  ASSERT_EQ(j["ranks"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(j["ranks"][i]["rank"], std::to_string(i));
    EXPECT_EQ(j["ranks"][i]["world"], "3");
    EXPECT_EQ(j["ranks"][i]["local rank"], std::to_string(i));
    EXPECT_EQ(j["ranks"][i]["launcher"], "openmpi");
  }
}

TEST(CliMpi, DemoStartsItsOwnRanksAndTheyAgree) {
  const auto r = testing::run_process({EPALM_EXECUTABLE, "demo", "--ranks", "2", "--width", "64", "--tokens", "16",
                                       "--iterations", "3"},
                                      90);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 rank(s): agree"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("[r0/2 "), std::string::npos) << "log lines carry the rank: " << r.err;
}

TEST(CliMpi, AnErrorOnEveryRankEndsTheJobWithItsCode) {
  const auto r = testing::run_process(
      {EPALM_MPIRUN_TEST, "60", "2", EPALM_EXECUTABLE, "demo", "--device", "cuda:42"}, 90);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 124) << "timed out instead of failing";
  EXPECT_NE(r.err.find("error: --device: 'cuda:42' requested"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[r"), std::string::npos) << "errors name the rank: " << r.err;
}

}  // namespace epalm
