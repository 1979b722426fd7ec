// Image preprocessing against Pillow and transformers' ViTImageProcessor
// (tests/parity/make_vit_fixtures.py): PIL's resize bit for bit, pixel values
// bit for bit.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "epalm/core/error.h"
#include "epalm/core/media/image_preprocessing.h"
#include "epalm/core/safetensors/checkpoint.h"

#include "parity_util.h"

namespace epalm {

namespace {

namespace fs = std::filesystem;

std::string images_dir() { return std::string(EPALM_VIT_FIXTURES) + "/images"; }

media::Resample filter_named(const std::string& name) {
  if (name == "box") return media::Resample::kBox;
  if (name == "bilinear") return media::Resample::kBilinear;
  if (name == "hamming") return media::Resample::kHamming;
  if (name == "bicubic") return media::Resample::kBicubic;
  return media::Resample::kLanczos;
}

}  // namespace

// Every filter, up and down, odd sizes, one axis only: Pillow's exact bytes.
TEST(ImagePreprocessing, ResizeEqualsPillowExactly) {
  const safetensors::SafetensorsFile images(images_dir() + "/images.safetensors");
  const safetensors::SafetensorsFile resized(images_dir() + "/resized.safetensors");
  int compared = 0;
  for (const auto& key : resized.names()) {
    const auto first = key.find('/');
    const auto second = key.find('/', first + 1);
    const auto image = images.load(key.substr(0, first));
    const auto filter = key.substr(first + 1, second - first - 1);
    const auto size = key.substr(second + 1);
    const auto height = std::stoll(size.substr(0, size.find('x')));
    const auto width = std::stoll(size.substr(size.find('x') + 1));
    const auto want = resized.load(key);
    const auto got = media::resize_like_pil(image, height, width, filter_named(filter));
    ASSERT_EQ(got.sizes(), want.sizes()) << key;
    EXPECT_TRUE(torch::equal(got, want)) << key << ": max difference "
                                         << (got.to(torch::kInt) - want.to(torch::kInt)).abs().max().item<int>();
    ++compared;
  }
  EXPECT_GE(compared, 100);
}

// ViTImageProcessor with its defaults and a custom preprocessor_config.json,
// and the eP-ALM eval transform: identical float32 pixel values.
TEST(ImagePreprocessing, PixelValuesEqualTransformersAndTheEpalmTransform) {
  const safetensors::SafetensorsFile images(images_dir() + "/images.safetensors");
  const safetensors::SafetensorsFile processed(images_dir() + "/processed.safetensors");
  const auto custom = media::ImagePreprocessing::from_json_file(images_dir() + "/custom/preprocessor_config.json");
  EXPECT_EQ(custom.height, 40);
  EXPECT_EQ(custom.width, 56);
  EXPECT_EQ(custom.resample, media::Resample::kBicubic);
  const auto saved_default = media::ImagePreprocessing::for_checkpoint(images_dir() + "/default", media::ImagePreprocessing::epalm_eval());
  EXPECT_EQ(saved_default.resample, media::Resample::kBilinear);  // read from the file, not the fallback
  const std::map<std::string, media::ImagePreprocessing> settings = {
      {"default", saved_default}, {"custom", custom}, {"epalm", media::ImagePreprocessing::epalm_eval()}};
  int compared = 0;
  for (const auto& key : processed.names()) {
    const auto slash = key.find('/');
    const auto image = images.load(key.substr(slash + 1));
    const auto got = media::preprocess_image(image, settings.at(key.substr(0, slash)));
    const auto want = processed.load(key);
    ASSERT_EQ(got.sizes(), want.sizes()) << key;
    EXPECT_EQ(got.scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::equal(got, want)) << key << ": max difference " << (got - want).abs().max().item<float>();
    ++compared;
  }
  EXPECT_EQ(compared, 24);
  // The built-in defaults are ViTImageProcessor's.
  const auto noise = images.load("noise_37x53");
  EXPECT_TRUE(torch::equal(media::preprocess_image(noise, media::ImagePreprocessing::vit_image_processor()),
                           processed.load("default/noise_37x53")));
  const auto batch = media::preprocess_images({noise, images.load("gradient_50x70")}, media::ImagePreprocessing::epalm_eval());
  EXPECT_EQ(batch.sizes(), (std::vector<std::int64_t>{2, 3, 224, 224}));
  EXPECT_TRUE(torch::equal(batch[1], processed.load("epalm/gradient_50x70")));
}

TEST(ImagePreprocessing, RejectsBadImagesNamingThem) {
  const auto p = media::ImagePreprocessing::vit_image_processor();
  auto expect_error = [&](const at::Tensor& image, const std::string& reason) {
    try {
      media::preprocess_image(image, p, "photo.jpg");
      FAIL() << "expected Error: " << reason;
    } catch (const Error& e) {
      EXPECT_EQ(e.where(), "photo.jpg");
      EXPECT_NE(e.reason().find(reason), std::string::npos) << e.what();
    }
  };
  expect_error(torch::zeros({3, 32, 32}, torch::kUInt8), "[height, width, 3]");
  expect_error(torch::zeros({32, 32, 4}, torch::kUInt8), "[height, width, 3]");
  expect_error(torch::zeros({32, 32}, torch::kUInt8), "[height, width, 3]");
  expect_error(torch::zeros({32, 32, 3}, torch::kFloat), "uint8");
  expect_error(torch::zeros({0, 32, 3}, torch::kUInt8), "empty");
  expect_error(at::Tensor(), "undefined");
  try {
    media::preprocess_images({torch::zeros({8, 8, 3}, torch::kUInt8), torch::zeros({8, 8, 2}, torch::kUInt8)}, p);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), "image 1");
  }
  auto unresized = p;
  unresized.do_resize = false;
  EXPECT_THROW(media::preprocess_images({torch::zeros({8, 8, 3}, torch::kUInt8), torch::zeros({9, 8, 3}, torch::kUInt8)},
                                 unresized),
               Error);
}

TEST(ImagePreprocessing, MalformedPreprocessorConfigsNameTheFile) {
  const auto path = (fs::temp_directory_path() / "epalm-preprocessor_config.json").string();
  auto expect_error = [&](const std::string& text, const std::string& reason) {
    testing::expect_file_error(path, text, reason, [](const std::string& file) { media::ImagePreprocessing::from_json_file(file); });
  };
  expect_error("{\"resample\": 0}", "resample 0 is unsupported");
  expect_error("{\"size\": {\"shortest_edge\": 224}}", "size must be");
  expect_error("{\"image_mean\": [0.5, 0.5]}", "image_mean");
  expect_error("{\"image_std\": [0.5, 0, 0.5]}", "image_std must not be 0");
  expect_error("{\"image_processor_type\": \"CLIPImageProcessor\"}", "unsupported");
  expect_error("{\"do_center_crop\": true}", "do_center_crop");
  expect_error("{\"do_resize\": \"yes\"}", "wrong type");
  expect_error("{\"size\": {\"height\": 0, \"width\": 4}}", "must be positive");
  expect_error("{oops", "malformed JSON");
  // An integer size and scalar mean/std, as older ViTFeatureExtractor configs.
  std::ofstream(path) << R"({"feature_extractor_type": "ViTFeatureExtractor", "size": 384, "image_mean": 0.5})";
  const auto p = media::ImagePreprocessing::from_json_file(path);
  EXPECT_EQ(p.height, 384);
  EXPECT_EQ(p.width, 384);
  fs::remove(path);
}

}  // namespace epalm
