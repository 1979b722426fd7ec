// `epalm toy world` and `epalm toy tokenizer` as users run them: several
// processes starting on one world together, the cache, the JSON report, the
// errors, and a tokenizer trained from a corpus file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <thread>

#include "process.h"

namespace epalm {
namespace {

const char* kSmall =
    "train-images=40,val-images=8,test-images=8,train-videos=8,val-videos=4,test-videos=4,"
    "train-audio=8,val-audio=4,test-audio=4,pretrain-images=16,pretrain-videos=4,pretrain-audio=4";

testing::ProcessResult epalm(std::vector<std::string> args, const std::map<std::string, std::string>& env = {},
                             int timeout = 120) {
  args.insert(args.begin(), EPALM_EXECUTABLE);
  return testing::run_process(args, timeout, env);
}

TEST(ToyCli, ProcessesStartingTogetherShareOneWorld) {
  testing::TempDir home;
  constexpr int kProcesses = 3;
  std::vector<testing::ProcessResult> results(kProcesses);
  std::vector<std::thread> starts;
  for (int i = 0; i < kProcesses; ++i) {
    starts.emplace_back([&, i] {
      results[i] = epalm({"toy", "world", "--seed", "5", "--sizes", kSmall, "--format", "json"}, {{"EPALM_HOME", home.path()}});
    });
  }
  for (auto& t : starts) t.join();
  int generated = 0;
  std::string root;
  for (const auto& r : results) {
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto report = nlohmann::json::parse(r.out);
    generated += report["generated"].get<bool>();
    if (root.empty()) root = report["root"];
    EXPECT_EQ(report["root"], root);
    EXPECT_EQ(report["counts"]["images/train"], 40);
  }
  EXPECT_EQ(generated, 1);
  EXPECT_EQ(root.rfind(home.path() + "/toy-world/v", 0), 0u) << root;
  EXPECT_TRUE(std::filesystem::exists(root + "/vqa/karpathy_train.json"));
  // Again: the cache, as a text report.
  const auto again = epalm({"toy", "world", "--seed", "5", "--sizes", kSmall}, {{"EPALM_HOME", home.path()}});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("(cached)"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("tokenizer vocabulary"), std::string::npos) << again.out;
}

TEST(ToyCli, AnOutputDirectoryAndBadSettings) {
  testing::TempDir dir;
  const auto out = dir.path() + "/world";
  auto r = epalm({"toy", "world", "--output", out, "--sizes", kSmall});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("generated in"), std::string::npos) << r.out;
  r = epalm({"toy", "world", "--output", out, "--sizes", kSmall, "--seed", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("holds another world"), std::string::npos) << r.err;
  r = epalm({"toy", "world", "--output", out, "--sizes", "train-imgs=3"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--sizes: unknown size 'train-imgs'"), std::string::npos) << r.err;
  r = epalm({"toy", "planet"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown action 'planet' (world, tokenizer or pretrain)"), std::string::npos) << r.err;
}

TEST(ToyCli, TrainsATokenizerFromACorpusFile) {
  testing::TempDir dir;
  std::string corpus;
  for (int i = 0; i < 50; ++i) corpus += "a red circle moves to the left\nhow many shapes are there? " + std::to_string(i % 4) + "\n";
  const auto path = dir.write("corpus.txt", corpus);
  auto r = epalm({"toy", "tokenizer", "--corpus", path, "--vocab-size", "290", "--output", dir.path() + "/tok"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("290 tokens (30 merges) from 100 lines"), std::string::npos) << r.out;
  for (const char* name : {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"}) {
    EXPECT_TRUE(std::filesystem::exists(dir.path() + "/tok/" + name)) << name;
  }
  const auto bad = dir.write("bad.txt", "fine\nna\xC3\xAFve\n");
  r = epalm({"toy", "tokenizer", "--corpus", bad, "--output", dir.path() + "/tok2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(bad + ":2: byte 2 is not ASCII"), std::string::npos) << r.err;
  r = epalm({"toy", "tokenizer", "--output", dir.path() + "/tok3"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--corpus"), std::string::npos) << r.err;
}

}  // namespace
// `epalm toy pretrain`: the world's four unimodal models, each a Hugging Face
// checkpoint our loaders read, with what it learned on held-out data; made
// once, then reused.
TEST(ToyCli, PretrainsTheUnimodalModelsOnce) {
  testing::TempDir home;
  const std::map<std::string, std::string> env{{"EPALM_HOME", home.path()}};
  auto r = epalm({"toy", "pretrain", "--sizes", kSmall, "--reduced", "true", "--format", "csv"}, env, 600);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* model : {"decoder", "vit", "timesformer", "ast"}) {
    EXPECT_NE(r.out.find(std::string("pretrained now: ") + model), std::string::npos) << r.out;
  }
  std::vector<std::string> checkpoints;
  for (const auto& entry : std::filesystem::directory_iterator(home.path() + "/toy-models")) {
    for (const char* model : {"decoder", "vit", "timesformer", "ast"}) {
      const auto dir = entry.path() / model;
      EXPECT_TRUE(std::filesystem::exists(dir / "config.json")) << dir;
      EXPECT_TRUE(std::filesystem::exists(dir / "model.safetensors")) << dir;
      EXPECT_TRUE(std::filesystem::exists(dir / "pretraining.json")) << dir;
      checkpoints.push_back(dir.string());
    }
  }
  ASSERT_EQ(checkpoints.size(), 4u);
  // Our loaders take them: `epalm model info` reads each config.json.
  for (const auto& dir : checkpoints) {
    const auto info = epalm({"model", "info", "--model", dir});
    EXPECT_EQ(info.exit_code, 0) << dir << ": " << info.err;
  }
  // eP-ALM on them, as the README runs it: a registered toy experiment over
  // the world's root and the models' folder, validated and tested at the end,
  // and its no-perception baseline.
  std::string world_root;
  for (const auto& entry : std::filesystem::directory_iterator(home.path() + "/toy-world")) {
    if (std::filesystem::exists(entry.path() / "world.json")) world_root = entry.path().string();
  }
  ASSERT_FALSE(world_root.empty());
  const auto models_dir = std::filesystem::path(checkpoints.front()).parent_path().string();
  for (const char* perception : {"true", "false"}) {
    const auto out = home.path() + "/run-" + perception;
    const auto trained = epalm({"train", "--experiment", "toy-image-qa", "--data-root", world_root, "--model-dir",
                                models_dir, "--output-dir", out, "--max-steps", "2", "--perception", perception,
                                "--results", home.path() + "/results.sqlite", "--feature-cache", "off",
                                "--device", "cpu"},
                               env, 600);
    ASSERT_EQ(trained.exit_code, 0) << trained.err;
    EXPECT_NE(trained.out.find("best validation: step 2, vqa_accuracy"), std::string::npos) << trained.out;
    EXPECT_NE(trained.out.find("test vqa_accuracy "), std::string::npos) << trained.out;
  }

  // Again: nothing is pretrained a second time.
  r = epalm({"toy", "pretrain", "--sizes", kSmall, "--reduced", "true"}, env, 600);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("pretrained now"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("perplexity"), std::string::npos) << r.out;
}

}  // namespace epalm
