// `epalm model` and `epalm bench vit-forward` on the encoders as users run
// them: the real binary on the tiny checkpoints of tests/parity/make_{vit,
// timesformer,ast}_fixtures.py, its output files against transformers'
// expected outputs, `model info` on the presets, and input errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <functional>

#include "epalm/core/safetensors/checkpoint.h"
#include "../parity/forward_depth.h"
#include "process.h"

namespace epalm {

namespace {

testing::ProcessResult epalm(std::vector<std::string> args, int timeout = 120) {
  args.insert(args.begin(), EPALM_EXECUTABLE);
  return testing::run_process(args, timeout);
}

at::Tensor load(const std::string& file, const std::string& name) {
  return safetensors::SafetensorsFile(file).load(name);
}

// The longest chain of roundings to output `index` (-1: last_hidden_state)
// of `family`'s checkpoint in `dir` over `tokens` tokens (tests/parity/forward_depth.h).
using Depth = std::function<double(std::int64_t index, std::int64_t tokens)>;
Depth depth_of(const std::string& family, const std::string& dir, double extra = 0) {
  if (family == "vit") {
    const auto c = models::VitModel::from_pretrained(dir).config();
    return [c, extra](std::int64_t i, std::int64_t t) { return testing::vit_depth(c, t, i, false, extra); };
  }
  if (family == "timesformer") {
    const auto c = models::TimesformerModel::from_pretrained(dir).config();
    return [c](std::int64_t i, std::int64_t t) { return testing::timesformer_depth(c, t, i); };
  }
  const auto c = models::AstModel::from_pretrained(dir).config();
  return [c](std::int64_t i, std::int64_t t) { return testing::ast_depth(c, t, i); };
}

::testing::AssertionResult close(const at::Tensor& actual, const at::Tensor& expected, double depth,
                                 const std::string& what) {
  return testing::within(actual.to(torch::kFloat), expected,
                         torch::tensor(testing::forward_bound(expected, depth), torch::kDouble), what);
}

// Every hidden_state_<i> and last_hidden_state of `out` against `expected`
// (names prefixed by `prefix` there), each within the rounding bound of its
// depth; returns the number of hidden states.
int expect_same_outputs(const std::string& out, const std::string& expected, const Depth& depth,
                        const std::string& prefix = "") {
  safetensors::SafetensorsFile written(out);
  safetensors::SafetensorsFile reference(expected);
  const auto last = reference.load(prefix + "last_hidden_state");
  const auto tokens = last.size(1);
  int states = 0;
  while (reference.contains(prefix + "hidden_state_" + std::to_string(states))) {
    const auto name = "hidden_state_" + std::to_string(states);
    EXPECT_TRUE(written.contains(name)) << name;
    if (!written.contains(name)) return states;
    EXPECT_TRUE(close(written.load(name), reference.load(prefix + name), depth(states, tokens), name));
    ++states;
  }
  EXPECT_FALSE(written.contains("hidden_state_" + std::to_string(states)));
  EXPECT_TRUE(close(written.load("last_hidden_state"), last, depth(-1, tokens), "last_hidden_state"));
  return states;
}

struct Variant {
  std::string family;   // fixture folder
  std::string variant;  // checkpoint in it
  int layers;
};

void PrintTo(const Variant& v, std::ostream* os) { *os << v.family << "/" << v.variant; }

std::string fixture(const Variant& v) { return std::string(EPALM_FIXTURES) + "/" + v.family + "/" + v.variant; }

class EncoderRunParity : public ::testing::TestWithParam<Variant> {};

}  // namespace

TEST_P(EncoderRunParity, OutputFileMatchesTransformers) {
  testing::TempDir dir;
  const auto model = fixture(GetParam());
  const auto out = dir.path() + "/out.safetensors";
  const auto r = epalm({"model", "run", "--model", model, "--inputs", model + "/inputs.safetensors", "--output", out,
                        "--dtype", "fp32", "--device", "cpu", "--attention", "eager"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(expect_same_outputs(out, model + "/expected.safetensors", depth_of(GetParam().family, model)),
            GetParam().layers + 1);
  EXPECT_EQ(safetensors::SafetensorsFile(out).metadata().at("model"), model);
}

INSTANTIATE_TEST_SUITE_P(Families, EncoderRunParity,
                         ::testing::Values(Variant{"vit", "base", 3}, Variant{"vit", "timm", 4},
                                           Variant{"timesformer", "divided", 3},
                                           Variant{"timesformer", "frames_differ", 3},
                                           Variant{"ast", "strides_10", 3}),
                         [](const ::testing::TestParamInfo<Variant>& p) { return p.param.family + "_" + p.param.variant; });

TEST(EncoderCli, VitInterpolatesOtherImageSizes) {
  testing::TempDir dir;
  const auto model = fixture({"vit", "base", 3});
  const auto inputs = dir.path() + "/other.safetensors";
  safetensors::write_safetensors(inputs,
                                 {{"pixel_values", load(model + "/inputs.safetensors", "interpolated_pixel_values")}});
  const auto out = dir.path() + "/out.safetensors";
  const auto r = epalm({"model", "run", "--model", model, "--inputs", inputs, "--output", out, "--device", "cpu",
                        "--attention", "eager"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Bicubic interpolation of the positions: 16 weighted taps.
  EXPECT_EQ(expect_same_outputs(out, model + "/expected.safetensors", depth_of("vit", model, 16), "interpolated_"), 4);
}

TEST(EncoderCli, InfoOnEachFamilysPreset) {
  struct Case {
    std::string preset, family;
    std::int64_t parameters;  // transformers' count (ViTModel without pooler, TimesformerModel, ASTModel)
    std::string layers, hidden;
  };
  for (const auto& c : {Case{"google/vit-base-patch16-224", "vit", 85798656, "12", "768"},
                        Case{"timesformer-base", "timesformer", 121258752, "12", "768"},
                        Case{"ast-audioset", "audio-spectrogram-transformer", 86187264, "12", "768"}}) {
    const auto r = epalm({"model", "info", "--model", c.preset, "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << c.preset << ": " << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["family"], c.family) << c.preset;
    EXPECT_EQ(j["source"], "preset (random weights)") << c.preset;
    EXPECT_EQ(j["parameters"].get<std::int64_t>(), c.parameters) << c.preset;
    EXPECT_EQ(j["architecture"]["layers"], c.layers) << c.preset;
    EXPECT_EQ(j["architecture"]["hidden"], c.hidden) << c.preset;
    for (const auto& [dtype, bytes] : {std::pair{"fp32", 4}, {"bf16", 2}, {"fp16", 2}}) {
      EXPECT_EQ(j["memory"]["weights_bytes"][dtype].get<std::int64_t>(), bytes * c.parameters) << c.preset;
    }
    EXPECT_FALSE(j["memory"].contains("kv_cache_bytes_per_token")) << c.preset;
  }
  const auto text = epalm({"model", "info", "--model", "ast-audioset"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("12 x 101 (frequency x time)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("1214 ([CLS] + distillation + patches)"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("kv cache"), std::string::npos) << text.out;
}

TEST(EncoderCli, InfoOnCheckpointsAndTimmConfigs) {
  const auto r = epalm({"model", "info", "--model", fixture({"timesformer", "divided", 3}), "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["family"], "timesformer");
  EXPECT_EQ(j["architecture"]["frames"], "4");
  EXPECT_EQ(j["architecture"]["attention"], "divided_space_time");
  EXPECT_TRUE(j["checkpoint"]["stored_dtypes"].contains("F32"));

  // timm's own config.json has no model_type: it is a ViT.
  testing::TempDir dir;
  std::ofstream(dir.path() + "/config.json") << R"({"architecture": "vit_tiny_patch16_224.augreg_in21k",)"
                                             << R"( "num_classes": 0, "global_pool": "token"})";
  safetensors::write_safetensors(dir.path() + "/model.safetensors", {{"cls_token", torch::zeros({1, 1, 192})}});
  const auto timm = epalm({"model", "info", "--model", dir.path(), "--format", "json"});
  ASSERT_EQ(timm.exit_code, 0) << timm.err;
  const auto t = nlohmann::json::parse(timm.out);
  EXPECT_EQ(t["family"], "vit");
  EXPECT_EQ(t["architecture"]["hidden"], "192");
  EXPECT_EQ(t["architecture"]["layer norm"], "pre-LN, eps 1e-06");

  std::ofstream(dir.path() + "/config.json") << R"({"architecture": "resnet50"})";
  const auto other = epalm({"model", "info", "--model", dir.path()});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find(dir.path() + "/config.json: no \"model_type\""), std::string::npos) << other.err;
}

TEST(EncoderCli, RunsPresetsOnRandomWeights) {
  testing::TempDir dir;
  const auto inputs = dir.path() + "/in.safetensors";
  safetensors::write_safetensors(inputs, {{"pixel_values", torch::randn({1, 3, 224, 224})}});
  const auto out = dir.path() + "/out.safetensors";
  const auto r = epalm({"model", "run", "vit-base-patch16-224", "--inputs", inputs, "--output", out, "--dtype", "bf16",
                        "--device", "cpu"},
                       300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto last = load(out, "last_hidden_state");
  EXPECT_EQ(last.sizes(), (std::vector<std::int64_t>{1, 197, 768}));
  EXPECT_EQ(last.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::isfinite(last.to(torch::kFloat)).all().item<bool>());
  EXPECT_TRUE(safetensors::SafetensorsFile(out).contains("hidden_state_12"));
}

TEST(EncoderCli, BadInputFilesAreNamed) {
  testing::TempDir dir;
  const auto out = dir.path() + "/out.safetensors";
  auto expect_error = [&](const Variant& v, const std::string& name, const at::Tensor& tensor,
                          const std::string& message) {
    const auto inputs = dir.path() + "/" + v.family + "_bad.safetensors";
    safetensors::write_safetensors(inputs, {{name, tensor}});
    const auto r = epalm({"model", "run", "--model", fixture(v), "--inputs", inputs, "--output", out, "--device",
                          "cpu"});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(inputs + ": " + message), std::string::npos) << r.err;
  };
  const Variant vit{"vit", "base", 3}, video{"timesformer", "divided", 3}, audio{"ast", "strides_10", 3};
  expect_error(vit, "images", torch::zeros({1, 3, 32, 32}), "no tensor 'pixel_values' (the file holds: images)");
  expect_error(vit, "pixel_values", torch::zeros({1, 4, 32, 32}),
               "pixel_values has shape [1, 4, 32, 32], expected [batch, 3, height, width]");
  expect_error(vit, "pixel_values", torch::zeros({3, 32, 32}),
               "tensor 'pixel_values' has shape [3, 32, 32], expected 4 dimensions");
  expect_error(video, "pixel_values", torch::zeros({1, 3, 32, 32}),
               "tensor 'pixel_values' has shape [1, 3, 32, 32], expected 5 dimensions");
  expect_error(video, "pixel_values", torch::zeros({1, 4, 1, 32, 32}),
               "pixel_values has shape [1, 4, 1, 32, 32], expected [batch, frames, 3, height, width]");
  // 3 frames of 5 x 4 patches cannot be laid out as the config's 4 frames (nor can transformers).
  expect_error(video, "pixel_values", torch::zeros({1, 3, 3, 40, 32}), "TimeSformer forward: ");
  expect_error(audio, "input_values", torch::zeros({1, 63, 32}),
               "input_values has shape [1, 63, 32], expected [batch, 64 frames, 32 mel bins]");
  expect_error(audio, "input_values", torch::zeros({1, 64, 32}, torch::kLong),
               "tensor 'input_values' is I64, expected a floating-point type");
  EXPECT_FALSE(std::filesystem::exists(out));
}

// Not a benchmark: one tiny configuration checks vit-forward, its peer script
// and the ratio end to end.
TEST(BenchSmoke, VitForwardAgainstThePeerReportsARatio) {
  testing::TempDir dir;
  const auto record = dir.path() + "/record.json";
  const auto r = epalm({"bench", "vit-forward", "--model", fixture({"vit", "base", 3}), "--batch", "2", "--warmup",
                        "0", "--repetitions", "2", "--threads", "1", "--output", record},
                       300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ratio epalm/peer"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("images/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[CLS] outputs agree"), std::string::npos) << r.out;
  std::ifstream in(record);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["name"], "vit-forward");
  EXPECT_EQ(j["images_per_run"], 2);
  EXPECT_GT(j["ratio"]["time"].get<double>(), 0);
  EXPECT_EQ(j["ours"]["times_s"].size(), 2u);
  EXPECT_EQ(j["peer"]["threads"], 1);
  EXPECT_TRUE(j["peer"]["digest"].contains("cls_max_abs_error"));
  EXPECT_TRUE(j["outputs_agree"].get<bool>());  // within the ViT's rounding chain (models/rounding_bounds.h)
}

// `epalm bench data`: generated JPEGs through our loader and the PyTorch
// DataLoader peer, the encoder step, the record.
TEST(BenchSmoke, DataLoadingAgainstThePeerReportsARatio) {
  testing::TempDir dir;
  const auto record = dir.path() + "/record.json";
  const auto r = epalm({"bench", "data", "--samples", "6", "--batch", "4", "--loader-threads", "2", "--warmup", "0",
                        "--repetitions", "1", "--threads", "1", "--work-dir", dir.path(), "--output", record},
                       300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("PyTorch DataLoader"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("loader / encoder"), std::string::npos) << r.out;
  std::ifstream in(record);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["name"], "data");
  EXPECT_EQ(j["images_per_run"], 6);
  EXPECT_GT(j["ours"]["images_per_s"].get<double>(), 0);
  EXPECT_GT(j["ours"]["encoder_images_per_s"].get<double>(), 0);
  EXPECT_EQ(j["peer"]["digest"]["samples"], 6);
  EXPECT_TRUE(j["outputs_agree"].get<bool>());  // both passes yield every sample (the last batch short)
}

}  // namespace epalm
