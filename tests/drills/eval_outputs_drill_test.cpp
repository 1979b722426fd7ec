// Drill (issue item 8): `epalm eval` writes beside the checkpoint it
// evaluates (a copy is not its original's run, and a folder the user moved
// away stays moved), or where --output-dir says, and reads the data where
// --data-root says.
#include <gtest/gtest.h>

#include "drill.h"

namespace epalm::drills {

TEST(Drills, EvalWritesBesideTheCheckpointAndTakesItsFolders) {
  testing::TempDir dir;
  const auto root = dir.path() + "/data-a";
  fs::copy(data_root(), root, fs::copy_options::recursive);
  const auto cfg = train_config(dir, "data-root = " + root + "\n");
  auto r = epalm({"train", "--config", cfg, "--max-steps", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The user keeps a copy of the checkpoint, moves the run and the data away.
  fs::create_directories(dir.path() + "/kept");
  fs::copy_file(dir.path() + "/run/checkpoint.safetensors", dir.path() + "/kept/checkpoint.safetensors");
  fs::rename(dir.path() + "/run", dir.path() + "/moved");
  fs::rename(root, dir.path() + "/data-b");

  const std::vector<std::string> eval = {"eval", dir.path() + "/kept/checkpoint.safetensors", "--split", "karpathy_test",
                                         "--num-beams", "1", "--max-new-tokens", "2", "--device", "cpu", "--results",
                                         dir.path() + "/results.sqlite", "--data-root", dir.path() + "/data-b"};
  r = epalm(eval);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir.path() + "/kept/predictions-karpathy_test.json")) << r.out;
  EXPECT_FALSE(fs::exists(dir.path() + "/run")) << "eval re-created the original run's folder";

  auto elsewhere = eval;
  elsewhere.insert(elsewhere.end(), {"--output-dir", dir.path() + "/evals"});
  r = epalm(elsewhere);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir.path() + "/evals/predictions-karpathy_test.json")) << r.out;
}

}  // namespace epalm::drills
