// Decoding and preprocessing against the Python pipeline on the fixtures
// (tests/parity/make_data_fixtures.py): Pillow's decoded images and the
// reference's image transforms, PyAV's frames and torchvision's tensor
// resize, soundfile's waveforms and ASTFeatureExtractor's features.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "epalm/core/error.h"
#include "epalm/core/media/media.h"
#include "epalm/core/media/media_inputs.h"
#include "epalm/core/safetensors/checkpoint.h"

namespace epalm {
namespace {

const std::string kFixtures = EPALM_DATA_FIXTURES;

nlohmann::json expected() {
  std::ifstream in(kFixtures + "/expected.json");
  return nlohmann::json::parse(in);
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

void record(const std::string& what, double value) {
  ::testing::Test::RecordProperty(what, std::to_string(value));
}

augment::CropBox box_of(const nlohmann::json& j) {
  augment::CropBox box;
  box.top = j[0];
  box.left = j[1];
  box.height = j[2];
  box.width = j[3];
  return box;
}

// libjpeg-turbo and libpng give Pillow's RGB bytes exactly (JPEG: baseline,
// progressive, 4:4:4, greyscale; PNG: RGBA, palette, 16-bit grey; a PNG named .jpg).
TEST(MediaParity, ImagesDecodeToPillowsBytes) {
  const safetensors::SafetensorsFile want(kFixtures + "/images.safetensors");
  int compared = 0;
  const auto fixture = expected();
  for (const auto& relative : fixture["images"]) {
    const auto key = relative.get<std::string>();
    const auto got = media::decode_image(kFixtures + "/root/" + key);
    const auto pillow = want.load("decoded/" + key);
    ASSERT_EQ(got.sizes(), pillow.sizes()) << key;
    EXPECT_TRUE(torch::equal(got, pillow)) << key << ": max difference " << max_diff(got, pillow);
    ++compared;
  }
  EXPECT_EQ(compared, 9);
}

// The reference's test transform (PIL Resize bicubic, ToTensor, CLIP Normalize)
// and its training crop + flip for given boxes: the same float32 values.
TEST(MediaParity, ImageInputsEqualTheReferenceTransforms) {
  const safetensors::SafetensorsFile want(kFixtures + "/images.safetensors");
  const auto fixture = expected();
  media::MediaSettings settings;
  double worst = 0;
  for (const auto& relative : fixture["images"]) {
    const auto key = relative.get<std::string>();
    const auto image = media::decode_image(kFixtures + "/root/" + key);
    const auto eval = media::image_input(image, settings, nullptr, false);
    ASSERT_EQ(eval.sizes(), (std::vector<std::int64_t>{3, 224, 224}));
    worst = std::max(worst, max_diff(eval, want.load("eval/" + key)));
    for (int n = 0; n < 2; ++n) {
      const auto name = key + "#" + std::to_string(n);
      const auto& j = fixture["crop_boxes"][name];
      const auto box = box_of(j);
      const auto train = media::image_input(image, settings, &box, j[4].get<int>() == 1);
      worst = std::max(worst, max_diff(train, want.load("train/" + name)));
    }
  }
  record("image_max_abs_diff", worst);
  EXPECT_EQ(worst, 0.0);
}

// FFmpeg 5.1 (Debian) against PyAV's bundled FFmpeg: H.264 and MPEG-4 decode
// bit-exactly by their standards; the YUV -> RGB conversion (libswscale) may
// differ by rounding between versions: held to 2 levels, most pixels equal.
TEST(MediaParity, VideoFramesMatchPyAv) {
  const safetensors::SafetensorsFile want(kFixtures + "/videos.safetensors");
  double worst = 0, unequal = 0, total = 0;
  const auto fixture = expected();
  for (const auto& [name, info] : fixture["videos"].items()) {
    const auto path = kFixtures + "/video/videos/all/" + name;
    const auto frames = info["frames"].get<std::int64_t>();
    EXPECT_EQ(media::video_frame_count(path), frames) << name;
    std::vector<std::int64_t> all(frames);
    for (std::int64_t i = 0; i < frames; ++i) all[i] = frames - 1 - i;  // any order
    const auto got = media::decode_video(path, all).flip({0});
    // One open: the frame count handed to the chooser, the frames it picks.
    std::int64_t told = -1;
    const auto chosen = media::decode_chosen_video_frames(path, [&](std::int64_t length) {
      told = length;
      return std::vector<std::int64_t>{length - 1, 0, length / 2};
    });
    EXPECT_EQ(told, frames) << name;
    EXPECT_TRUE(torch::equal(chosen, got.index_select(0, torch::tensor({frames - 1, std::int64_t{0}, frames / 2})))) << name;
    const auto pyav = want.load("frames/" + name);
    ASSERT_EQ(got.sizes(), pyav.sizes()) << name;
    worst = std::max(worst, max_diff(got, pyav));
    unequal += got.ne(pyav).sum().item<double>();
    total += static_cast<double>(got.numel());
    try {
      media::decode_video(path, {frames});
      ADD_FAILURE() << "no error for a frame past the end";
    } catch (const Error& e) {
      EXPECT_EQ(e.where(), path);
    }
  }
  record("video_max_abs_diff", worst);
  record("video_unequal_fraction", unequal / total);
  EXPECT_LE(worst, 2.0);
  EXPECT_LE(unequal / total, 0.01);
}

// Frames sampled by the reference's 'middle' rule and resized as torchvision's
// tensor Resize; the training crop + flip of given frames and box.
TEST(MediaParity, VideoInputsEqualTheReferenceTransforms) {
  const safetensors::SafetensorsFile want(kFixtures + "/videos.safetensors");
  media::MediaSettings settings;
  settings.modality = data::Modality::kVideo;
  settings.num_frames = 8;
  double worst = 0;
  const auto fixture = expected();
  for (const auto& [name, info] : fixture["videos"].items()) {
    // Inputs from PyAV's frames: the transform alone, which must be exact.
    const auto frames = want.load("frames/" + name);
    const auto middle = media::sample_frame_indices(8, info["frames"].get<std::int64_t>(), media::FrameSampling::kMiddle);
    EXPECT_EQ(middle, info["middle"].get<std::vector<std::int64_t>>()) << name;
    const auto eval = media::video_input(frames.index_select(0, torch::tensor(middle)), settings, nullptr, false);
    ASSERT_EQ(eval.sizes(), (std::vector<std::int64_t>{8, 3, 224, 224}));
    worst = std::max(worst, max_diff(eval, want.load("eval/" + name)));
    const auto box = box_of(info["train_box"]);
    const auto picked = info["train_indices"].get<std::vector<std::int64_t>>();
    const auto train = media::video_input(frames.index_select(0, torch::tensor(picked)), settings, &box, true);
    worst = std::max(worst, max_diff(train, want.load("train/" + name)));
  }
  record("video_transform_max_abs_diff", worst);
  EXPECT_EQ(worst, 0.0);
}

// libsndfile's samples equal soundfile's (it is libsndfile too) for 16-bit WAV,
// 24-bit stereo FLAC and float WAV; the features of the 16 kHz files equal
// ASTFeatureExtractor's numpy path within its 2e-3 (tests/parity/ast_parity_test.cpp).
TEST(MediaParity, AudioMatchesSoundfileAndTheFeatureExtractor) {
  const safetensors::SafetensorsFile want(kFixtures + "/audio.safetensors");
  media::MediaSettings settings;
  settings.modality = data::Modality::kAudio;
  double worst_features = 0;
  int featured = 0;
  const auto fixture = expected();
  for (const auto& [relative, info] : fixture["audio"].items()) {
    const auto decoded = media::decode_audio(kFixtures + "/audio/" + relative);
    EXPECT_EQ(decoded.sample_rate, info["sample_rate"].get<double>()) << relative;
    const auto reference = want.load("waveform/" + relative);
    ASSERT_EQ(decoded.waveform.sizes(), reference.sizes()) << relative;
    EXPECT_TRUE(torch::equal(decoded.waveform, reference)) << relative << ": " << max_diff(decoded.waveform, reference);
    const auto features = media::audio_input(decoded.waveform, decoded.sample_rate, settings, nullptr, nullptr);
    ASSERT_EQ(features.sizes(), (std::vector<std::int64_t>{1024, 128}));
    if (want.contains("features/" + relative)) {
      worst_features = std::max(worst_features, max_diff(features, want.load("features/" + relative)));
      ++featured;
    }
  }
  EXPECT_EQ(featured, 2);
  record("audio_features_max_abs_diff", worst_features);
  EXPECT_LE(worst_features, 2e-3);
}

TEST(MediaParity, UndecodableFilesAreNamed) {
  const auto dir = std::filesystem::temp_directory_path() / ("epalm-media-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto expect_named = [](const std::string& path, const std::string& reason, auto decode) {
    try {
      decode(path);
      ADD_FAILURE() << "no error for " << path;
    } catch (const Error& e) {
      EXPECT_EQ(e.where(), path);
      EXPECT_NE(e.reason().find(reason), std::string::npos) << e.what();
    }
  };
  const auto text = (dir / "notes.jpg").string();
  std::ofstream(text) << "not an image";
  expect_named(text, "neither a JPEG nor a PNG", [](const std::string& p) { media::decode_image(p); });
  // A JPEG cut short: an error (as Pillow's), not a grey-padded picture.
  const auto cut = (dir / "cut.jpg").string();
  {
    std::ifstream in(kFixtures + "/root/COCO/images/train2014/COCO_train2014_000000000009.jpg", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, 200);
  }
  expect_named(cut, "Premature end of JPEG file", [](const std::string& p) { media::decode_image(p); });
  expect_named((dir / "absent.png").string(), "cannot open", [](const std::string& p) { media::decode_image(p); });
  const auto video = (dir / "notes.mp4").string(), audio = (dir / "notes.wav").string();
  std::ofstream(video) << "not a video";
  std::ofstream(audio) << "not a sound";
  expect_named(video, "cannot open the video", [](const std::string& p) { media::video_frame_count(p); });
  expect_named(video, "cannot open the video", [](const std::string& p) { media::decode_video(p, {0}); });
  expect_named(audio, "cannot open the audio", [](const std::string& p) { media::decode_audio(p); });
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace epalm
