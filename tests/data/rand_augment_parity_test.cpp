// RandAugment against the reference's own code on the data fixtures
// (tests/parity/make_randaugment_fixtures.py): every op of ALBEF's
// RandomAugment (its cv2 / numpy calls) at level 7 and every op of
// torchvision's RandAugment (its _apply_op) at bin 9 of 31, each sign, on
// pictures and clips of several sizes; and media_input's wiring (the draws
// after the crop and flip, the off switch).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "epalm/core/augment/albef_augment_ops.h"
#include "epalm/core/error.h"
#include "epalm/core/media/media.h"
#include "epalm/core/media/media_inputs.h"
#include "epalm/core/augment/rand_augment.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "epalm/core/augment/torchvision_augment_ops.h"

namespace epalm {
namespace {

const std::string kData = EPALM_DATA_FIXTURES;
const std::string kFixtures = EPALM_RANDAUGMENT_FIXTURES;

std::vector<std::string> input_names(const safetensors::SafetensorsFile& file) {
  std::vector<std::string> names;
  for (const auto& name : file.names()) {
    if (name.rfind("input/", 0) == 0) names.push_back(name.substr(6));
  }
  return names;
}

std::vector<bool> signs(bool is_signed) { return is_signed ? std::vector<bool>{false, true} : std::vector<bool>{false}; }

std::int64_t differing(const at::Tensor& a, const at::Tensor& b) { return a.ne(b).sum().item<std::int64_t>(); }

TEST(RandAugmentParity, AlbefOpsEqualAlbefsCv2Calls) {
  const safetensors::SafetensorsFile want(kFixtures + "/albef.safetensors");
  const auto names = input_names(want);
  ASSERT_GE(names.size(), 10u);
  int compared = 0;
  for (int k = 0; k < augment::kAlbefOpCount; ++k) {
    const auto op = static_cast<augment::AlbefOp>(k);
    for (const bool negative : signs(augment::albef_op_signed(op))) {
      for (const auto& name : names) {
        const auto key = std::string(augment::albef_op_name(op)) + (negative ? "/negative/" : "/positive/") + name;
        ASSERT_TRUE(want.contains(key)) << key;
        auto picture = want.load("input/" + name).contiguous().clone();
        augment::apply_albef_op(picture.data_ptr<std::uint8_t>(), picture.size(0), picture.size(1), op,
                                augment::albef_op_argument(op, negative, 7));
        const auto expected = want.load(key);
        EXPECT_EQ(differing(picture, expected), 0) << key;
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 15 * static_cast<int>(names.size()));
}

TEST(RandAugmentParity, TorchvisionOpsEqualApplyOp) {
  const safetensors::SafetensorsFile want(kFixtures + "/torchvision.safetensors");
  std::ifstream in(kFixtures + "/magnitudes.json");
  const auto magnitudes = nlohmann::json::parse(in);
  const auto names = input_names(want);
  ASSERT_GE(names.size(), 4u);
  int compared = 0;
  for (int k = 0; k < augment::kTorchvisionOpCount; ++k) {
    const auto op = static_cast<augment::TorchvisionOp>(k);
    for (const bool negative : signs(augment::torchvision_op_signed(op))) {
      for (const auto& name : names) {
        const auto key = std::string(augment::torchvision_op_name(op)) + (negative ? "/negative/" : "/positive/") + name;
        ASSERT_TRUE(want.contains(key)) << key;
        const auto clip = want.load("input/" + name);
        double magnitude = augment::torchvision_op_magnitude(op, 9, 31, clip.size(-2), clip.size(-1));
        if (negative) magnitude *= -1.0;
        EXPECT_EQ(magnitude, magnitudes.at(key).get<double>()) << key;
        const auto got = augment::apply_torchvision_op(clip, op, magnitude);
        const auto expected = want.load(key);
        ASSERT_EQ(got.sizes(), expected.sizes()) << key;
        EXPECT_EQ(differing(got, expected), 0) << key;
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 23 * static_cast<int>(names.size()));
}

// The same, one op after another: RandAugment.forward's composition on a clip.
TEST(RandAugmentParity, DrawsApplyTheirStepsInOrder) {
  const safetensors::SafetensorsFile want(kFixtures + "/torchvision.safetensors");
  const auto clip = want.load("input/resized_224");
  augment::TorchvisionRandAugment draw;
  draw.steps = {{augment::TorchvisionOp::kRotate, true}, {augment::TorchvisionOp::kEqualize, false}};
  const auto rotated = want.load("Rotate/negative/resized_224");
  const auto expected = augment::apply_torchvision_op(rotated, augment::TorchvisionOp::kEqualize, 0);
  EXPECT_TRUE(torch::equal(augment::apply_torchvision_rand_augment(clip, draw), expected));
}

data::Sample sample_of(const std::string& path) {
  data::Sample s;
  s.id = s.media_id = path;
  s.media = path;
  return s;
}

// media_input draws the crop, the flip, then RandAugment from one generator;
// with rand_augment off the input is the crop and flip alone.
TEST(RandAugmentParity, MediaInputAppliesTheDrawAfterCropAndFlip) {
  const auto path = kData + "/root/COCO/images/train2014/COCO_train2014_000000000009.jpg";
  const auto image = media::decode_image(path);
  auto settings = media::MediaSettings::for_task("vqa", /*train=*/true);
  ASSERT_TRUE(settings.rand_augment);  // the reference's default
  auto off = settings;
  off.rand_augment = false;
  int changed = 0;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    augment::Random random(seed);
    const auto box = augment::random_resized_crop_box(image.size(0), image.size(1), random);
    const bool flip = random.coin();
    const auto plain = media::image_input(image, settings, &box, flip);
    EXPECT_TRUE(torch::equal(media::media_input(sample_of(path), off, seed), plain)) << seed;
    const auto draw = augment::sample_albef_rand_augment(random);
    const auto augmented = media::media_input(sample_of(path), settings, seed);
    EXPECT_TRUE(torch::equal(augmented, media::image_input(image, settings, &box, flip, &draw))) << seed;
    changed += !torch::equal(augmented, plain);
  }
  EXPECT_GT(changed, 5);  // ops are skipped or identities a third of the time
}

TEST(RandAugmentParity, VideoInputAppliesTheDrawToEveryFrame) {
  const auto path = kData + "/video/videos/all/video7010.mp4";
  auto settings = media::MediaSettings::for_task("msrvtt-qa", /*train=*/true);
  auto off = settings;
  off.rand_augment = false;
  int changed = 0;
  for (std::uint64_t seed = 0; seed < 6; ++seed) {
    const auto with = media::media_input(sample_of(path), settings, seed);
    const auto without = media::media_input(sample_of(path), off, seed);
    ASSERT_EQ(with.sizes(), without.sizes());
    changed += !torch::equal(with, without);
  }
  EXPECT_GT(changed, 0);
  // One draw for the clip: a frame augmented alone gets the same pixels.
  const auto frames = media::decode_video(path, {0, 3, 6, 9});
  augment::TorchvisionRandAugment draw;
  draw.steps = {{augment::TorchvisionOp::kShearX, false}, {augment::TorchvisionOp::kSolarize, false}};
  const auto clip = media::video_input(frames, settings, nullptr, false, &draw);
  const auto single = media::video_input(frames.slice(0, 2, 3), settings, nullptr, false, &draw);
  EXPECT_TRUE(torch::equal(clip.slice(0, 2, 3), single));
}

// Pictures the ops cannot take are errors naming the input, not crashes.
TEST(RandAugmentInputs, BadPicturesAreErrors) {
  const auto float_clip = torch::zeros({2, 3, 8, 8});
  const auto grey_clip = torch::zeros({2, 1, 8, 8}, torch::kUInt8);
  for (const auto& bad : {float_clip, grey_clip}) {
    try {
      augment::apply_torchvision_op(bad, augment::TorchvisionOp::kEqualize, 0, "clip.mp4");
      ADD_FAILURE() << "accepted " << bad.sizes();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("clip.mp4"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(augment::apply_albef_op(nullptr, 0, 0, augment::AlbefOp::kRotate, 21, "photo.jpg"), Error);
}

}  // namespace
}  // namespace epalm
