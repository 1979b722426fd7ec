// ViT against Hugging Face transformers (tests/parity/make_vit_fixtures.py):
// tiny random checkpoints saved as ViTModel, ViTForImageClassification and
// under timm's names; the same pixel values; every hidden state.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "epalm/core/error.h"
#include "epalm/core/models/vit.h"
#include "epalm/core/safetensors/checkpoint.h"

#include "forward_depth.h"
#include "parity_util.h"

namespace epalm::models {

namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& variant) { return std::string(EPALM_VIT_FIXTURES) + "/" + variant; }

using testing::load;

double max_error(const at::Tensor& actual, const at::Tensor& expected) {
  EXPECT_EQ(actual.sizes(), expected.sizes());
  return (actual.to(torch::kDouble) - expected.to(torch::kDouble)).abs().max().item<double>();
}

// Compares an output and every hidden state with the fixture's `prefix` set,
// each within the rounding bound of its depth (forward_depth.h; `extra`
// roundings before the blocks).
void expect_matches(const EncoderOutput& out, const std::string& expected_file, const std::string& prefix,
                    const VitConfig& c, bool fused, double extra = 0) {
  const auto tokens = out.last_hidden_state.size(1);
  testing::expect_forward_close(out.last_hidden_state, load(expected_file, prefix + "last_hidden_state"),
                                testing::vit_depth(c, tokens, -1, fused, extra),
                                expected_file + " " + prefix + "last_hidden_state");
  ASSERT_EQ(static_cast<std::int64_t>(out.hidden_states.size()), c.num_layers + 1);
  for (std::int64_t i = 0; i <= c.num_layers; ++i) {
    const auto name = prefix + "hidden_state_" + std::to_string(i);
    testing::expect_forward_close(out.hidden_states[i], load(expected_file, name),
                                  testing::vit_depth(c, tokens, i, fused, extra), expected_file + " " + name);
  }
}

class VitParity : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(VitParity, EveryHiddenStateMatchesTransformersInFp32) {
  const auto dir = fixture(GetParam());
  const auto model = VitModel::from_pretrained(dir);
  torch::NoGradGuard no_grad;
  VitForwardOptions options;
  options.output_hidden_states = true;
  options.attention_kernel = AttentionKernel::kEager;
  const auto out = model.forward(load(dir + "/inputs.safetensors", "pixel_values"), options);
  expect_matches(out, dir + "/expected.safetensors", "", model.config(), /*fused=*/false);
}

// The fused kernel (the CUDA default) against HF's eager outputs.
TEST_P(VitParity, SdpaKernelAgreesWithEager) {
  const auto dir = fixture(GetParam());
  const auto model = VitModel::from_pretrained(dir);
  torch::NoGradGuard no_grad;
  VitForwardOptions options;
  options.output_hidden_states = true;
  options.attention_kernel = AttentionKernel::kSdpa;
  const auto out = model.forward(load(dir + "/inputs.safetensors", "pixel_values"), options);
  expect_matches(out, dir + "/expected.safetensors", "", model.config(), /*fused=*/true);
}

// bf16 weights and activations against HF run in bf16. Both run the same
// LibTorch CPU kernels in the same order, so the results agree to within
// one bf16 rounding step of the largest activation (2^-8 relative: values
// here reach ~10, so 0.0625); in practice they are nearly always equal.
TEST_P(VitParity, Bf16MatchesTransformersInBf16) {
  const auto dir = fixture(GetParam());
  const auto model = VitModel::from_pretrained(dir, torch::kBFloat16);
  EXPECT_EQ(model.dtype(), torch::kBFloat16);
  torch::NoGradGuard no_grad;
  VitForwardOptions options;
  options.output_hidden_states = true;
  options.attention_kernel = AttentionKernel::kEager;
  const auto out = model.forward(load(dir + "/inputs.safetensors", "pixel_values"), options);
  const auto expected = dir + "/expected.safetensors";
  double worst = 0;
  auto check = [&](const at::Tensor& actual, const std::string& name) {
    const auto want = load(expected, name);
    const double scale = want.abs().max().item<double>();
    const double err = max_error(actual, want);
    worst = std::max(worst, err / scale);
    EXPECT_LE(err, scale * std::pow(2.0, -8)) << name << " (max |value| " << scale << ")";
  };
  check(out.last_hidden_state, "bf16_last_hidden_state");
  ASSERT_EQ(static_cast<std::int64_t>(out.hidden_states.size()), model.num_layers() + 1);
  for (std::int64_t i = 0; i <= model.num_layers(); ++i) {
    check(out.hidden_states[i], "bf16_hidden_state_" + std::to_string(i));
  }
  RecordProperty("bf16_worst_relative_error", std::to_string(worst));
  std::cout << GetParam() << ": bf16 worst error relative to max |value|: " << worst << "\n";
}

INSTANTIATE_TEST_SUITE_P(Variants, VitParity, ::testing::Values("base", "classifier", "timm"));

// Another input size: position embeddings interpolated bicubically as HF's
// interpolate_pos_encoding (both a larger non-square and a smaller input).
TEST(VitModel, InterpolatedPositionEmbeddingsMatchTransformers) {
  for (const std::string variant : {"base", "timm"}) {
    const auto dir = fixture(variant);
    const auto model = VitModel::from_pretrained(dir);
    torch::NoGradGuard no_grad;
    VitForwardOptions options;
    options.output_hidden_states = true;
    options.interpolate_pos_encoding = true;
    options.attention_kernel = AttentionKernel::kEager;
    const auto pixels = load(dir + "/inputs.safetensors", "interpolated_pixel_values");
    const auto out = model.forward(pixels, options);
    // Bicubic interpolation: 16 weighted taps per position embedding.
    expect_matches(out, dir + "/expected.safetensors", "interpolated_", model.config(), /*fused=*/false, 16);
    // Without the option another size is an error, as in HF.
    try {
      model.forward(pixels);
      FAIL() << "expected Error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("interpolate_pos_encoding"), std::string::npos) << e.what();
    }
  }
}

// Encoder interface: the hook runs before every block and can change the
// stream; hidden states record what each block received; final_norm is the
// LayerNorm giving last_hidden_state.
TEST(VitModel, EncoderInterfaceHookAndFinalNorm) {
  const auto model = VitModel::from_pretrained(fixture("base"));
  const Encoder& encoder = model;
  torch::NoGradGuard no_grad;
  const auto pixels = load(fixture("base") + "/inputs.safetensors", "pixel_values");
  EXPECT_EQ(encoder.hidden_size(), 32);
  EXPECT_EQ(encoder.num_layers(), 3);
  const auto plain = encoder.forward(pixels, true);
  EXPECT_TRUE(torch::equal(encoder.final_norm(plain.hidden_states.back()), plain.last_hidden_state));
  EXPECT_EQ(plain.last_hidden_state.sizes(), (std::vector<std::int64_t>{2, 17, 32}));

  std::vector<int> seen;
  const auto changed = encoder.forward(pixels, true, [&](LayerInput& in) {
    seen.push_back(in.layer);
    EXPECT_FALSE(in.attention_bias.defined());
    EXPECT_EQ(in.past_length, 0);
    if (in.layer == 2) in.hidden = in.hidden * 0;
  });
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(torch::equal(changed.hidden_states[1], plain.hidden_states[1]));
  EXPECT_EQ(changed.hidden_states[2].abs().max().item<float>(), 0.0f);
  EXPECT_FALSE(torch::allclose(changed.last_hidden_state, plain.last_hidden_state));

  // Gradients reach the pixels, never the frozen weights.
  torch::AutoGradMode grad(true);
  auto input = pixels.clone().requires_grad_(true);
  encoder.forward(input).last_hidden_state.sum().backward();
  EXPECT_TRUE(input.grad().defined());
}

TEST(VitModel, RandomWeightsAtAnyDtype) {
  auto config = VitConfig::preset("vit-base-patch16-224");
  config.num_layers = 2;  // keep the test light
  const auto model = VitModel::random(config, torch::kBFloat16, torch::kCPU, 7);
  EXPECT_EQ(model.dtype(), torch::kBFloat16);
  torch::NoGradGuard no_grad;
  const auto out = model.forward(torch::randn({1, 3, 224, 224}));
  EXPECT_EQ(out.last_hidden_state.sizes(), (std::vector<std::int64_t>{1, 197, 768}));
  EXPECT_EQ(out.last_hidden_state.scalar_type(), torch::kBFloat16);
  // The seed decides the weights.
  const auto again = VitModel::random(config, torch::kBFloat16, torch::kCPU, 7).forward(torch::ones({1, 3, 224, 224}));
  EXPECT_TRUE(torch::equal(again.last_hidden_state, model.forward(torch::ones({1, 3, 224, 224})).last_hidden_state));
}

TEST(VitModel, RejectsBadPixelValues) {
  const auto model = VitModel::from_pretrained(fixture("base"));
  torch::NoGradGuard no_grad;
  auto expect_error = [&](const at::Tensor& pixels, const std::string& reason) {
    try {
      model.forward(pixels);
      FAIL() << "expected Error: " << reason;
    } catch (const Error& e) {
      EXPECT_EQ(e.where(), "ViT forward");
      EXPECT_NE(e.reason().find(reason), std::string::npos) << e.what();
    }
  };
  expect_error(torch::randn({3, 32, 32}), "[batch, channels, height, width]");
  expect_error(torch::randn({1, 1, 32, 32}), "1 channels");
  expect_error(torch::zeros({1, 3, 32, 32}, torch::kUInt8), "floating point");
  expect_error(torch::randn({1, 3, 32, 40}), "doesn't match");
  VitForwardOptions interpolate;
  interpolate.interpolate_pos_encoding = true;
  EXPECT_THROW(model.forward(torch::randn({1, 3, 4, 40}), interpolate), Error);
}

namespace {

// A copy of a fixture directory with its weights rewritten by `edit`.
std::string edited_copy(const std::string& variant, const std::string& name,
                        const std::function<bool(const std::string&, at::Tensor&)>& edit) {
  const auto dir = fs::temp_directory_path() / ("epalm-vit-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(fixture(variant) + "/config.json", dir / "config.json");
  const safetensors::Checkpoint source(fixture(variant));
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& tensor : source.names()) {
    auto t = source.load(tensor);
    if (edit(tensor, t)) tensors.emplace_back(tensor, t);
  }
  safetensors::write_safetensors((dir / "model.safetensors").string(), tensors);
  return dir.string();
}

void expect_load_error(const std::string& dir, const std::vector<std::string>& mentions) {
  try {
    VitModel::from_pretrained(dir);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const auto& m : mentions) EXPECT_NE(what.find(m), std::string::npos) << what;
  }
  fs::remove_all(dir);
}

}  // namespace

TEST(VitModel, RejectsMissingAndMisshapedTensorsNamingTheFile) {
  // HF names under the "vit." prefix.
  expect_load_error(edited_copy("classifier", "hf-bad",
                                [](const std::string& n, at::Tensor& t) {
                                  if (n == "vit.encoder.layer.1.intermediate.dense.bias") return false;
                                  if (n == "vit.encoder.layer.0.output.dense.weight") t = t.narrow(1, 0, 4);
                                  return true;
                                }),
                    {"model.safetensors", "encoder.layer.1.intermediate.dense.bias",
                     "encoder.layer.0.output.dense.weight"});
  // timm names: the fused qkv of the wrong size, a block missing.
  expect_load_error(edited_copy("timm", "timm-bad",
                                [](const std::string& n, at::Tensor& t) {
                                  if (n.rfind("blocks.3.", 0) == 0) return false;
                                  if (n == "blocks.0.attn.qkv.weight") t = t.narrow(0, 0, 64);
                                  return true;
                                }),
                    {"model.safetensors", "blocks.3.mlp.fc1.weight", "blocks.0.attn.qkv.weight"});
  // A checkpoint for another architecture (position embeddings of another grid).
  expect_load_error(edited_copy("base", "pos-bad",
                                [](const std::string& n, at::Tensor& t) {
                                  if (n == "embeddings.position_embeddings") t = t.narrow(1, 0, 10);
                                  return true;
                                }),
                    {"model.safetensors", "embeddings.position_embeddings", "[1, 17, 32]"});
}

TEST(VitModel, IgnoresPoolerAndHeadsCleanly) {
  // base holds pooler.dense.*, classifier holds classifier.*, timm holds head.*:
  // all loaded above; here the loaded models drop them and still match HF names.
  for (const std::string variant : {"base", "classifier", "timm"}) {
    const safetensors::Checkpoint checkpoint(fixture(variant));
    const auto model = VitModel::from_pretrained(fixture(variant));
    EXPECT_EQ(model.num_layers(), model.config().num_layers);
  }
  EXPECT_TRUE(safetensors::Checkpoint(fixture("base")).contains("pooler.dense.weight"));
  EXPECT_TRUE(safetensors::Checkpoint(fixture("timm")).contains("head.weight"));
}

TEST(VitConfig, PresetsAndParameterCounts) {
  // ViT-B/16 backbone without pooler/head: 85,798,656 (timm's vit_base_patch16_224
  // has 86,567,656 with its 1000-class head: 768*1000 + 1000 more).
  EXPECT_EQ(vit_parameter_count(VitConfig::preset("vit-base-patch16-224")), 86567656 - 769000);
  EXPECT_EQ(vit_parameter_count(VitConfig::preset("google/vit-large-patch16-224")), 304326632 - 1025000);
  EXPECT_EQ(VitConfig::preset("vit_base_patch16_224").layer_norm_eps, 1e-6);
  EXPECT_EQ(VitConfig::preset("timm/vit_large_patch16_224.augreg_in21k_ft_in1k").hidden_size, 1024);
  EXPECT_EQ(VitConfig::preset("vit-base-patch16-224-in21k").layer_norm_eps, 1e-12);
  EXPECT_EQ(VitConfig::preset("vit-base-patch16-224").num_positions(), 197);
  EXPECT_THROW(VitConfig::preset("vit-giant"), UsageError);
  EXPECT_EQ(vit_timm_tensor_shapes(VitConfig::preset("vit-base-patch16-224")).at("blocks.11.attn.qkv.weight"),
            (std::vector<std::int64_t>{2304, 768}));
}

namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  const auto path = (fs::temp_directory_path() / name).string();
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST(VitConfig, ReadsTimmConfigJson) {
  const auto path = write_temp("epalm-vit-timm-config.json", R"({
    "architecture": "vit_large_patch16_224", "num_classes": 1000, "num_features": 1024, "global_pool": "token",
    "pretrained_cfg": {"tag": "augreg_in21k_ft_in1k", "input_size": [3, 224, 224], "interpolation": "bicubic",
                       "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "crop_pct": 0.9}})");
  const auto c = VitConfig::from_json_file(path);
  const auto want = VitConfig::preset("vit_large_patch16_224");
  EXPECT_EQ(c.hidden_size, want.hidden_size);
  EXPECT_EQ(c.num_layers, 24);
  EXPECT_EQ(c.layer_norm_eps, 1e-6);
  EXPECT_EQ(vit_parameter_count(c), vit_parameter_count(want));
  fs::remove(path);
}

TEST(VitConfig, MalformedConfigsNameTheFile) {
  const auto path = (fs::temp_directory_path() / "epalm-vit-config.json").string();
  auto expect_error = [&](const std::string& text, const std::string& reason) {
    testing::expect_file_error(path, text, reason, [](const std::string& file) { VitConfig::from_json_file(file); });
  };
  expect_error("{\"hidden_size\": 30, \"num_attention_heads\": 4}", "divisible");
  expect_error("{\"hidden_size\": \"big\"}", "wrong type");
  expect_error("{\"model_type\": \"opt\"}", "not \"vit\"");
  expect_error("{\"hidden_act\": \"mish\"}", "unsupported hidden_act");
  expect_error("{\"image_size\": [224, 160]}", "square");
  expect_error("{\"patch_size\": 0}", "patch_size must be positive");
  expect_error("{\"image_size\": 8, \"patch_size\": 16}", "exceeds image_size");
  expect_error("{\"architecture\": \"deit_base_patch16_224\"}", "not a plain ViT");
  expect_error("{\"architecture\": \"vit_base_patch16_224\", \"global_pool\": \"avg\"}", "global_pool");
  expect_error("{\"architecture\": \"vit_base_patch16_224\", \"model_args\": {\"class_token\": false}}",
               "model_args 'class_token'");
  expect_error("[1, 2]", "JSON object");
  expect_error("{not json", "malformed JSON");
  fs::remove(path);
  try {
    VitConfig::from_json_file(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(e.reason().find("cannot open"), std::string::npos);
  }
}

}  // namespace epalm::models
