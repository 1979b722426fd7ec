// Drill (issue item 2): a resume continues only the run it belongs to. Other
// settings that shape the run are refused with the differing keys named unless
// --resume-with-changes (recorded with the run); a longer run resumes freely;
// a second run into a directory another run holds is refused at once.
#include <gtest/gtest.h>

#include <csignal>

#include "drill.h"

namespace epalm::drills {

TEST(Drills, AResumeWithOtherSettingsIsRefusedUnlessAskedFor) {
  testing::TempDir dir;
  const auto cfg = train_config(dir);
  auto r = epalm({"train", "--config", cfg, "--max-steps", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = epalm({"train", "--config", cfg, "--max-steps", "4", "--lr", "5e-3", "--batch-size", "3"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("batch-size: 2 -> 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("lr: 0.001 -> 0.005"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--resume-with-changes"), std::string::npos) << r.err;
  const auto db = dir.path() + "/results.sqlite";
  EXPECT_EQ(query_one(db, "SELECT count(*) FROM runs"), "1") << "the refused resume was recorded as a run";

  // Training longer is no change of settings.
  r = epalm({"train", "--config", cfg, "--max-steps", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("trained 3 steps (resumed)"), std::string::npos) << r.out;

  // Asked for: it resumes, and the run's record names what changed.
  r = epalm({"train", "--config", cfg, "--max-steps", "4", "--lr", "5e-3", "--batch-size", "3", "--resume-with-changes",
             "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("trained 4 steps (resumed)"), std::string::npos) << r.out;
  const auto id = capture(r.out, "run ([0-9a-f-]+): trained");
  const auto changes = query_one(db, "SELECT value_text FROM params WHERE run_id = '" + id + "' AND key = 'resume-changes'");
  EXPECT_NE(changes.find("batch-size: 2 -> 3"), std::string::npos) << changes;
  EXPECT_NE(changes.find("lr: 0.001 -> 0.005"), std::string::npos) << changes;
}

TEST(Drills, ASecondRunIntoAnOwnedOutputDirectoryIsRefused) {
  testing::TempDir dir;
  const auto cfg = train_config(dir, "checkpoint-every = 1\n");
  testing::ChildProcess first(epalm_argv({"train", "--config", cfg, "--max-steps", "100000", "--seed", "1"}), quiet(),
                              dir.path() + "/first");
  const auto checkpoint = dir.path() + "/run/checkpoint.safetensors";
  ASSERT_TRUE(testing::wait_until([&] { return fs::exists(checkpoint) || !first.running(); }, 240)) << first.err();
  ASSERT_TRUE(first.running()) << first.out() << first.err();

  auto second = epalm({"train", "--config", cfg, "--max-steps", "3", "--seed", "2"});
  EXPECT_EQ(second.exit_code, 1) << second.out << second.err;
  EXPECT_NE(second.err.find("in use by another run (epalm train, pid " + std::to_string(first.pid())),
            std::string::npos)
      << second.err;

  first.signal(SIGTERM);
  EXPECT_EQ(first.wait(120), 143) << first.err();
  // The first run has ended: the lock went with it; its checkpoint is another seed's.
  second = epalm({"train", "--config", cfg, "--max-steps", "3", "--seed", "2"});
  EXPECT_EQ(second.exit_code, 2) << second.out << second.err;
  EXPECT_NE(second.err.find("seed: 1 -> 2"), std::string::npos) << second.err;
}

}  // namespace epalm::drills
