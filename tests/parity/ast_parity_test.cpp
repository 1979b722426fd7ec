// AST and its audio frontend against Hugging Face transformers and
// torchaudio's Kaldi fbank (tests/parity/make_ast_fixtures.py).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "bf16_stages.h"
#include "forward_depth.h"
#include "parity_util.h"
#include "epalm/core/media/audio_features.h"
#include "epalm/core/error.h"
#include "epalm/core/models/ast.h"

namespace epalm::models {

namespace {

using testing::expect_close;
using testing::load;
using testing::max_abs_diff;

std::string fixture(const std::string& name) { return std::string(EPALM_AST_FIXTURES) + "/" + name; }

class AstParity : public ::testing::TestWithParam<std::string> {};

// Every output within the rounding bound of its depth (forward_depth.h).
void expect_matches(const AstModel& model, const std::string& dir, bool fused, const std::string& tag) {
  torch::NoGradGuard no_grad;
  const auto out = model.forward(load(dir + "/inputs.safetensors", "input_values"), true);
  const auto expected = dir + "/expected.safetensors";
  const auto& c = model.config();
  const auto tokens = out.last_hidden_state.size(1);
  const double last = testing::ast_depth(c, tokens, -1, fused);
  testing::expect_forward_close(out.last_hidden_state, load(expected, "last_hidden_state"), last,
                                tag + " last_hidden_state");
  testing::expect_forward_close(AstModel::pool(out.last_hidden_state), load(expected, "pooler_output"), last + 2,
                                tag + " pooler_output");
  ASSERT_EQ(static_cast<std::int64_t>(out.hidden_states.size()), model.num_layers() + 1);
  for (size_t i = 0; i < out.hidden_states.size(); ++i) {
    testing::expect_forward_close(out.hidden_states[i], load(expected, "hidden_state_" + std::to_string(i)),
                                  testing::ast_depth(c, tokens, static_cast<std::int64_t>(i), fused),
                                  tag + " hidden_state_" + std::to_string(i));
  }
}

}  // namespace

TEST_P(AstParity, EveryHiddenStateMatchesTransformersEager) {
  const auto model = AstModel::from_pretrained(fixture(GetParam()));
  expect_matches(model, fixture(GetParam()), /*fused=*/false, "eager");
}

TEST_P(AstParity, SdpaKernelAgreesWithEager) {
  auto model = AstModel::from_pretrained(fixture(GetParam()));
  model.set_attention_kernel(AttentionKernel::kSdpa);
  expect_matches(model, fixture(GetParam()), /*fused=*/true, "sdpa");
}

INSTANTIATE_TEST_SUITE_P(Variants, AstParity, ::testing::Values("strides_10", "overlap_6_4", "no_overlap"));

// bf16 against HF in bf16, stage by stage (bf16_stages.h), each within the
// bound its roundings derive (forward_depth.h: ast_depth and
// ast_bf16_roundings).
TEST(AstModel, Bf16MatchesTransformersBf16WithinItsRoundings) {
  const auto dir = fixture("strides_10");
  const auto model = AstModel::from_pretrained(dir, c10::kBFloat16);
  EXPECT_EQ(model.dtype(), c10::kBFloat16);
  const auto& c = model.config();
  testing::Chains chains{[&](std::int64_t i) { return testing::ast_depth(c, c.num_tokens(), i); },
                         [&](std::int64_t i) { return testing::ast_bf16_roundings(c, i); }};
  testing::expect_bf16_stages_match(model, load(dir + "/inputs.safetensors", "input_values"),
                                    dir + "/expected.safetensors", "bf16_", chains, "bf16");
}

TEST(AstModel, HookSeesEveryBlockAndTokensAreClsDistillationPatches) {
  const auto model = AstModel::from_pretrained(fixture("overlap_6_4"));
  const auto& c = model.config();
  EXPECT_EQ(c.frequency_patches(), (24 - 8) / 6 + 1);
  EXPECT_EQ(c.time_patches(), (50 - 8) / 4 + 1);
  torch::NoGradGuard no_grad;
  std::vector<int> seen;
  const auto out = model.forward(torch::zeros({1, 50, 24}), true, [&](LayerInput& in) { seen.push_back(in.layer); });
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(out.last_hidden_state.size(1), c.num_tokens());
  EXPECT_TRUE(torch::equal(model.final_norm(out.hidden_states.back()), out.last_hidden_state));
}

TEST(AstModel, RejectsInputsOfTheWrongShape) {
  const auto model = AstModel::from_pretrained(fixture("strides_10"));
  torch::NoGradGuard no_grad;
  EXPECT_THROW(model.forward(torch::zeros({2, 63, 32})), Error);  // time frames != max_length
  EXPECT_THROW(model.forward(torch::zeros({2, 64, 31})), Error);  // mel bins
  EXPECT_THROW(model.forward(torch::zeros({64, 32})), Error);     // no batch
}

TEST(AstModel, RandomWeightsAtAnyDtype) {
  AstConfig config;
  config.hidden_size = 16;
  config.num_heads = 2;
  config.num_layers = 2;
  config.intermediate_size = 32;
  config.max_length = 48;
  config.num_mel_bins = 32;
  for (auto dtype : {c10::kFloat, c10::kBFloat16, c10::kHalf}) {
    const auto model = AstModel::random(config, dtype);
    torch::NoGradGuard no_grad;
    const auto out = model.forward(torch::randn({2, 48, 32}));
    EXPECT_EQ(out.last_hidden_state.scalar_type(), dtype);
    EXPECT_EQ(out.last_hidden_state.size(1), config.num_tokens());
    EXPECT_TRUE(torch::isfinite(out.last_hidden_state).all().item<bool>());
  }
}

TEST(AstConfig, PresetCountsTheCheckpointsParameters) {
  // MIT/ast-finetuned-audioset-10-10-0.4593: ASTModel 86,187,264 parameters
  // (docs/models.md), 1214 tokens, position embeddings [1, 1214, 768].
  const auto config = AstConfig::preset("MIT/ast-finetuned-audioset-10-10-0.4593");
  EXPECT_EQ(ast_parameter_count(config), 86187264);
  EXPECT_EQ(config.num_tokens(), 1214);
  EXPECT_EQ(config.frequency_patches(), 12);
  EXPECT_EQ(config.time_patches(), 101);
  EXPECT_EQ(config.layer_norm_eps, 1e-12);
  // with the classifier (LayerNorm + 527-way dense): 86,594,063
  EXPECT_EQ(ast_parameter_count(config) + 2 * 768 + 527 * 768 + 527, 86594063);
  EXPECT_THROW(AstConfig::preset("ast-speechcommands"), UsageError);
}

TEST(AstConfig, MalformedConfigsNameTheFile) {
  namespace fs = std::filesystem;
  const auto path = (fs::temp_directory_path() / "epalm-ast-config.json").string();
  auto expect_error = [&](const std::string& text, const std::string& reason) {
    testing::expect_file_error(path, text, reason, [](const std::string& file) { AstConfig::from_json_file(file); });
  };
  expect_error("{\"hidden_size\": 30, \"num_attention_heads\": 4}", "divisible");
  expect_error("{\"time_stride\": 0}", "time_stride must be positive");
  expect_error("{\"max_length\": \"long\"}", "wrong type");
  expect_error("{\"model_type\": \"vit\"}", "not \"audio-spectrogram-transformer\"");
  expect_error("{\"patch_size\": 200}", "exceeds");
  expect_error("{not json", "malformed JSON");
  fs::remove(path);
}

}  // namespace epalm::models

namespace epalm::media {

namespace {

std::string fixture(const std::string& name) { return std::string(EPALM_AST_FIXTURES) + "/" + name; }

nlohmann::json audio_cases() {
  std::ifstream in(fixture("audio.json"));
  return nlohmann::json::parse(in);
}

}  // namespace

// Against torchaudio.compliance.kaldi.fbank itself: the same float32
// operations through the same FFT, so agreement is at float32 rounding.
TEST(KaldiFbank, MatchesTorchaudio) {
  const auto info = audio_cases();
  if (info.at("kaldi_reference").is_null()) {
    GTEST_SKIP() << "no torchaudio Kaldi reference in the fixture (torchaudio unusable with this torch; set "
                    "EPALM_TORCHAUDIO_KALDI to a torchaudio wheel or kaldi.py and rerun the fixture)";
  }
  RecordProperty("reference", info.at("kaldi_reference").get<std::string>());
  const safetensors::SafetensorsFile file(fixture("audio.safetensors"));
  for (const auto& c : info.at("cases")) {
    const auto name = c.get<std::string>();
    const auto wave = file.load("wave_" + name);
    const auto expected = file.load("fbank_" + name);
    const auto actual = kaldi_fbank(wave);
    ASSERT_EQ(actual.sizes(), expected.sizes()) << name;
    EXPECT_EQ(actual.size(0), fbank_frame_count(wave.size(0))) << name;
    testing::expect_close(actual, expected, 1e-4, "fbank " + name);
    if (file.contains("features_torchaudio_" + name)) {
      testing::expect_close(ast_features(wave), file.load("features_torchaudio_" + name), 1e-5,
                            "torchaudio-path features " + name);
    }
  }
}

// Against ASTFeatureExtractor as installed. Without torchaudio it runs its
// numpy path (float64 spectrogram, its own mel filters), which transformers
// itself holds to 1e-4 of torchaudio on speech; on low-energy bins of
// synthetic tones the log amplifies the difference (torchaudio vs numpy path
// differ by up to ~1.2e-3 on the chirp here). Bound: 2e-3 per value, mean
// below 1e-5.
TEST(AstFeatures, MatchASTFeatureExtractor) {
  const auto info = audio_cases();
  RecordProperty("extractor_path", info.at("extractor_path").get<std::string>());
  const safetensors::SafetensorsFile file(fixture("audio.safetensors"));
  const bool numpy_path = info.at("extractor_path") == "numpy";
  for (const auto& c : info.at("cases")) {
    const auto name = c.get<std::string>();
    const auto wave = file.load("wave_" + name);
    const auto expected = file.load("features_" + name);
    const auto actual = ast_features(wave);
    ASSERT_EQ(actual.sizes(), (std::vector<std::int64_t>{1024, 128})) << name;
    testing::expect_close(actual, expected, numpy_path ? 2e-3 : 1e-4, "features " + name);
    EXPECT_LE((actual - expected).abs().mean().item<double>(), 1e-5) << name;
  }
}

TEST(AstFeatures, PadsShortAudioAndTruncatesLongAudio) {
  const auto wave = torch::randn({16000}) * 0.1;  // 1 s: 98 frames
  const auto features = ast_features(wave);
  EXPECT_EQ(fbank_frame_count(16000), 98);
  EXPECT_EQ(features.sizes(), (std::vector<std::int64_t>{1024, 128}));
  // Padded rows are zero before normalization: 4.2677393 / 9.1379948.
  EXPECT_NEAR(features[500][7].item<double>(), 4.2677393 / (2 * 4.5689974), 1e-6);
  EXPECT_TRUE(torch::equal(features.slice(0, 0, 98), (kaldi_fbank(wave) + 4.2677393) / (2 * 4.5689974)));
  const auto batch = ast_features(std::vector<at::Tensor>{wave, torch::randn({170000}) * 0.1, torch::zeros({400})});
  EXPECT_EQ(batch.sizes(), (std::vector<std::int64_t>{3, 1024, 128}));
  EXPECT_EQ(fbank_frame_count(164080), 1024);  // the first clip length filling all frames
}

TEST(AstFeatures, RejectsEmptyAndSubWindowAudio) {
  EXPECT_THROW(ast_features(torch::zeros({0})), Error);
  try {
    kaldi_fbank(torch::zeros({399}));
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("399 samples"), std::string::npos) << e.what();
  }
  EXPECT_THROW(kaldi_fbank(torch::zeros({2, 16000})), Error);  // stereo / batched
  EXPECT_THROW(ast_features(std::vector<at::Tensor>{}), Error);
  EXPECT_NO_THROW(kaldi_fbank(torch::zeros({16000}, torch::kShort)));  // integer PCM taken as values
}

TEST(KaldiMelBanks, HaveKaldisShape) {
  const auto banks = kaldi_mel_banks();
  EXPECT_EQ(banks.sizes(), (std::vector<std::int64_t>{128, 257}));
  EXPECT_EQ(banks.select(1, 256).abs().max().item<double>(), 0.0);  // Nyquist column
  EXPECT_GE(banks.min().item<double>(), 0.0);
  EXPECT_LE(banks.max().item<double>(), 1.0);
}

}  // namespace epalm::media
