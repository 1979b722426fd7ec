// `epalm train` and `epalm generate` as users run them: tiny frozen models
// (tests/cli/make_train_fixtures.py), the VQA and COCO fixtures in their real
// formats (tests/parity/make_data_fixtures.py), the real binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "process.h"

namespace epalm {

namespace {

namespace fs = std::filesystem;

testing::ProcessResult epalm(std::vector<std::string> args, int timeout = 300) {
  args.insert(args.begin(), EPALM_EXECUTABLE);
  return testing::run_process(args, timeout, {{"EPALM_LOG_LEVEL", "warn"}});
}

std::string models(const std::string& name) { return std::string(EPALM_TRAIN_FIXTURES) + "/" + name; }
std::string data_root() { return std::string(EPALM_DATA_FIXTURES) + "/root"; }

#define EPALM_REQUIRE_TRAIN_FIXTURES()                                                                \
  do {                                                                                                \
    if (fs::exists(models("MISSING"))) GTEST_SKIP() << "no tokenizer fixture (shared/data/gpt2-bpe)"; \
  } while (0)

// A run's configuration file: tiny models, 2 levels into layers [1, 4).
std::string config(const testing::TempDir& dir, const std::string& task, const std::string& split,
                   const std::string& extra = "") {
  return dir.write("run.ini", "task = " + task + "\ndata-root = " + data_root() + "\ntrain-split = " + split +
                                  "\ndecoder = " + models("opt") + "\nencoder = " + models("vit") +
                                  "\nlevels = 2\nstart-layer = 1\nend-layer = 4\nprompt-length = 3\n"
                                  "batch-size = 2\nlr = 1e-3\nprompt-lr = 1e-3\nwarmup-steps = 1\n"
                                  "loader-threads = 2\ndevice = cpu\noutput-dir = " +
                                  dir.path() + "/run\n" + extra);
}

double last_loss(const std::string& out) {
  std::smatch m;
  static const std::regex pattern("last loss ([0-9.eE+-]+)");
  return std::regex_search(out, m, pattern) ? std::stod(m[1]) : -1;
}

}  // namespace

TEST(TrainCli, TrainsResumesAndAnswers) {
  EPALM_REQUIRE_TRAIN_FIXTURES();
  testing::TempDir dir;
  const auto cfg = config(dir, "vqa", "karpathy_train");
  auto r = epalm({"train", "--config", cfg, "--max-steps", "3", "--feature-cache", "off"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("trained 3 steps"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("trainable parameters: "), std::string::npos);
  const auto checkpoint = dir.path() + "/run/checkpoint.safetensors";
  ASSERT_TRUE(fs::exists(checkpoint));
  EXPECT_GT(last_loss(r.out), 0);

  // The same directory again: the run is complete, nothing more to train.
  r = epalm({"train", "--config", cfg, "--max-steps", "3", "--feature-cache", "off"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(resumed)"), std::string::npos) << r.out;

  const auto image = data_root() + "/COCO/images/val2014";
  std::string first_image;
  for (const auto& entry : fs::directory_iterator(image)) first_image = entry.path().string();
  ASSERT_FALSE(first_image.empty());
  r = epalm({"generate", "--checkpoint", checkpoint, "--media", first_image, "--question", "What is it?",
             "--num-beams", "2", "--max-new-tokens", "4", "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;

  // A question-answering checkpoint needs a question; a missing file is named.
  r = epalm({"generate", "--checkpoint", checkpoint, "--media", first_image, "--device", "cpu"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = epalm({"generate", "--checkpoint", checkpoint, "--media", dir.path() + "/none.jpg", "--question", "Q?",
             "--device", "cpu"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("none.jpg"), std::string::npos) << r.err;
}

TEST(TrainCli, TheFeatureCacheServesLaterEpochsWithTheSameLosses) {
  EPALM_REQUIRE_TRAIN_FIXTURES();
  testing::TempDir dir;
  const auto cfg = config(dir, "coco-caption", "train", "augment = false\nepochs = 2\n");
  auto cached = epalm({"train", "--config", cfg, "--feature-cache", dir.path() + "/cache"});
  ASSERT_EQ(cached.exit_code, 0) << cached.err;
  EXPECT_NE(cached.out.find("frozen-feature cache: "), std::string::npos) << cached.out;
  EXPECT_EQ(cached.out.find(" 0 hits"), std::string::npos) << cached.out;
  auto plain = epalm({"train", "--config", cfg, "--feature-cache", "off", "--output-dir", dir.path() + "/plain"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_DOUBLE_EQ(last_loss(cached.out), last_loss(plain.out)) << cached.out << plain.out;
}

TEST(TrainCli, BadInputIsNamed) {
  EPALM_REQUIRE_TRAIN_FIXTURES();
  testing::TempDir dir;
  const auto cfg = config(dir, "vqa", "karpathy_train");
  auto r = epalm({"train", "--config", cfg, "--data-root", dir.path() + "/nowhere", "--max-steps", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nowhere"), std::string::npos) << r.err;
  r = epalm({"train", "--config", cfg, "--adapters", "sideways"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--adapters"), std::string::npos) << r.err;
  r = epalm({"train", "--config", cfg, "--levels", "9", "--max-steps", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("levels"), std::string::npos) << r.err;
}

}  // namespace epalm
