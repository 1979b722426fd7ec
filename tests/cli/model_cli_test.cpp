// `epalm model` and `epalm bench` as users run them: the real binary on the
// tiny checkpoints of tests/parity/make_opt_fixtures.py, its output files
// compared with transformers' expected outputs, and its errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "epalm/core/safetensors/checkpoint.h"
#include "../parity/forward_depth.h"
#include "process.h"

namespace epalm {

namespace {

testing::ProcessResult epalm(std::vector<std::string> args, int timeout = 120) {
  args.insert(args.begin(), EPALM_EXECUTABLE);
  return testing::run_process(args, timeout);
}

std::string fixture(const std::string& variant) { return std::string(EPALM_OPT_FIXTURES) + "/" + variant; }

at::Tensor load(const std::string& file, const std::string& name) {
  return safetensors::SafetensorsFile(file).load(name);
}

// The positions that hold tokens, within the rounding bound of `depth` on
// their scale (tests/parity/forward_depth.h).
::testing::AssertionResult close_on_tokens(const at::Tensor& actual, const at::Tensor& expected, const at::Tensor& mask,
                                           double depth, const std::string& what) {
  if (actual.sizes() != expected.sizes()) return ::testing::AssertionFailure() << what << ": other shape";
  auto keep = mask.to(torch::kBool).unsqueeze(-1).expand_as(expected);
  const auto want = expected.masked_select(keep);
  return testing::within(actual.to(torch::kFloat).masked_select(keep), want,
                         torch::tensor(testing::forward_bound(want, depth), torch::kDouble), what);
}

class ModelRunParity : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(ModelRunParity, OutputFileMatchesTransformers) {
  testing::TempDir dir;
  const auto model = fixture(GetParam());
  const auto out = dir.path() + "/out.safetensors";
  const auto r = epalm({"model", "run", "--model", model, "--inputs", model + "/inputs.safetensors", "--output", out,
                        "--dtype", "fp32", "--device", "cpu", "--attention", "eager"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto expected = model + "/expected.safetensors";
  const auto mask = load(model + "/inputs.safetensors", "attention_mask");
  const auto config = models::OptConfig::from_json_file(model + "/config.json");
  const auto tokens = mask.size(1);
  EXPECT_TRUE(close_on_tokens(load(out, "logits"), load(expected, "logits"), mask,
                              testing::opt_depth(config, tokens, -1), "logits"));
  safetensors::SafetensorsFile written(out);
  int layers = 0;
  while (written.contains("hidden_state_" + std::to_string(layers))) {
    const auto name = "hidden_state_" + std::to_string(layers);
    EXPECT_TRUE(close_on_tokens(written.load(name), load(expected, name), mask,
                                testing::opt_depth(config, tokens, layers), name));
    ++layers;
  }
  EXPECT_GE(layers, 4);
  EXPECT_TRUE(safetensors::SafetensorsFile(expected).contains("hidden_state_" + std::to_string(layers - 1)));
  EXPECT_FALSE(safetensors::SafetensorsFile(expected).contains("hidden_state_" + std::to_string(layers)));
  EXPECT_TRUE(torch::equal(written.load("last_hidden_state"), written.load("hidden_state_" + std::to_string(layers - 1))));
  EXPECT_EQ(written.metadata().at("model"), model);
}

TEST_P(ModelRunParity, GenerationMatchesTransformers) {
  testing::TempDir dir;
  const auto model = fixture(GetParam());
  const auto inputs = dir.path() + "/left.safetensors";
  safetensors::write_safetensors(inputs, {{"input_ids", load(model + "/inputs.safetensors", "left_input_ids")},
                                          {"attention_mask", load(model + "/inputs.safetensors", "left_attention_mask")}});
  const auto expected = model + "/expected.safetensors";
  struct Case {
    std::string key;
    std::vector<std::string> args;
  };
  const std::vector<Case> cases = {
      {"greedy", {"--generate", "greedy", "--max-new-tokens", "10"}},
      {"beam3", {"--generate", "beam", "--num-beams", "3", "--max-new-tokens", "10", "--length-penalty", "1.0"}},
      {"beam2_never",
       {"--generate", "beam", "--num-beams", "2", "--max-new-tokens", "8", "--length-penalty", "1.5", "--early-stopping",
        "never"}},
  };
  for (const auto& c : cases) {
    const auto out = dir.path() + "/" + c.key + ".safetensors";
    std::vector<std::string> args = {"model", "run", "--model", model, "--inputs", inputs, "--output", out,
                                     "--device", "cpu"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const auto r = epalm(args);
    ASSERT_EQ(r.exit_code, 0) << c.key << ": " << r.err;
    EXPECT_TRUE(torch::equal(load(out, "generated"), load(expected, "generated_" + c.key))) << c.key;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, ModelRunParity, ::testing::Values("pre_ln", "post_ln_projected", "sharded"));

TEST(ModelCli, InfoDescribesACheckpointDirectory) {
  const auto r = epalm({"model", "info", "--model", fixture("sharded"), "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["family"], "opt");
  EXPECT_EQ(j["architecture"]["layers"], "4");
  EXPECT_EQ(j["architecture"]["layer norm"], "pre-LN");
  EXPECT_GT(j["checkpoint"]["files"].size(), 1u);  // sharded
  EXPECT_TRUE(j["checkpoint"]["stored_dtypes"].contains("F32"));
  const auto params = j["parameters"].get<std::int64_t>();
  EXPECT_EQ(j["memory"]["weights_bytes"]["fp32"].get<std::int64_t>(), 4 * params);
  EXPECT_EQ(j["memory"]["weights_bytes"]["bf16"].get<std::int64_t>(), 2 * params);
  // 4 layers x (K + V) x hidden 32 x 4 bytes
  EXPECT_EQ(j["memory"]["kv_cache_bytes_per_token"]["fp32"].get<std::int64_t>(), 4 * 2 * 32 * 4);
  std::int64_t stored = 0;
  for (const auto& f : j["checkpoint"]["files"]) stored += f["data_bytes"].get<std::int64_t>();
  EXPECT_EQ(stored, 4 * params);  // lm_head tied: stored once

  const auto projected = epalm({"model", "info", "--model", fixture("post_ln_projected")});
  ASSERT_EQ(projected.exit_code, 0) << projected.err;
  EXPECT_NE(projected.out.find("post-LN"), std::string::npos) << projected.out;
  EXPECT_NE(projected.out.find("project_in/out 16 <-> 32"), std::string::npos) << projected.out;
}

TEST(ModelCli, InfoOnAPresetNeedsNoDownload) {
  const auto r = epalm({"model", "info", "--model", "facebook/opt-125m"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("125239296"), std::string::npos) << r.out;  // transformers' count for opt-125m
  EXPECT_NE(r.out.find("preset (random weights)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kv cache per token fp32"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("72.0 KiB"), std::string::npos) << r.out;  // 2 x 12 x 768 x 4 bytes
}

TEST(ModelCli, RunsAPresetOnRandomWeights) {
  testing::TempDir dir;
  const auto inputs = dir.path() + "/in.safetensors";
  safetensors::write_safetensors(inputs, {{"input_ids", torch::tensor({{5, 6, 7}}, torch::kInt)}});
  const auto out = dir.path() + "/out.safetensors";
  // opt-350m: post-LN with projections, in bf16 (downloads nothing).
  const auto r = epalm({"model", "run", "opt-350m", "--inputs", inputs, "--output", out, "--dtype", "bf16",
                        "--device", "cpu"},
                       300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto logits = load(out, "logits");
  EXPECT_EQ(logits.sizes(), (std::vector<std::int64_t>{1, 3, 50272}));
  EXPECT_EQ(logits.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::isfinite(logits.to(torch::kFloat)).all().item<bool>());
}

TEST(ModelCli, BadInputFilesAreNamed) {
  testing::TempDir dir;
  const auto model = fixture("pre_ln");
  const auto out = dir.path() + "/out.safetensors";
  auto run = [&](const std::string& inputs) {
    return epalm({"model", "run", "--model", model, "--inputs", inputs, "--output", out, "--device", "cpu"});
  };
  const auto missing = dir.path() + "/missing.safetensors";
  auto r = run(missing);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;

  const auto no_ids = dir.path() + "/no_ids.safetensors";
  safetensors::write_safetensors(no_ids, {{"tokens", torch::ones({1, 3}, torch::kLong)}});
  r = run(no_ids);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(no_ids + ": no tensor 'input_ids' (the file holds: tokens)"), std::string::npos) << r.err;

  const auto float_ids = dir.path() + "/float_ids.safetensors";
  safetensors::write_safetensors(float_ids, {{"input_ids", torch::ones({1, 3})}});
  r = run(float_ids);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(float_ids + ": tensor 'input_ids' is F32, expected an integer type"), std::string::npos)
      << r.err;

  const auto flat = dir.path() + "/flat.safetensors";
  safetensors::write_safetensors(flat, {{"input_ids", torch::ones({3}, torch::kLong)}});
  r = run(flat);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(flat + ": tensor 'input_ids' has shape [3], expected 2 dimensions"), std::string::npos) << r.err;

  const auto bad_mask = dir.path() + "/bad_mask.safetensors";
  safetensors::write_safetensors(bad_mask, {{"input_ids", torch::ones({1, 3}, torch::kLong)},
                                            {"attention_mask", torch::ones({1, 4}, torch::kLong)}});
  r = run(bad_mask);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(bad_mask + ": attention_mask has shape [1, 4]"), std::string::npos) << r.err;

  const auto big_ids = dir.path() + "/big_ids.safetensors";
  safetensors::write_safetensors(big_ids, {{"input_ids", torch::full({1, 3}, 64, torch::kLong)}});
  r = run(big_ids);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(big_ids + ": input_ids holds ids in [64, 64], outside the vocabulary [0, 64)"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(ModelCli, UsageErrorsExitWithTwo) {
  testing::TempDir dir;
  const auto model = fixture("pre_ln");
  const auto inputs = model + "/inputs.safetensors";
  const auto out = dir.path() + "/out.safetensors";
  auto expect_usage = [&](std::vector<std::string> args, const std::string& message) {
    const auto r = epalm(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  };
  expect_usage({"model"}, "give one: info or run");
  expect_usage({"model", "frobnicate"}, "unknown action 'frobnicate'");
  expect_usage({"model", "run", "--model", model, "--output", out}, "--inputs: required");
  expect_usage({"model", "run", "--model", model, "--inputs", inputs}, "--output: required");
  expect_usage({"model", "run", "--model", model, "--inputs", inputs, "--output", out, "--dtype", "fp8"},
               "unknown dtype 'fp8'");
  expect_usage({"model", "run", "--model", model, "--inputs", inputs, "--output", out, "--attention", "flash"},
               "flash");
  expect_usage({"model", "run", "--model", model, "--inputs", inputs, "--output", out, "--generate", "beam",
                "--num-beams", "1"},
               "beam search needs at least 2 beams");
  expect_usage({"model", "info", "--model", "opt-7b"}, "'opt-7b' is neither a checkpoint directory nor a preset");
  expect_usage({"bench", "opt-backward"}, "unknown benchmark 'opt-backward'");
  expect_usage({"bench", "--repetitions", "0"}, "--repetitions");

  const auto r = epalm({"model", "info", "--model", dir.path() + "/nowhere"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(dir.path() + "/nowhere: no such directory"), std::string::npos) << r.err;
  const auto no_config = epalm({"model", "info", "--model", dir.path()});
  EXPECT_EQ(no_config.exit_code, 1);
  EXPECT_NE(no_config.err.find(dir.path() + "/config.json: cannot open"), std::string::npos) << no_config.err;
}

// Not a benchmark (speed is measured by `epalm bench`, not tests): one minute
// configuration checks the command, the peer script and the ratio end to end.
TEST(BenchSmoke, OptForwardAgainstThePeerReportsARatio) {
  testing::TempDir dir;
  const auto record = dir.path() + "/record.json";
  const auto r = epalm({"bench", "opt-forward", "--model", fixture("pre_ln"), "--batch", "2", "--tokens", "8",
                        "--warmup", "0", "--repetitions", "2", "--threads", "1", "--output", record},
                       300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ratio epalm/peer"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("logits agree"), std::string::npos) << r.out;
  std::ifstream in(record);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["name"], "opt-forward");
  EXPECT_GT(j["ratio"]["time"].get<double>(), 0);
  EXPECT_EQ(j["ours"]["times_s"].size(), 2u);
  EXPECT_EQ(j["peer"]["threads"], 1);
  EXPECT_TRUE(j["outputs_agree"].get<bool>());
  EXPECT_TRUE(j["versions"].contains("libtorch"));
}

// The paper's layout on OPT-125m + ViT-B/16 (random weights), a tiny batch:
// the losses agree with the peer's, and the case says its work per sample
// and what bounds it (the machine's GEMM rate, against the peer's step too).
TEST(BenchSmoke, EpalmTrainStepAgreesWithThePeerAndSaysWhatBoundsIt) {
  testing::TempDir dir;
  const auto r = epalm({"bench", "epalm-train-step", "--batch", "2", "--tokens", "8", "--warmup", "0",
                        "--repetitions", "1", "--threads", "2", "--results", dir.path() + "/results.sqlite"},
                       300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ratio epalm/peer"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("check: logits and losses agree"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" GFLOP per step, the peer "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("; per sample "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bound: GEMM "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("% of the GEMM rate)"), std::string::npos) << r.out;
  // Against the peer's step: what the target leaves the decoder, and the best
  // ratio these products allow at the GEMM rate.
  EXPECT_NE(r.out.find("encoder share: our encoder forward "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ceiling: our "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1.5x needs the whole step at >= "), std::string::npos) << r.out;
}

// Evaluation decoding (KV cache, the prompt once per sample) against the
// reference's generate without a cache, on the paper's layout: the same
// tokens, fewer FLOPs, and what bounds ours.
TEST(BenchSmoke, EpalmEvalPredictsWhatTheReferenceGenerationPredicts) {
  testing::TempDir dir;
  const auto r = epalm({"bench", "epalm-eval", "--batch", "3", "--tokens", "6", "--new-tokens", "5", "--warmup", "0",
                        "--repetitions", "1", "--threads", "2", "--results", dir.path() + "/results.sqlite"},
                       300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("check: predictions identical: 3 of 3 questions token for token"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ratio epalm/peer"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("decoder calls: 5 decoder calls: the prompt on 3 rows, then 9"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" GFLOP per batch, the peer "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" GB/s (2 threads): our matmuls take >= "), std::string::npos) << r.out;
}

// The fused job (one packed decoder pass for all variants) and the same cells
// one after another start from the same losses within the rounding bound, as
// do the peer's.
TEST(BenchSmoke, SweepFusedTrainsWhatTheCellsAloneTrain) {
  testing::TempDir dir;
  const auto r = epalm({"bench", "sweep-fused", "--batch", "1", "--tokens", "6", "--warmup", "0", "--repetitions", "1",
                        "--threads", "2", "--results", dir.path() + "/results.sqlite"},
                       300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("check: fused and one-after-another first losses agree"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("; first-step losses agree with the peer's"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ratio epalm/peer"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("x one cell's)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("encoder passes: frozen-feature cache"), std::string::npos) << r.out;
  const auto bad = epalm({"bench", "sweep-fused", "--variants", "3", "--peer", "off"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("--variants"), std::string::npos) << bad.err;
}

TEST(BenchSmoke, AMissingPythonIsAClearError) {
  const auto r = epalm({"bench", "opt-forward", "--model", fixture("pre_ln"), "--batch", "1", "--tokens", "4",
                        "--warmup", "0", "--repetitions", "1", "--python", "/nonexistent/python"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--python: '/nonexistent/python' is not an executable Python"), std::string::npos) << r.err;
}

}  // namespace epalm
