// `epalm train --fuse`: variants that differ only in what trains, trained as
// one job over shared frozen models, data and encoder passes. Variants that
// take turns (the reference's dropout, or --fused-pass turns) must equal their
// runs alone bit for bit (checkpoint with optimizer and generator states,
// best checkpoint, test predictions), under one process and two ranks; in the
// joint pass (one decoder pass over every variant's rows) to fp32 rounding.
// A diverging variant fails alone; variants that would need another data
// stream are refused before anything runs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "epalm/build_config.h"
#include "epalm/core/models/rounding_bounds.h"
#include "process.h"
#include "tolerance.h"
#include "train_cli_fixtures.h"

namespace epalm {

namespace {

namespace fs = std::filesystem;
using testing::config;
using testing::mpirun_prefix;

// One compute thread: GEMM results depend on how many threads split them,
// and the fused job and the runs alone must run the same kernels.
const std::map<std::string, std::string> kOneThread = {{"EPALM_LOG_LEVEL", "warn"}, {"OMP_NUM_THREADS", "1"}};

testing::ProcessResult train(std::vector<std::string> args, bool two_ranks = false) {
  args.insert(args.begin(), {EPALM_EXECUTABLE, "train"});
  if (two_ranks) {
    args = mpirun_prefix(args);
    args.insert(args.begin() + 1, {"-x", "OMP_NUM_THREADS"});
  }
  return testing::run_process(args, 300, kOneThread);
}

// "" when the two safetensors files hold the same tensors bit for bit.
std::string differing(const std::string& a, const std::string& b) {
  const auto compared = testing::run_process({EPALM_PYTHON, COMPARE_CHECKPOINTS, a, b}, 120);
  return compared.exit_code == 0 ? "" : compared.out + compared.err;
}

// The runs `epalm runs list` shows of a results store (JSON rows: run, status, ...).
nlohmann::json listed_runs(const std::string& results) {
  const auto listed = testing::run_process({EPALM_EXECUTABLE, "runs", "list", "--results", results, "--format", "json"},
                                           60, kOneThread);
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  return listed.exit_code == 0 ? nlohmann::json::parse(listed.out) : nlohmann::json::array();
}

// Each "run ...: trained N steps, last loss X" line's X, in order.
std::vector<double> last_losses(const std::string& out) {
  static const std::regex pattern("last loss ([0-9.eE+-]+)");
  std::vector<double> losses;
  for (auto it = std::sregex_iterator(out.begin(), out.end(), pattern); it != std::sregex_iterator(); ++it) {
    losses.push_back(std::stod((*it)[1]));
  }
  return losses;
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Three variants over the base configuration: other levels, connector
// sharing, prompt and learning rate; adapters without a prompt. Dropout on
// (unless `dropout` is false), so each variant's generator draws count and
// the variants take turns.
struct Variants {
  explicit Variants(const testing::TempDir& dir, bool dropout = true) {
    base = config(dir, "vqa", "karpathy_train",
                  std::string(dropout ? "reference-dropout = 0.1\n" : "") + "feature-cache = off\n");
    files = {dir.write("b.ini", "levels = 1\nshared-connector = true\nprompt-length = 5\nlr = 2e-3\noutput-dir = " +
                                    dir.path() + "/b\n"),
             dir.write("c.ini", "adapters = ffn\nprompt-length = 0\noutput-dir = " + dir.path() + "/c\n")};
    outputs = {dir.path() + "/run", dir.path() + "/b", dir.path() + "/c"};
  }
  std::string base;
  std::vector<std::string> files, outputs;
};

// Variant k of `v` trained alone with `options` (its own directory and
// store); returns its output directory (and its printed lines to `printed`).
std::string train_alone(const testing::TempDir& dir, const Variants& v, std::size_t k,
                        const std::vector<std::string>& options, bool two_ranks = false,
                        std::string* printed = nullptr) {
  const auto alone_dir = dir.path() + "/alone" + std::to_string(k);
  std::vector<std::string> args{"--config", v.base};
  if (k > 0) args.insert(args.end(), {"--config", v.files[k - 1]});
  args.insert(args.end(), {"--output-dir", alone_dir, "--results", dir.path() + "/alone.sqlite"});
  args.insert(args.end(), options.begin(), options.end());
  const auto alone = train(args, two_ranks);
  EXPECT_EQ(alone.exit_code, 0) << "variant " << k << ": " << alone.err;
  if (printed != nullptr) *printed = alone.out;
  return alone_dir;
}

}  // namespace

TEST(FusedTrainCli, EachVariantEqualsItsRunAloneWithValidationAndTest) {
  testing::TempDir dir;
  const Variants v(dir);
  const std::vector<std::string> common = {"--max-steps",   "4",       "--validate-every", "2",
                                           "--val-split",   "val2014", "--test-at-end",    "true",
                                           "--test-split",  "karpathy_test", "--num-beams", "1", "--max-new-tokens", "3"};
  auto fused_args = std::vector<std::string>{"--config", v.base, "--fuse", v.files[0], "--fuse", v.files[1]};
  fused_args.insert(fused_args.end(), common.begin(), common.end());
  const auto fused = train(fused_args);
  ASSERT_EQ(fused.exit_code, 0) << fused.err;
  const std::regex run_line("run ([0-9a-f-]+): trained 4 steps");
  EXPECT_EQ(std::distance(std::sregex_iterator(fused.out.begin(), fused.out.end(), run_line), std::sregex_iterator()), 3)
      << fused.out;

  for (std::size_t k = 0; k < 3; ++k) {
    const auto alone_dir = train_alone(dir, v, k, common);
    for (const auto* file : {"checkpoint.safetensors", "best.safetensors"}) {
      EXPECT_EQ(differing(v.outputs[k] + "/" + file, alone_dir + "/" + file), "") << "variant " << k << " " << file;
    }
    EXPECT_EQ(file_text(v.outputs[k] + "/predictions-test.json"), file_text(alone_dir + "/predictions-test.json"))
        << "variant " << k;
  }

  // Each variant is its own run in the store, with its own settings and scores.
  const auto runs = listed_runs(dir.path() + "/results.sqlite");
  ASSERT_EQ(runs.size(), 3u) << runs.dump();
  std::multiset<std::string> levels, statuses;
  for (const auto& run : runs) {
    const auto shown = testing::run_process({EPALM_EXECUTABLE, "runs", "show", run["run"].get<std::string>(),
                                             "--results", dir.path() + "/results.sqlite", "--format", "json"},
                                            60, kOneThread);
    ASSERT_EQ(shown.exit_code, 0) << shown.err;
    const auto record = nlohmann::json::parse(shown.out);
    levels.insert(record["params"]["levels"].get<std::string>());
    statuses.insert(record["status"].get<std::string>());
    EXPECT_EQ(record["metrics"]["val/vqa_accuracy"]["n"], 2) << shown.out;
    EXPECT_TRUE(record["scores"].contains("test")) << shown.out;
    // Its throughput is the job's (its share of the joint steps): the run says so.
    EXPECT_EQ(record["scores"]["train"]["job_variants"], 3) << shown.out;
  }
  EXPECT_EQ(levels, (std::multiset<std::string>{"1", "2", "2"}));
  EXPECT_EQ(statuses, (std::multiset<std::string>{"finished", "finished", "finished"}));
}

TEST(FusedTrainCli, TwoRanksEqualTheirRunsAlone) {
  testing::TempDir dir;
  const Variants v(dir);
  const auto fused = train({"--config", v.base, "--fuse", v.files[0], "--fuse", v.files[1], "--max-steps", "3",
                            "--batch-size", "1"},
                           /*two_ranks=*/true);
  ASSERT_EQ(fused.exit_code, 0) << fused.err;
  for (std::size_t k = 0; k < 3; ++k) {
    const auto alone_dir = train_alone(dir, v, k, {"--max-steps", "3", "--batch-size", "1"}, /*two_ranks=*/true);
    EXPECT_EQ(differing(v.outputs[k] + "/checkpoint.safetensors", alone_dir + "/checkpoint.safetensors"), "")
        << "variant " << k;
  }
}

// Each variant resumes from its own checkpoint; a variant that starts later
// (no checkpoint yet) trains alone until it stands where the others do. Each
// ends equal to its run alone, uninterrupted.
TEST(FusedTrainCli, VariantsResumeFromTheirOwnSteps) {
  testing::TempDir dir;
  const Variants v(dir);
  auto r = train({"--config", v.base, "--fuse", v.files[0], "--max-steps", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = train({"--config", v.base, "--fuse", v.files[0], "--fuse", v.files[1], "--max-steps", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::regex resumed("trained 4 steps \\(resumed\\)");
  EXPECT_EQ(std::distance(std::sregex_iterator(r.out.begin(), r.out.end(), resumed), std::sregex_iterator()), 2) << r.out;
  for (std::size_t k = 0; k < 3; ++k) {
    const auto alone_dir = train_alone(dir, v, k, {"--max-steps", "4"});
    EXPECT_EQ(differing(v.outputs[k] + "/checkpoint.safetensors", alone_dir + "/checkpoint.safetensors"), "")
        << "variant " << k;
  }
}

TEST(FusedTrainCli, ADivergingVariantFailsAloneAndTheOthersFinish) {
  testing::TempDir dir;
  const Variants v(dir);
  // A learning rate that overflows the trainables within a few steps.
  const auto diverging = dir.write("nan.ini", "lr = 1e30\nprompt-lr = 1e30\noutput-dir = " + dir.path() + "/nan\n");
  const auto r = train({"--config", v.base, "--fuse", diverging, "--fuse", v.files[1], "--max-steps", "5"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("failed: the loss is not finite"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir.path() + "/run/checkpoint.safetensors"));
  EXPECT_TRUE(fs::exists(dir.path() + "/c/checkpoint.safetensors"));
  EXPECT_FALSE(fs::exists(dir.path() + "/nan/checkpoint.safetensors"));
  std::multiset<std::string> statuses;
  for (const auto& run : listed_runs(dir.path() + "/results.sqlite")) statuses.insert(run["status"].get<std::string>());
  EXPECT_EQ(statuses, (std::multiset<std::string>{"failed", "finished", "finished"}));
}

// The same diverging settings alone: the run stops at the first non-finite
// loss with an error saying so, and its record says failed.
// Without dropout the variants share one decoder pass per micro-batch (the
// default joint pass): each variant's first loss equals its run alone's to
// fp32 rounding (the frozen layers' products run over all variants' rows
// at once); taking turns instead, each equals its run alone bit for bit.
TEST(FusedTrainCli, AJointPassEqualsTheRunsAloneToRoundingAndTurnsBitForBit) {
  testing::TempDir dir;
  const Variants v(dir, /*dropout=*/false);
  const auto joint = train({"--config", v.base, "--fuse", v.files[0], "--fuse", v.files[1], "--max-steps", "1"});
  ASSERT_EQ(joint.exit_code, 0) << joint.err;
  const auto fused_losses = last_losses(joint.out);
  ASSERT_EQ(fused_losses.size(), 3u) << joint.out;
  // The loss's rounding chain (models/rounding_bounds.h) over sequences and
  // batches no longer than the fixture decoder's positions allow, with the
  // longest prompt here (5) and the perceptual token.
  const auto decoder = models::OptConfig::from_json_file(testing::models("opt") + "/config.json");
  const auto encoder = models::VitConfig::from_json_file(testing::models("vit") + "/config.json");
  const std::int64_t tokens = decoder.max_positions + 5 + 1;
  const double depth =
      models::epalm_loss_depth(decoder, 2 * tokens, tokens, encoder.hidden_size, decoder.hidden_size / 4, /*fused=*/true);
  for (std::size_t k = 0; k < 3; ++k) {
    std::string printed;
    train_alone(dir, v, k, {"--max-steps", "1"}, /*two_ranks=*/false, &printed);
    const auto alone = last_losses(printed);
    ASSERT_EQ(alone.size(), 1u) << printed;
    EXPECT_LE(std::abs(fused_losses[k] - alone[0]), testing::two_orders(depth) * std::abs(alone[0]))
        << "variant " << k << ": " << fused_losses[k] << " vs " << alone[0];
  }

  testing::TempDir turns_dir;
  const Variants t(turns_dir, /*dropout=*/false);
  const auto turns = train({"--config", t.base, "--fuse", t.files[0], "--fuse", t.files[1], "--max-steps", "2",
                            "--fused-pass", "turns"});
  ASSERT_EQ(turns.exit_code, 0) << turns.err;
  for (std::size_t k = 0; k < 3; ++k) {
    const auto alone_dir = train_alone(turns_dir, t, k, {"--max-steps", "2"});
    EXPECT_EQ(differing(t.outputs[k] + "/checkpoint.safetensors", alone_dir + "/checkpoint.safetensors"), "")
        << "variant " << k;
  }
  const auto refused = train({"--config", t.base, "--fuse", t.files[0], "--fused-pass", "sideways"});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("--fused-pass"), std::string::npos) << refused.err;
}

// In the joint pass too, a variant whose loss stops being finite fails alone
// (its rows are its own in every layer) and the others train to the end.
TEST(FusedTrainCli, ADivergingVariantOfAJointPassFailsAlone) {
  testing::TempDir dir;
  const Variants v(dir, /*dropout=*/false);
  const auto diverging = dir.write("nan.ini", "lr = 1e30\nprompt-lr = 1e30\noutput-dir = " + dir.path() + "/nan\n");
  const auto r = train({"--config", v.base, "--fuse", diverging, "--fuse", v.files[1], "--max-steps", "5"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("failed: the loss is not finite"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir.path() + "/nan/checkpoint.safetensors"));
  std::multiset<std::string> statuses;
  for (const auto& run : listed_runs(dir.path() + "/results.sqlite")) statuses.insert(run["status"].get<std::string>());
  EXPECT_EQ(statuses, (std::multiset<std::string>{"failed", "finished", "finished"}));
  // The others are their runs alone to rounding: finite, and trained 5 steps.
  EXPECT_EQ(last_losses(r.out).size(), 2u) << r.out;
}

TEST(FusedTrainCli, ADivergingRunAloneFailsSayingSo) {
  testing::TempDir dir;
  const Variants v(dir);
  const auto r = train({"--config", v.base, "--lr", "1e30", "--prompt-lr", "1e30", "--max-steps", "5"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("the run diverged: the loss is not finite"), std::string::npos) << r.err;
  const auto runs = listed_runs(dir.path() + "/results.sqlite");
  ASSERT_EQ(runs.size(), 1u) << runs.dump();
  EXPECT_EQ(runs[0]["status"], "failed") << runs.dump();
}

TEST(FusedTrainCli, VariantsThatNeedAnotherDataStreamAreRefusedBeforeTraining) {
  testing::TempDir dir;
  const Variants v(dir);
  for (const auto& [setting, line] : std::vector<std::pair<std::string, std::string>>{
           {"batch-size", "batch-size = 3\n"}, {"seed", "seed = 7\n"}, {"train-split", "train-split = karpathy_test\n"}}) {
    const auto file = dir.write(setting + ".ini", line + "output-dir = " + dir.path() + "/" + setting + "\n");
    const auto r = train({"--config", v.base, "--fuse", file, "--max-steps", "2"});
    EXPECT_EQ(r.exit_code, 2) << setting << ": " << r.err;
    EXPECT_NE(r.err.find("--fuse"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("'" + setting + "'"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir.path() + "/run/checkpoint.safetensors")) << setting;
  }
  // Two variants writing into one directory would overwrite each other.
  const auto same = dir.write("same.ini", "levels = 1\n");
  const auto r = train({"--config", v.base, "--fuse", same, "--max-steps", "2"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--output-dir"), std::string::npos) << r.err;
}

}  // namespace epalm
