// Drill (issue item 7): bad values are refused where the setting is defined,
// before anything loads: exit 2, one line naming the option and the value, no
// C++ backtrace; a run refused after it was recorded keeps exit code 2; what a
// step records is what it did.
#include <gtest/gtest.h>

#include "drill.h"

namespace epalm::drills {

TEST(Drills, BadTrainingValuesNameTheirOptionBeforeAnythingLoads) {
  testing::TempDir dir;
  const auto cfg = train_config(dir);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"--lr", "-1"},           {"--prompt-lr", "-0.5"}, {"--weight-decay", "-1"},   {"--batch-size", "0"},
      {"--batch-size", "-1"},   {"--accumulation", "0"}, {"--data-fraction", "1.5"}, {"--data-fraction", "0"},
      {"--reference-dropout", "1"}, {"--loader-threads", "0"}, {"--max-steps", "-3"}, {"--warmup-steps", "-1"},
      {"--levels", "0"},        {"--clip-norm", "-1"},   {"--loss-weight", "0"},     {"--lr", "nan"}};
  for (const auto& [option, value] : bad) {
    // A decoder that does not exist: refusing the value must not need it.
    const auto r = epalm({"train", "--config", cfg, option, value, "--decoder", dir.path() + "/no-decoder"});
    EXPECT_EQ(r.exit_code, 2) << option << " " << value << ": " << r.err;
    EXPECT_NE(r.err.find("error: " + option + ": must be"), std::string::npos) << option << " " << value << ": " << r.err;
    EXPECT_NE(r.err.find(value), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("no-decoder"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("Exception raised from"), std::string::npos) << r.err;
  }
  // Nothing was recorded for a run that never started.
  EXPECT_FALSE(fs::exists(dir.path() + "/results.sqlite") &&
               query_one(dir.path() + "/results.sqlite", "SELECT count(*) FROM runs") != "0");
}

TEST(Drills, EvalRefusesABadBatchSizeBeforeReadingTheCheckpoint) {
  testing::TempDir dir;
  for (const auto& [option, value] :
       std::vector<std::pair<std::string, std::string>>{{"--batch-size", "-1"}, {"--num-beams", "0"}, {"--max-new-tokens", "0"}}) {
    const auto r = epalm({"eval", dir.path() + "/missing/checkpoint.safetensors", option, value, "--results",
                          dir.path() + "/results.sqlite"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("error: " + option + ": must be >= 1, not " + value), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("missing"), std::string::npos) << "read the checkpoint first: " << r.err;
  }
}

TEST(Drills, ARefusedRunIsRecordedWithExitCodeTwo) {
  testing::TempDir dir;
  const auto cfg = train_config(dir);
  // Neither epochs nor steps: refused by the training run itself, after the run was recorded.
  const auto r = epalm({"train", "--config", cfg, "--epochs", "0", "--max-steps", "0"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  const auto runs = query(dir.path() + "/results.sqlite", "SELECT status, exit_code, error FROM runs");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0][0], "failed");
  EXPECT_EQ(runs[0][1], "2");
  EXPECT_NE(runs[0][2].find("--epochs"), std::string::npos) << runs[0][2];
}

TEST(Drills, AHugeBatchRecordsTheSamplesItReallyHeld) {
  testing::TempDir dir;
  const auto cfg = train_config(dir);
  const auto r = epalm({"train", "--config", cfg, "--batch-size", "99999999999", "--max-steps", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto db = dir.path() + "/results.sqlite";
  const auto rate = std::stod(query_one(db, "SELECT value FROM metrics JOIN metric_keys k ON k.id = key_id "
                                            "WHERE k.name = 'samples_per_second'"));
  // The split has a handful of samples and a step of the tiny models takes
  // well over a microsecond: the rate is that handful per step time.
  EXPECT_LT(rate, 1e6);
  EXPECT_GT(rate, 0);
}

}  // namespace epalm::drills
