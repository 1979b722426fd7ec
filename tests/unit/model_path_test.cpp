// Where a run's --decoder / --encoder names point (experiments/frozen_plan.h):
// the one rule training, `epalm plan` and the trainable-share estimate share.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "epalm/experiments/frozen_plan.h"
#include "process.h"

namespace epalm::experiments {
namespace {

TEST(ModelPath, ANameIsLookedUpInTheModelFolderAndAPathIsTakenAsItIs) {
  EXPECT_EQ(model_path("decoder", "/models"), "/models/decoder");
  EXPECT_EQ(model_path("opt-125m", "models"), "models/opt-125m");
  EXPECT_EQ(model_path("./decoder", "/models"), "./decoder");
  EXPECT_EQ(model_path("/abs/vit", "/models"), "/abs/vit");
  EXPECT_EQ(model_path("", "/models"), "");
}

TEST(ModelPath, ACheckpointDirectoryNeedsItsConfigElseTheNameIsAPreset) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/decoder");
  EXPECT_EQ(checkpoint_directory("decoder", dir.path()), "");  // no config.json yet
  std::ofstream(dir.path() + "/decoder/config.json") << "{}";
  EXPECT_EQ(checkpoint_directory("decoder", dir.path()), dir.path() + "/decoder");
  EXPECT_EQ(checkpoint_directory(dir.path() + "/decoder", "/elsewhere"), dir.path() + "/decoder");
  EXPECT_EQ(checkpoint_directory("opt-125m", dir.path()), "");
  EXPECT_EQ(checkpoint_directory("", dir.path()), "");
}

}  // namespace
}  // namespace epalm::experiments
