// Drill (issue item 3): Ctrl-C during `epalm train` keeps the run: SIGINT does
// what SIGTERM does (checkpoint after the current step, the run recorded as
// killed with every step's metrics, exit 130), and the same command resumes.
#include <gtest/gtest.h>

#include <csignal>

#include "drill.h"

namespace epalm::drills {

TEST(Drills, SigintCheckpointsRecordsAndResumes) {
  testing::TempDir dir;
  const auto cfg = train_config(dir, "checkpoint-every = 2\n");
  const auto checkpoint = dir.path() + "/run/checkpoint.safetensors";
  testing::ChildProcess train(epalm_argv({"train", "--config", cfg, "--max-steps", "100000"}), quiet(),
                              dir.path() + "/train");
  ASSERT_TRUE(testing::wait_until([&] { return fs::exists(checkpoint) || !train.running(); }, 240)) << train.err();
  ASSERT_TRUE(train.running()) << train.out() << train.err();
  train.signal(SIGINT);
  const int code = train.wait(120);
  EXPECT_EQ(code, 130) << train.out() << train.err();
  const auto steps = capture(train.out(), "stopped by SIGINT after step ([0-9]+)");
  ASSERT_FALSE(steps.empty()) << "stdout: " << train.out() << "\nstderr: " << train.err();

  // The run is recorded as stopped, with its exit code and every step's loss.
  const auto db = dir.path() + "/results.sqlite";
  const auto run = query(db, "SELECT status, exit_code, error, id FROM runs");
  ASSERT_EQ(run.size(), 1u);
  EXPECT_EQ(run[0][0], "killed");
  EXPECT_EQ(run[0][1], "130");
  EXPECT_NE(run[0][2].find("SIGINT"), std::string::npos) << run[0][2];
  EXPECT_EQ(query_one(db, "SELECT count(*) FROM metrics JOIN metric_keys k ON k.id = key_id WHERE k.name = 'loss' AND run_id = '" +
                                run[0][3] + "'"), steps);

  // The checkpoint holds the last step: one more step resumes from it.
  const auto next = std::to_string(std::stoll(steps) + 1);
  auto resumed = epalm({"train", "--config", cfg, "--max-steps", next});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("trained " + next + " steps (resumed)"), std::string::npos) << resumed.out;
}

}  // namespace epalm::drills
