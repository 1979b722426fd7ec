// `epalm train` validating as the reference trains: generation on the
// validation split every N steps, the best checkpoint kept by the task's
// metric, that checkpoint evaluated on the test split at the end, every score
// recorded in the run; resumable; bad settings named before any training.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "train_cli_fixtures.h"

namespace epalm {

namespace {

namespace fs = std::filesystem;
using testing::config;
using testing::epalm;
using testing::mpirun_prefix;

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string run_id(const std::string& out) {
  std::smatch id;
  return std::regex_search(out, id, std::regex("run ([0-9a-f-]+): trained")) ? id[1].str() : "";
}

// "<name> <value>" lines of `epalm eval` (and "test <name> <value>" of train).
std::map<std::string, double> score_lines(const std::string& out, const std::string& prefix = "") {
  std::map<std::string, double> scores;
  std::istringstream lines(out);
  std::string text;
  while (std::getline(lines, text)) {
    if (!prefix.empty()) {
      if (text.rfind(prefix, 0) != 0) continue;
      text = text.substr(prefix.size());
    }
    std::smatch m;
    if (std::regex_match(text, m, std::regex("([A-Za-z][A-Za-z0-9_/-]*) (-?[0-9.]+(e[+-]?[0-9]+)?)"))) {
      scores[m[1]] = std::stod(m[2]);
    }
  }
  return scores;
}

// `epalm train` validating every 2 steps on the official VQA val2014 files
// and testing on karpathy_test; `changes` replace or add options.
std::vector<std::string> train_args(const std::string& cfg, int max_steps,
                                    const std::map<std::string, std::string>& changes = {}) {
  std::map<std::string, std::string> options{{"--validate-every", "2"},  {"--val-split", "val2014"},
                                             {"--test-at-end", "true"},  {"--test-split", "karpathy_test"},
                                             {"--num-beams", "1"},       {"--max-new-tokens", "3"},
                                             {"--feature-cache", "off"}, {"--max-steps", std::to_string(max_steps)},
                                             // large enough that the answers change between validations
                                             {"--lr", "0.05"},           {"--prompt-lr", "0.05"}};
  for (const auto& [option, value] : changes) options[option] = value;
  std::vector<std::string> args{"train", "--config", cfg};
  for (const auto& [option, value] : options) {
    args.push_back(option);
    args.push_back(value);
  }
  return args;
}

}  // namespace

TEST(ValidationCli, KeepsTheBestCheckpointAndTestsIt) {
  testing::TempDir dir;
  const auto cfg = config(dir, "vqa", "karpathy_train");
  const auto results = dir.path() + "/results.sqlite";
  auto r = epalm(train_args(cfg, 4));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // Validated after steps 2 and 4 (the last), by the official VQA accuracy
  // (val2014 has the official annotations).
  const auto history = read_json(dir.path() + "/run/validation.json");
  EXPECT_EQ(history["select_by"], "vqa_accuracy");
  ASSERT_EQ(history["records"].size(), 2u) << history.dump();
  EXPECT_EQ(history["records"][0]["step"], 2);
  EXPECT_EQ(history["records"][1]["step"], 4);
  // The best is the first record with the highest accuracy.
  const auto& records = history["records"];
  const auto best_step = history["best_step"].get<int>();
  double best_value = -1;
  int expected_best = 0;
  for (const auto& record : records) {
    const double value = record["scores"]["vqa_accuracy"];
    if (value > best_value) best_value = value, expected_best = record["step"];
  }
  EXPECT_EQ(best_step, expected_best);
  const auto best = dir.path() + "/run/best.safetensors";
  ASSERT_TRUE(fs::exists(best));
  EXPECT_NE(r.out.find("best validation: step " + std::to_string(best_step) + ", vqa_accuracy"), std::string::npos)
      << r.out;

  // The model's answers changed between the validations, so the files tell
  // the checkpoints apart.
  const auto step2 = file_text(dir.path() + "/run/predictions-val-step2.json");
  ASSERT_NE(step2, file_text(dir.path() + "/run/predictions-val-step4.json"));

  // The best checkpoint, evaluated on its own, gives the recorded validation
  // answers and scores and the test answers and scores the run printed: the
  // run kept the state it validated and tested that checkpoint.
  auto val = epalm({"eval", best, "--split", "val2014", "--num-beams", "1", "--max-new-tokens", "3", "--device", "cpu",
                    "--results", results, "--predictions", dir.path() + "/val.json"});
  ASSERT_EQ(val.exit_code, 0) << val.err;
  const auto val_scores = score_lines(val.out);
  ASSERT_TRUE(val_scores.count("vqa_accuracy")) << val.out;
  EXPECT_EQ(file_text(dir.path() + "/val.json"),
            file_text(dir.path() + "/run/predictions-val-step" + std::to_string(best_step) + ".json"));
  for (const auto& record : records) {
    if (record["step"] != best_step) continue;
    for (const auto& [metric, value] : record["scores"].items()) {
      EXPECT_NEAR(val_scores.at(metric), value.get<double>(), 1e-9) << metric;
    }
  }
  auto test = epalm({"eval", best, "--split", "karpathy_test", "--num-beams", "1", "--max-new-tokens", "3", "--device",
                     "cpu", "--results", results, "--predictions", dir.path() + "/test.json"});
  ASSERT_EQ(test.exit_code, 0) << test.err;
  const auto tested = score_lines(r.out, "test ");
  ASSERT_TRUE(tested.count("accuracy")) << r.out;
  EXPECT_EQ(tested, score_lines(test.out)) << r.out << test.out;
  EXPECT_EQ(file_text(dir.path() + "/run/predictions-test.json"), file_text(dir.path() + "/test.json"));
  // A predictions file named relative to the working directory.
  const auto relative = testing::run_process(
      {"bash", "-c", "cd '" + dir.path() + "' && '" + EPALM_EXECUTABLE +
                         "' eval run/best.safetensors --split karpathy_test --num-beams 1 --max-new-tokens 3 "
                         "--device cpu --results results.sqlite --predictions relative.json"},
      300, {{"EPALM_LOG_LEVEL", "warn"}});
  ASSERT_EQ(relative.exit_code, 0) << relative.err;
  EXPECT_EQ(file_text(dir.path() + "/relative.json"), file_text(dir.path() + "/test.json"));

  // Recorded in the run: the best validation's scores under "val", the test's
  // under "test", each validation in the metric history, the best checkpoint.
  const auto shown = epalm({"runs", "show", run_id(r.out), "--results", results, "--format", "json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const auto run = nlohmann::json::parse(shown.out);
  EXPECT_DOUBLE_EQ(run["scores"]["val"]["vqa_accuracy"].get<double>(), best_value) << shown.out;
  EXPECT_DOUBLE_EQ(run["scores"]["test"]["accuracy"].get<double>(), tested.at("accuracy")) << shown.out;
  EXPECT_EQ(run["metrics"]["val/vqa_accuracy"]["n"], 2) << shown.out;
  EXPECT_EQ(run["metrics"]["val/vqa_accuracy"]["goal"], "max") << shown.out;
  EXPECT_EQ(run["params"]["validate-every"], "2") << shown.out;
  // What it trains, as printed: the efficiency plot's x.
  std::smatch trainable;
  ASSERT_TRUE(std::regex_search(r.out, trainable, std::regex("trainable parameters: ([0-9]+) "))) << r.out;
  EXPECT_EQ(run["scores"]["model"]["trainable_parameters"].get<double>(), std::stod(trainable[1])) << shown.out;
  bool best_recorded = false;
  for (const auto& artifact : run["artifacts"]) best_recorded |= artifact["kind"] == "best_checkpoint";
  EXPECT_TRUE(best_recorded) << shown.out;

  // Resumed to step 6: validates step 6 only, keeps the history and its best.
  r = epalm(train_args(cfg, 6));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(resumed)"), std::string::npos) << r.out;
  const auto resumed = read_json(dir.path() + "/run/validation.json");
  ASSERT_EQ(resumed["records"].size(), 3u) << resumed.dump();
  EXPECT_EQ(resumed["records"][0], records[0]);
  EXPECT_EQ(resumed["records"][1], records[1]);
  EXPECT_EQ(resumed["records"][2]["step"], 6);
}

// Two ranks validate together: each generates for its shard, rank 0 scores
// the whole split; the scores equal `epalm eval` of the kept checkpoint.
TEST(ValidationCli, TwoRanksValidateTogether) {
  testing::TempDir dir;
  const auto cfg = config(dir, "vqa", "karpathy_train");
  auto args = train_args(cfg, 2, {{"--batch-size", "1"}});
  args.insert(args.begin(), EPALM_EXECUTABLE);
  const auto two = testing::run_process(mpirun_prefix(args), 300, {{"EPALM_LOG_LEVEL", "warn"}});
  ASSERT_EQ(two.exit_code, 0) << two.err;
  const auto history = read_json(dir.path() + "/run/validation.json");
  ASSERT_EQ(history["records"].size(), 1u) << history.dump();
  auto val = epalm({"eval", dir.path() + "/run/best.safetensors", "--split", "val2014", "--num-beams", "1",
                    "--max-new-tokens", "3", "--device", "cpu", "--results", dir.path() + "/results.sqlite",
                    "--predictions", dir.path() + "/val.json"});
  ASSERT_EQ(val.exit_code, 0) << val.err;
  EXPECT_EQ(file_text(dir.path() + "/val.json"), file_text(dir.path() + "/run/predictions-val-step2.json"));
  EXPECT_NEAR(score_lines(val.out).at("vqa_accuracy"), history["records"][0]["scores"]["vqa_accuracy"].get<double>(),
              1e-9);
  EXPECT_EQ(score_lines(two.out, "test "), score_lines(epalm({"eval", dir.path() + "/run/best.safetensors", "--split",
                                                              "karpathy_test", "--num-beams", "1", "--max-new-tokens",
                                                              "3", "--device", "cpu", "--results",
                                                              dir.path() + "/results.sqlite", "--predictions",
                                                              dir.path() + "/test.json"})
                                                           .out))
      << two.out;
}

// With a frozen-feature cache, validation and the test at the end read the
// encoder's features from it (computing and storing those missing) instead
// of decoding the media and running the encoder: the same answers, and the
// cache then holds the validation and test splits' media too.
TEST(ValidationCli, TheFeatureCacheServesValidationAndTestWithTheSameAnswers) {
  testing::TempDir dir;
  const auto cfg = config(dir, "vqa", "karpathy_train");
  const auto cache = dir.path() + "/cache";
  auto cached = epalm(train_args(cfg, 2, {{"--feature-cache", cache}, {"--output-dir", dir.path() + "/cached"}}));
  ASSERT_EQ(cached.exit_code, 0) << cached.err;
  auto plain = epalm(train_args(cfg, 2, {{"--output-dir", dir.path() + "/plain"}}));
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  for (const char* file : {"predictions-val-step2.json", "predictions-test.json", "validation.json"}) {
    EXPECT_EQ(file_text(dir.path() + "/cached/" + file), file_text(dir.path() + "/plain/" + file)) << file;
  }
  EXPECT_EQ(score_lines(cached.out, "test "), score_lines(plain.out, "test "));
  // Two steps of batch 2 look up 4 training pictures; validation and the
  // test look up one per question of their splits.
  std::smatch lookups;
  ASSERT_TRUE(std::regex_search(cached.out, lookups, std::regex("frozen-feature cache: ([0-9]+) hits, ([0-9]+) computed")))
      << cached.out;
  EXPECT_GT(std::stoi(lookups[1]) + std::stoi(lookups[2]), 4) << cached.out;
  // Run again on the filled cache: nothing computed.
  auto again = epalm(train_args(cfg, 2, {{"--feature-cache", cache}, {"--output-dir", dir.path() + "/again"}}));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find(" hits, 0 computed"), std::string::npos) << again.out;
  EXPECT_EQ(file_text(dir.path() + "/again/predictions-test.json"), file_text(dir.path() + "/plain/predictions-test.json"));
}

TEST(ValidationCli, BadSettingsAreNamedBeforeTraining) {
  testing::TempDir dir;
  const auto cfg = config(dir, "vqa", "karpathy_train");
  auto r = epalm(train_args(cfg, 4, {{"--validate-every", "sometimes"}}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--validate-every"), std::string::npos) << r.err;
  r = epalm(train_args(cfg, 4, {{"--select-by", "CIDEr"}}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--select-by"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("vqa_accuracy"), std::string::npos) << r.err;
  r = epalm(train_args(cfg, 4, {{"--val-split", "val2099"}}));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("val2099"), std::string::npos) << r.err;
  // Sharded layers need every rank in every forward; validation generates
  // with each rank's own number of steps.
  auto args = train_args(cfg, 4, {{"--plan", "shard"}, {"--shard-threshold", "1"}, {"--batch-size", "1"}});
  args.insert(args.begin(), EPALM_EXECUTABLE);
  r = testing::run_process(mpirun_prefix(args), 300, {{"EPALM_LOG_LEVEL", "warn"}});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--validate-every"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--plan replicate"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.path() + "/run/checkpoint.safetensors")) << "refused before any training";
}

}  // namespace epalm
