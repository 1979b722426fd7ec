// OPT against Hugging Face transformers (tests/parity/make_opt_fixtures.py):
// the same tiny random checkpoints, the same inputs, the same outputs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "epalm/core/error.h"
#include "epalm/core/models/generation.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/safetensors/checkpoint.h"

#include "forward_depth.h"
#include "parity_util.h"

namespace epalm::models {

namespace {

std::string fixture(const std::string& variant) { return std::string(EPALM_OPT_FIXTURES) + "/" + variant; }

using testing::load;
using testing::opt_depth;

// Compares the positions that hold tokens (padded positions are free in HF
// too), within the rounding bound of `depth` on the compared values' scale.
void expect_close_on_tokens(const at::Tensor& actual, const at::Tensor& expected, const at::Tensor& mask,
                            double depth, const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  auto keep = mask.to(torch::kBool).unsqueeze(-1).expand_as(expected);
  const auto want = expected.masked_select(keep);
  EXPECT_TRUE(testing::within(actual.masked_select(keep), want,
                              torch::tensor(testing::forward_bound(want, depth), torch::kDouble), what));
}

class OptParity : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(OptParity, LogitsAndHiddenStatesMatchTransformers) {
  const auto dir = fixture(GetParam());
  const auto model = OptModel::from_pretrained(dir);
  const auto inputs = dir + "/inputs.safetensors";
  const auto expected = dir + "/expected.safetensors";
  const auto mask = load(inputs, "attention_mask");
  OptForwardOptions options;
  options.attention_mask = mask;
  options.output_hidden_states = true;
  torch::NoGradGuard no_grad;
  const auto out = model.forward(load(inputs, "input_ids"), options);
  const auto& c = model.config();
  const auto tokens = mask.size(1);
  expect_close_on_tokens(out.logits, load(expected, "logits"), mask, opt_depth(c, tokens, -1), "logits");
  ASSERT_EQ(static_cast<std::int64_t>(out.hidden_states.size()), c.num_layers + 1);
  for (size_t i = 0; i < out.hidden_states.size(); ++i) {
    expect_close_on_tokens(out.hidden_states[i], load(expected, "hidden_state_" + std::to_string(i)), mask,
                           opt_depth(c, tokens, static_cast<std::int64_t>(i)), "hidden state " + std::to_string(i));
  }
}

// Step-by-step decoding with the cache gives the logits of one full pass.
TEST_P(OptParity, CachedStepsEqualOneFullPass) {
  const auto dir = fixture(GetParam());
  const auto model = OptModel::from_pretrained(dir);
  const auto ids = load(dir + "/inputs.safetensors", "left_input_ids");
  const auto mask = load(dir + "/inputs.safetensors", "left_attention_mask");
  torch::NoGradGuard no_grad;
  OptForwardOptions full;
  full.attention_mask = mask;
  const auto reference = model.forward(ids, full).logits;

  KvCache cache;
  const std::int64_t first = 4;
  OptForwardOptions step;
  step.cache = &cache;
  step.attention_mask = mask.slice(1, 0, first);
  std::vector<at::Tensor> pieces = {model.forward(ids.slice(1, 0, first), step).logits};
  for (std::int64_t t = first; t < ids.size(1); ++t) {
    step.attention_mask = mask.slice(1, 0, t + 1);
    pieces.push_back(model.forward(ids.slice(1, t, t + 1), step).logits);
  }
  expect_close_on_tokens(torch::cat(pieces, 1), reference, mask, opt_depth(model.config(), ids.size(1), -1),
                         "cached logits");
}

// The fused kernel (the CUDA default) agrees with eager to fp32 rounding.
TEST_P(OptParity, SdpaKernelAgreesWithEager) {
  const auto dir = fixture(GetParam());
  const auto model = OptModel::from_pretrained(dir);
  const auto mask = load(dir + "/inputs.safetensors", "attention_mask");
  OptForwardOptions options;
  options.attention_mask = mask;
  options.attention_kernel = AttentionKernel::kSdpa;
  torch::NoGradGuard no_grad;
  const auto out = model.forward(load(dir + "/inputs.safetensors", "input_ids"), options);
  expect_close_on_tokens(out.logits, load(dir + "/expected.safetensors", "logits"), mask,
                         opt_depth(model.config(), mask.size(1), -1, /*fused=*/true), "sdpa logits");
}

INSTANTIATE_TEST_SUITE_P(Variants, OptParity, ::testing::Values("pre_ln", "post_ln_projected", "sharded"));

TEST(OptModel, PrefixEmbedsTakeNoPositionsAndShiftNothingElse) {
  const auto model = OptModel::from_pretrained(fixture("pre_ln"));
  torch::NoGradGuard no_grad;
  const auto ids = torch::tensor({{5, 9, 12, 30}});
  const auto plain = model.forward(ids).logits;
  OptForwardOptions with_prefix;
  with_prefix.prefix_embeds = torch::randn({1, 3, model.config().word_embed_proj_dim});
  const auto prefixed = model.forward(ids, with_prefix).logits;
  EXPECT_EQ(prefixed.size(1), 7);
  // The text attends to the prefix, so its logits change; their positions do not.
  // (By more than rounding: the bound of the logits' depth, tolerance.h.)
  const double depth = opt_depth(model.config(), 7, -1);
  EXPECT_GT(testing::max_abs_diff(prefixed.slice(1, 3), plain), testing::forward_bound(plain, depth));
  // Causal: the prefix's own logits ignore the text after it (the same
  // operations on fewer keys: within rounding).
  const auto alone = model.forward(ids.slice(1, 0, 1), with_prefix).logits;
  EXPECT_TRUE(testing::within(alone.slice(1, 0, 3), prefixed.slice(1, 0, 3),
                              torch::tensor(testing::forward_bound(prefixed.slice(1, 0, 3), depth), torch::kDouble),
                              "the prefix's logits"));
}

TEST(OptModel, HookSeesEveryLayerAndCanPrependATokenVisibleToLaterLayers) {
  const auto model = OptModel::from_pretrained(fixture("pre_ln"));
  torch::NoGradGuard no_grad;
  const auto ids = torch::tensor({{5, 9, 12, 30}});
  std::vector<int> seen;
  const auto token = torch::randn({1, 1, model.config().hidden_size});
  OptForwardOptions options;
  options.hook = [&](LayerInput& in) {
    seen.push_back(in.layer);
    if (in.layer != 1) return;
    in.hidden = torch::cat({token, in.hidden}, 1);
    in.attention_bias = torch::constant_pad_nd(in.attention_bias, {1, 0, 1, 0}, 0.0);
  };
  const auto out = model.forward(ids, options).logits;
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(out.size(1), 5);
  const auto plain = model.forward(ids).logits;
  EXPECT_GT(testing::max_abs_diff(out.slice(1, 1), plain),
            testing::forward_bound(plain, opt_depth(model.config(), 5, -1)));  // by more than rounding
}

TEST(OptModel, RejectsBadCheckpointsWithTheFileNamed) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / "epalm-opt-bad";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(fixture("pre_ln") + "/config.json", dir / "config.json");
  // A checkpoint missing one tensor and holding one of the wrong shape.
  const auto source = safetensors::Checkpoint(fixture("pre_ln"));
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& name : source.names()) {
    if (name == "model.decoder.layers.1.fc1.bias") continue;
    auto t = source.load(name);
    if (name == "model.decoder.layers.0.fc2.weight") t = t.narrow(1, 0, 4);
    tensors.emplace_back(name, t);
  }
  safetensors::write_safetensors((dir / "model.safetensors").string(), tensors);
  try {
    OptModel::from_pretrained(dir.string());
    FAIL() << "expected Error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("model.safetensors"), std::string::npos) << what;
    EXPECT_NE(what.find("decoder.layers.1.fc1.bias"), std::string::npos) << what;
    EXPECT_NE(what.find("decoder.layers.0.fc2.weight"), std::string::npos) << what;
  }
  fs::remove_all(dir);
}

TEST(OptConfig, PresetsCountTheirParameters) {
  // Frozen totals from the reference (docs/epalm.md, Architecture and counts).
  EXPECT_EQ(opt_parameter_count(OptConfig::preset("opt-2.7b")), 2651596800);
  EXPECT_EQ(opt_parameter_count(OptConfig::preset("facebook/opt-6.7b")), 6658473984);
  EXPECT_EQ(OptConfig::preset("opt-350m").has_projections(), true);
  EXPECT_EQ(OptConfig::preset("opt-350m").has_final_layer_norm(), false);
  EXPECT_THROW(OptConfig::preset("opt-7b"), UsageError);
}

TEST(OptConfig, MalformedConfigsNameTheFile) {
  namespace fs = std::filesystem;
  const auto path = (fs::temp_directory_path() / "epalm-opt-config.json").string();
  auto expect_error = [&](const std::string& text, const std::string& reason) {
    testing::expect_file_error(path, text, reason, [](const std::string& file) { OptConfig::from_json_file(file); });
  };
  expect_error("{\"hidden_size\": 30, \"num_attention_heads\": 4}", "divisible");
  expect_error("{\"hidden_size\": \"big\"}", "wrong type");
  expect_error("{\"model_type\": \"gpt2\"}", "not \"opt\"");
  expect_error("{\"activation_function\": \"mish\"}", "unsupported activation");
  expect_error("{not json", "malformed JSON");
  fs::remove(path);
}

}  // namespace epalm::models

namespace epalm {

namespace {

models::GenerationSettings settings_from(const nlohmann::json& j) {
  models::GenerationSettings s;
  s.num_beams = j.value("num_beams", 1);
  s.max_new_tokens = j.at("max_new_tokens").get<int>();
  s.length_penalty = j.value("length_penalty", 1.0);
  const auto early = j.value("early_stopping", nlohmann::json(false));
  if (early.is_string()) s.early_stopping = models::EarlyStopping::kNever;
  else if (early.get<bool>()) s.early_stopping = models::EarlyStopping::kWhenFull;
  return s;
}

class GenerationParity : public ::testing::TestWithParam<std::string> {};

}  // namespace

// Greedy and beam search produce transformers' sequences, token for token.
TEST_P(GenerationParity, SequencesMatchTransformers) {
  const auto dir = std::string(EPALM_OPT_FIXTURES) + "/" + GetParam();
  const auto model = models::OptModel::from_pretrained(dir);
  const safetensors::SafetensorsFile inputs(dir + "/inputs.safetensors");
  const safetensors::SafetensorsFile expected(dir + "/expected.safetensors");
  std::ifstream in(dir + "/generation.json");
  const auto runs = nlohmann::json::parse(in);
  ASSERT_FALSE(runs.empty());
  for (const auto& [name, settings] : runs.items()) {
    auto decoder = models::make_opt_step_decoder(model);
    const auto sequences = generate(*decoder, inputs.load("left_input_ids"), inputs.load("left_attention_mask"),
                                    settings_from(settings));
    const auto want = expected.load("generated_" + name);
    ASSERT_EQ(sequences.sizes(), want.sizes()) << name << "\n" << sequences << "\n" << want;
    EXPECT_TRUE(torch::equal(sequences, want)) << name << "\n" << sequences << "\n" << want;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, GenerationParity, ::testing::Values("pre_ln", "post_ln_projected", "sharded"));

TEST(Generation, RejectsBadSettings) {
  models::GenerationSettings s;
  s.num_beams = 0;
  EXPECT_THROW(s.validate(), UsageError);
  s = {};
  s.max_new_tokens = 0;
  EXPECT_THROW(s.validate(), UsageError);
}

// Random weights from a preset-like config: HF's initialisation, reproducible
// from the seed, and a checkpoint written from them (config.json from
// to_json, model.decoder.* names) loads back as the same model.
TEST(OptRandom, InitialisesLikeTransformersAndRoundTripsThroughACheckpoint) {
  models::OptConfig c;
  c.vocab_size = 96;
  c.hidden_size = 32;
  c.num_layers = 2;
  c.ffn_dim = 64;
  c.num_heads = 4;
  c.max_positions = 64;
  c.word_embed_proj_dim = 16;
  c.layer_norm_before = false;
  const auto model = models::OptModel::random(c, torch::kFloat, torch::kCPU, 7);
  const auto weights = model.weights();
  EXPECT_EQ(weights.size(), models::opt_tensor_shapes(c).size());
  const auto embed = weights.at("decoder.embed_tokens.weight");
  EXPECT_NEAR(embed.std().item<double>(), 0.02, 0.002);
  EXPECT_EQ(embed[c.pad_token_id].abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(weights.at("decoder.layers.0.fc1.bias"), torch::zeros({64})));
  EXPECT_TRUE(torch::equal(weights.at("decoder.layers.1.final_layer_norm.weight"), torch::ones({32})));
  EXPECT_TRUE(torch::equal(models::OptModel::random(c, torch::kFloat, torch::kCPU, 7).weights().at(
                               "decoder.layers.1.self_attn.q_proj.weight"),
                           weights.at("decoder.layers.1.self_attn.q_proj.weight")));
  EXPECT_FALSE(torch::equal(models::OptModel::random(c, torch::kFloat, torch::kCPU, 8).weights().at(
                                "decoder.layers.1.self_attn.q_proj.weight"),
                            weights.at("decoder.layers.1.self_attn.q_proj.weight")));
  // Every dtype gets the same draw, rounded.
  const auto half = models::OptModel::random(c, torch::kBFloat16, torch::kCPU, 7);
  EXPECT_TRUE(torch::equal(half.weights().at("decoder.project_in.weight"),
                           weights.at("decoder.project_in.weight").to(torch::kBFloat16)));

  const auto dir = (std::filesystem::temp_directory_path() / ("epalm-opt-random-" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/config.json") << c.to_json();
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, t] : weights) tensors.emplace_back("model." + name, t);
  safetensors::write_safetensors(dir + "/model.safetensors", tensors);
  const auto loaded = models::OptModel::from_pretrained(dir);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(loaded.config().word_embed_proj_dim, 16);
  EXPECT_FALSE(loaded.config().layer_norm_before);
  torch::NoGradGuard no_grad;
  const auto ids = torch::tensor({{5, 9, 12, 30}});
  EXPECT_TRUE(torch::equal(loaded.forward(ids).logits, model.forward(ids).logits));
}

}  // namespace epalm
