// TimeSformer, video preprocessing and frame sampling against Hugging Face
// transformers and eP-ALM's rules (tests/parity/make_timesformer_fixtures.py).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "bf16_stages.h"
#include "forward_depth.h"
#include "parity_util.h"
#include "epalm/core/error.h"
#include "epalm/core/models/timesformer.h"
#include "epalm/core/media/video_preprocessing.h"

namespace epalm::models {

namespace {

using testing::expect_close;
using testing::load;
using testing::max_abs_diff;

std::string fixture(const std::string& name) { return std::string(EPALM_TIMESFORMER_FIXTURES) + "/" + name; }

class TimesformerParity : public ::testing::TestWithParam<std::string> {};

// Every hidden state within the rounding bound of its depth (forward_depth.h).
void expect_matches(const TimesformerModel& model, const std::string& dir, bool fused, const std::string& tag) {
  torch::NoGradGuard no_grad;
  const auto out = model.forward(load(dir + "/inputs.safetensors", "pixel_values"), true);
  const auto expected = dir + "/expected.safetensors";
  const auto& c = model.config();
  const auto tokens = out.last_hidden_state.size(1);
  testing::expect_forward_close(out.last_hidden_state, load(expected, "last_hidden_state"),
                                testing::timesformer_depth(c, tokens, -1, fused), tag + " last_hidden_state");
  ASSERT_EQ(static_cast<std::int64_t>(out.hidden_states.size()), model.num_layers() + 1);
  for (size_t i = 0; i < out.hidden_states.size(); ++i) {
    testing::expect_forward_close(out.hidden_states[i], load(expected, "hidden_state_" + std::to_string(i)),
                                  testing::timesformer_depth(c, tokens, static_cast<std::int64_t>(i), fused),
                                  tag + " hidden_state_" + std::to_string(i));
  }
}

}  // namespace

TEST_P(TimesformerParity, EveryHiddenStateMatchesTransformersEager) {
  const auto model = TimesformerModel::from_pretrained(fixture(GetParam()));
  expect_matches(model, fixture(GetParam()), /*fused=*/false, "eager");
}

TEST_P(TimesformerParity, SdpaKernelAgreesWithEager) {
  auto model = TimesformerModel::from_pretrained(fixture(GetParam()));
  model.set_attention_kernel(AttentionKernel::kSdpa);
  expect_matches(model, fixture(GetParam()), /*fused=*/true, "sdpa");
}

INSTANTIATE_TEST_SUITE_P(Variants, TimesformerParity,
                         ::testing::Values("divided", "divided_patch4", "frames_differ", "taller_input", "joint",
                                           "space_only"));

// bf16 against HF in bf16, stage by stage (bf16_stages.h), each within the
// bound its roundings derive (forward_depth.h: timesformer_depth and
// timesformer_bf16_roundings).
TEST(TimesformerModel, Bf16MatchesTransformersBf16WithinItsRoundings) {
  const auto dir = fixture("divided");
  const auto model = TimesformerModel::from_pretrained(dir, c10::kBFloat16);
  EXPECT_EQ(model.dtype(), c10::kBFloat16);
  const auto pixels = load(dir + "/inputs.safetensors", "pixel_values");
  const auto& c = model.config();
  const auto tokens = 1 + c.num_frames * c.num_patches();
  testing::Chains chains{[&](std::int64_t i) { return testing::timesformer_depth(c, tokens, i); },
                         [&](std::int64_t i) { return testing::timesformer_bf16_roundings(c, i); }};
  testing::expect_bf16_stages_match(model, pixels, dir + "/expected.safetensors", "bf16_", chains, "bf16");
}

// Loading a 4-frame checkpoint for 2 frames resizes its time embeddings
// (nearest, the original TimeSformer's load) and runs a proper 2-frame model.
TEST(TimesformerModel, NumFramesAtLoadInterpolatesTimeEmbeddings) {
  const auto model = TimesformerModel::from_pretrained(fixture("frames_differ"), c10::kFloat, c10::kCPU, 2);
  EXPECT_EQ(model.config().num_frames, 2);
  expect_matches(model, fixture("resized_time"), /*fused=*/false, "resized");
}

TEST(TimesformerModel, HookSeesEveryBlockAndFinalNormGivesTheLastState) {
  const auto model = TimesformerModel::from_pretrained(fixture("divided"));
  torch::NoGradGuard no_grad;
  const auto pixels = load(fixture("divided") + "/inputs.safetensors", "pixel_values");
  std::vector<int> seen;
  const auto out = model.forward(pixels, true, [&](LayerInput& in) {
    seen.push_back(in.layer);
    EXPECT_FALSE(in.attention_bias.defined());
  });
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(torch::equal(model.final_norm(out.hidden_states.back()), out.last_hidden_state));
  EXPECT_THROW(model.forward(pixels, false, [](LayerInput& in) { in.hidden = in.hidden.slice(1, 1); }), Error);
}

TEST(TimesformerModel, RejectsBadInputShapes) {
  const auto model = TimesformerModel::from_pretrained(fixture("divided"));
  torch::NoGradGuard no_grad;
  EXPECT_THROW(model.forward(torch::zeros({2, 4, 3, 32})), Error);          // 4-D
  EXPECT_THROW(model.forward(torch::zeros({2, 4, 1, 32, 32})), Error);      // channels
  EXPECT_THROW(model.forward(torch::zeros({1, 4, 3, 4, 32})), Error);       // smaller than a patch
  // 40x32 pixels, 3 frames: 60 patch tokens are not config.num_frames (4) frames of rows of 4 (HF fails too)
  EXPECT_THROW(model.forward(torch::zeros({1, 3, 3, 40, 32})), Error);
  EXPECT_NO_THROW(model.forward(torch::zeros({1, 4, 3, 32, 32}, torch::kDouble)));  // converted
}

TEST(TimesformerModel, RandomWeightsAtAnyDtype) {
  TimesformerConfig config;
  config.image_size = 32;
  config.patch_size = 8;
  config.num_frames = 2;
  config.hidden_size = 16;
  config.num_heads = 2;
  config.num_layers = 2;
  config.intermediate_size = 32;
  for (auto dtype : {c10::kFloat, c10::kBFloat16, c10::kHalf}) {
    const auto model = TimesformerModel::random(config, dtype, c10::kCPU, 7);
    EXPECT_EQ(model.dtype(), dtype);
    torch::NoGradGuard no_grad;
    const auto out = model.forward(torch::randn({1, 2, 3, 32, 32}));
    EXPECT_EQ(out.last_hidden_state.sizes(), (std::vector<std::int64_t>{1, 33, 16}));
    EXPECT_TRUE(torch::isfinite(out.last_hidden_state).all().item<bool>());
  }
  // Same seed, same weights.
  const auto a = TimesformerModel::random(config, c10::kFloat, c10::kCPU, 3);
  const auto b = TimesformerModel::random(config, c10::kFloat, c10::kCPU, 3);
  const auto x = torch::randn({1, 2, 3, 32, 32});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(a.forward(x).last_hidden_state, b.forward(x).last_hidden_state));
}

TEST(TimesformerConfig, PresetCountsTheCheckpointsParameters) {
  // facebook/timesformer-base-finetuned-k400: 121,566,352 with its 400-way
  // classifier (docs/models.md), k600 121,720,152 with 600: both
  // 121,258,752 without.
  const auto config = TimesformerConfig::preset("facebook/timesformer-base-finetuned-k400");
  EXPECT_EQ(timesformer_parameter_count(config) + 400 * 768 + 400, 121566352);
  EXPECT_EQ(timesformer_parameter_count(TimesformerConfig::preset("timesformer-base")) + 600 * 768 + 600, 121720152);
  EXPECT_EQ(config.num_frames, 8);
  EXPECT_EQ(config.layer_norm_eps, 1e-6);
  const auto shapes = timesformer_tensor_shapes(config);
  EXPECT_EQ(shapes.at("embeddings.position_embeddings"), (std::vector<std::int64_t>{1, 197, 768}));
  EXPECT_EQ(shapes.at("embeddings.time_embeddings"), (std::vector<std::int64_t>{1, 8, 768}));
  EXPECT_EQ(shapes.at("encoder.layer.11.attention.attention.qkv.weight"), (std::vector<std::int64_t>{2304, 768}));
  EXPECT_THROW(TimesformerConfig::preset("timesformer-large"), UsageError);
}

TEST(TimesformerConfig, MalformedConfigsNameTheFile) {
  namespace fs = std::filesystem;
  const auto path = (fs::temp_directory_path() / "epalm-timesformer-config.json").string();
  auto expect_error = [&](const std::string& text, const std::string& reason) {
    testing::expect_file_error(path, text, reason, [](const std::string& file) { TimesformerConfig::from_json_file(file); });
  };
  expect_error("{\"hidden_size\": 30, \"num_attention_heads\": 4}", "divisible");
  expect_error("{\"num_frames\": \"eight\"}", "wrong type");
  expect_error("{\"num_frames\": 0}", "num_frames must be positive");
  expect_error("{\"model_type\": \"vit\"}", "not \"timesformer\"");
  expect_error("{\"attention_type\": \"axial\"}", "attention_type");
  expect_error("{\"hidden_act\": \"mish\"}", "hidden_act");
  expect_error("[1, 2]", "JSON object");
  expect_error("{not json", "malformed JSON");
  fs::remove(path);
  EXPECT_THROW(TimesformerConfig::from_json_file(path), Error);  // missing
}

TEST(TimesformerModel, MissingAndMisshapenWeightsAreNamed) {
  auto config = TimesformerConfig::from_json_file(fixture("divided") + "/config.json");
  auto weights = std::map<std::string, at::Tensor>{};
  for (const auto& [name, shape] : timesformer_tensor_shapes(config)) weights[name] = torch::zeros(shape);
  weights.erase("encoder.layer.1.temporal_dense.bias");
  weights["layernorm.weight"] = torch::zeros({3});
  try {
    TimesformerModel(config, weights);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("encoder.layer.1.temporal_dense.bias"), std::string::npos) << what;
    EXPECT_NE(what.find("layernorm.weight"), std::string::npos) << what;
  }
}

}  // namespace epalm::models

namespace epalm::media {

namespace {

std::string fixture(const std::string& name) { return std::string(EPALM_TIMESFORMER_FIXTURES) + "/" + name; }

}  // namespace

// eP-ALM 'middle' exactly; 'rand' one index inside each reference interval
// ([start, end - 1) as random.choice(range(start, end - 1)) draws), seeded.
TEST(FrameSampling, MatchesTheReferenceRules) {
  std::ifstream in(fixture("frame_indices.json"));
  const auto cases = nlohmann::json::parse(in);
  ASSERT_GT(cases.size(), 50u);
  for (const auto& c : cases) {
    const auto n = c.at("num_frames").get<std::int64_t>();
    const auto length = c.at("length").get<std::int64_t>();
    const auto what = "num_frames " + std::to_string(n) + ", length " + std::to_string(length);
    EXPECT_EQ(sample_frame_indices(n, length, FrameSampling::kMiddle),
              c.at("middle").get<std::vector<std::int64_t>>())
        << what;
    const auto intervals = c.at("intervals").get<std::vector<std::pair<std::int64_t, std::int64_t>>>();
    bool fits = true;
    for (const auto& [start, end] : intervals) fits = fits && end > start;
    for (std::uint64_t seed : {0u, 1u, 99u}) {
      const auto picked = sample_frame_indices(n, length, FrameSampling::kRandom, seed);
      ASSERT_EQ(static_cast<std::int64_t>(picked.size()), n) << what;
      EXPECT_EQ(picked, sample_frame_indices(n, length, FrameSampling::kRandom, seed)) << what;  // deterministic
      EXPECT_TRUE(std::is_sorted(picked.begin(), picked.end())) << what;
      for (size_t i = 0; i < picked.size(); ++i) {
        if (i >= intervals.size()) {
          EXPECT_EQ(picked[i], picked[intervals.size() - 1]) << what;  // padded with the last
        } else if (fits) {
          EXPECT_GE(picked[i], intervals[i].first) << what;
          EXPECT_LT(picked[i], intervals[i].second) << what;
        } else {
          EXPECT_LT(picked[i], length) << what;
        }
      }
    }
  }
}

TEST(FrameSampling, RandomCoversEachIntervalAndSeedsDiffer) {
  std::set<std::int64_t> first;
  for (std::uint64_t seed = 0; seed < 200; ++seed) first.insert(sample_frame_indices(4, 100, FrameSampling::kRandom, seed)[0]);
  // interval [0, 25): random.choice(range(0, 24)) draws 0..23
  EXPECT_EQ(*first.begin(), 0);
  EXPECT_EQ(*first.rbegin(), 23);
  EXPECT_GT(first.size(), 20u);
  EXPECT_NE(sample_frame_indices(8, 1000, FrameSampling::kRandom, 1),
            sample_frame_indices(8, 1000, FrameSampling::kRandom, 2));
}

TEST(FrameSampling, RejectsEmptyVideosAndBadNames) {
  EXPECT_THROW(sample_frame_indices(8, 0, FrameSampling::kMiddle), Error);
  EXPECT_THROW(sample_frame_indices(0, 10, FrameSampling::kMiddle), Error);
  EXPECT_EQ(parse_frame_sampling("rand"), FrameSampling::kRandom);
  EXPECT_EQ(parse_frame_sampling("middle"), FrameSampling::kMiddle);
  EXPECT_THROW(parse_frame_sampling("uniform"), UsageError);
}

class VideoPreprocessParity : public ::testing::TestWithParam<std::string> {};

// HF resizes with PIL (bilinear, antialiased, 22-bit fixed point, uint8
// between passes), which preprocess_video reproduces bit for bit; rescale and
// normalize are the same float64/float32 operations. So the bound is float32
// rounding: 1e-6 (LibTorch's own antialiased bilinear, by contrast, is off by
// up to 2 levels on a few percent of pixels).
TEST_P(VideoPreprocessParity, MatchesVideoMAEImageProcessor) {
  const auto file = fixture("video/" + GetParam() + ".safetensors");
  const auto config = VideoPreprocessConfig::from_json_file(fixture("video/" + GetParam() + "/preprocessor_config.json"));
  const auto frames = testing::load(file, "frames");
  const auto expected = testing::load(file, "pixels");
  const auto actual = preprocess_video(frames, config);
  ASSERT_EQ(actual.sizes(), expected.sizes());
  const auto diff = (actual - expected).abs();
  const double max_diff = diff.max().item<double>();
  const double off = (diff > 1e-6).to(torch::kDouble).mean().item<double>();
  EXPECT_LE(max_diff, 1e-6) << GetParam();
  EXPECT_EQ(off, 0.0) << GetParam();
  RecordProperty("max_abs_diff", std::to_string(max_diff));
  RecordProperty("fraction_off", std::to_string(off));
}

INSTANTIATE_TEST_SUITE_P(Cases, VideoPreprocessParity,
                         ::testing::Values("landscape", "portrait_noise", "square", "upscale", "pad_crop"));

TEST(VideoPreprocess, RejectsBadFramesAndConfigs) {
  EXPECT_THROW(preprocess_video(torch::zeros({2, 8, 8, 3})), Error);                  // float
  EXPECT_THROW(preprocess_video(torch::zeros({8, 8, 3}, torch::kByte)), Error);       // 3-D
  EXPECT_THROW(preprocess_video(torch::zeros({2, 3, 8, 8}, torch::kByte)), Error);    // channels first
  EXPECT_THROW(preprocess_video(torch::zeros({0, 8, 8, 3}, torch::kByte)), Error);    // no frames
  namespace fs = std::filesystem;
  const auto path = (fs::temp_directory_path() / "epalm-preprocessor_config.json").string();
  std::ofstream(path) << "{\"resample\": 3}";
  EXPECT_THROW(VideoPreprocessConfig::from_json_file(path), Error);
  std::ofstream(path) << "{\"image_mean\": [0.5, 0.5]}";
  EXPECT_THROW(VideoPreprocessConfig::from_json_file(path), Error);
  std::ofstream(path) << "{\"size\": {\"longest_edge\": 3}}";
  EXPECT_THROW(VideoPreprocessConfig::from_json_file(path), Error);
  fs::remove(path);
}

TEST(VideoPreprocess, ResizesTheShortestEdgeLikeTransformers) {
  VideoPreprocessConfig config;
  EXPECT_EQ(resized_size(240, 320, config), (std::array<std::int64_t, 2>{224, 298}));
  EXPECT_EQ(resized_size(320, 240, config), (std::array<std::int64_t, 2>{298, 224}));
  EXPECT_EQ(resized_size(360, 640, config), (std::array<std::int64_t, 2>{224, 398}));
  const auto out = preprocess_video(torch::full({3, 240, 320, 3}, 255, torch::kByte));
  EXPECT_EQ(out.sizes(), (std::vector<std::int64_t>{3, 3, 224, 224}));
  EXPECT_NEAR(out.max().item<double>(), (1.0 - 0.45) / 0.225, 1e-5);
}

}  // namespace epalm::media
