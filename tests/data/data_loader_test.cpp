// The data loader on the fixtures: batches are a function of (seed, epoch,
// index) whatever the threads or the path (batch() or next()), ranks get equal
// shards covering the split, augmentations vary by epoch and sample only, and a
// sample that fails to decode is named.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "epalm/core/augment/augmentations.h"
#include "epalm/core/data/data_loader.h"
#include "epalm/core/error.h"

namespace epalm {
namespace {

const std::string kFixtures = EPALM_DATA_FIXTURES;

data::Dataset coco_train() { return data::read_dataset({"coco-caption", kFixtures + "/root", "train"}); }

data::LoaderSettings loader(std::int64_t batch, int threads, bool shuffle = true) {
  data::LoaderSettings s;
  s.batch_size = batch;
  s.threads = threads;
  s.shuffle = shuffle;
  s.seed = 7;
  return s;
}

TEST(DataLoader, BatchesDependOnSeedEpochAndIndexOnly) {
  const auto dataset = coco_train();  // 3 caption samples over 2 images
  const auto media = media::MediaSettings::for_task("coco-caption", /*train=*/true);
  data::DataLoader one(dataset, media, loader(2, 1));
  data::DataLoader four(dataset, media, loader(2, 4));
  ASSERT_EQ(one.batches_per_epoch(), 2);
  for (std::int64_t epoch = 0; epoch < 2; ++epoch) {
    four.start_epoch(epoch);
    for (std::int64_t b = 0; b < one.batches_per_epoch(); ++b) {
      const auto direct = one.batch(epoch, b);
      const auto streamed = four.next();
      ASSERT_TRUE(streamed.has_value());
      EXPECT_EQ(direct.indices, streamed->indices);
      EXPECT_EQ(direct.inputs.sizes(), streamed->inputs.sizes());
      EXPECT_TRUE(torch::equal(direct.inputs, streamed->inputs)) << "epoch " << epoch << " batch " << b;
    }
    EXPECT_FALSE(four.next().has_value());
  }
  // Each epoch visits every sample once; another epoch re-augments a sample differently.
  std::vector<std::size_t> order0;
  for (std::int64_t b = 0; b < 2; ++b) {
    for (auto i : one.batch_indices(0, b)) order0.push_back(i);
  }
  EXPECT_EQ(std::set<std::size_t>(order0.begin(), order0.end()).size(), dataset.samples.size());
  EXPECT_EQ(order0.size(), dataset.samples.size());
  const auto media_eval = media::MediaSettings::for_task("coco-caption", false);
  data::DataLoader eval(dataset, media_eval, loader(1, 2, false));
  const auto a = eval.batch(0, 0), b = eval.batch(5, 0);
  EXPECT_TRUE(torch::equal(a.inputs, b.inputs));  // no augmentation: the same every epoch
  const auto s0 = media::media_input(dataset.samples[0], media, augment::sample_seed(7, 0, 0));
  const auto s1 = media::media_input(dataset.samples[0], media, augment::sample_seed(7, 1, 0));
  EXPECT_FALSE(torch::equal(s0, s1));
  // Resuming in the middle of an epoch gives the same batch.
  one.start_epoch(1, 1);
  EXPECT_TRUE(torch::equal(one.next()->inputs, one.batch(1, 1).inputs));
}

TEST(DataLoader, RanksGetEqualShardsCoveringTheSplit) {
  const auto dataset = data::read_dataset({"vqa", kFixtures + "/root", "karpathy_train"});  // 3 samples
  const auto media = media::MediaSettings::for_task("vqa", false);
  for (int world : {1, 2, 3, 4}) {
    for (bool drop_last : {false, true}) {
      std::multiset<std::size_t> seen;
      std::int64_t batches = -1;
      std::size_t padding = 0;
      for (int rank = 0; rank < world; ++rank) {
        auto s = loader(2, 1);
        s.rank = rank;
        s.world_size = world;
        s.drop_last = drop_last;
        if (drop_last && static_cast<int>(dataset.samples.size()) < world * 2 && world > 1) {
          if (static_cast<int>(dataset.samples.size()) / world < 2) {
            EXPECT_THROW(data::DataLoader(dataset, media, s), UsageError);
            batches = -2;
            continue;
          }
        }
        data::DataLoader l(dataset, media, s);
        if (batches == -1) batches = l.batches_per_epoch();
        EXPECT_EQ(l.batches_per_epoch(), batches) << "world " << world << " rank " << rank;
        for (std::int64_t b = 0; b < l.batches_per_epoch(); ++b) {
          std::vector<bool> pad;
          const auto indices = l.batch_indices(3, b, &pad);
          for (std::size_t k = 0; k < indices.size(); ++k) {
            if (pad[k]) ++padding;
            else seen.insert(indices[k]);
          }
        }
      }
      if (batches == -2) continue;
      if (!drop_last) {
        // Every sample exactly once apart from the flagged padding.
        EXPECT_EQ(seen.size(), dataset.samples.size()) << "world " << world;
        EXPECT_EQ(std::set<std::size_t>(seen.begin(), seen.end()).size(), dataset.samples.size());
        EXPECT_EQ(seen.size() + padding, static_cast<std::size_t>((dataset.samples.size() + world - 1) / world * world));
      } else {
        EXPECT_EQ(padding, 0u);
        EXPECT_EQ(std::set<std::size_t>(seen.begin(), seen.end()).size(), seen.size());  // no repeats
      }
    }
  }
}

TEST(DataLoader, VideoAndAudioBatchesHaveTheModelsShapes) {
  const auto videos = data::read_dataset({"msrvtt-qa", kFixtures + "/video", "qa_train"});
  data::DataLoader v(videos, media::MediaSettings::for_task("msrvtt-qa", true), loader(2, 2));
  const auto clips = v.batch(0, 0);
  EXPECT_EQ(clips.inputs.sizes(), (std::vector<std::int64_t>{2, 8, 3, 224, 224}));
  EXPECT_TRUE(torch::equal(clips.inputs, v.batch(0, 0).inputs));
  const auto audio = data::read_dataset({"audiocaps", kFixtures + "/audio", "train"});
  data::DataLoader a(audio, media::MediaSettings::for_task("audiocaps", true), loader(3, 2));
  const auto spectra = a.batch(0, 0);
  EXPECT_EQ(spectra.inputs.sizes(), (std::vector<std::int64_t>{3, 1024, 128}));
  // SpecAugment zeroes a band before normalising: the band reads (0 + 4.27) / 9.14.
  const float masked = static_cast<float>(4.2677393 / (2 * 4.5689974));
  EXPECT_GT(spectra.inputs.eq(masked).sum().item<std::int64_t>(), 0);
  EXPECT_THROW(data::DataLoader(audio, media::MediaSettings::for_task("vqa", false), loader(1, 1)), UsageError);
}

TEST(DataLoader, AFailingSampleIsNamed) {
  const auto dir = std::filesystem::temp_directory_path() / ("epalm-loader-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::copy(kFixtures + "/root", dir, std::filesystem::copy_options::recursive);
  auto dataset = data::read_dataset({"gqa", dir.string(), "train"});
  std::ofstream(dataset.samples[1].media, std::ios::trunc) << "garbage";
  data::DataLoader l(dataset, media::MediaSettings::for_task("gqa", false), loader(2, 2, false));
  try {
    l.batch(0, 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), dataset.samples[1].media);
    EXPECT_NE(e.reason().find("gqa/train sample 1 ('07333408')"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(Augmentations, RandomResizedCropBoxesStayInRange) {
  augment::Random random(augment::sample_seed(1, 2, 3));
  for (int i = 0; i < 2000; ++i) {
    const std::int64_t h = 20 + i % 300, w = 30 + (i * 7) % 400;
    const auto box = augment::random_resized_crop_box(h, w, random);
    ASSERT_GE(box.top, 0);
    ASSERT_GE(box.left, 0);
    ASSERT_LE(box.top + box.height, h);
    ASSERT_LE(box.left + box.width, w);
    const double area = static_cast<double>(box.height * box.width) / static_cast<double>(h * w);
    const double ratio = static_cast<double>(w) / static_cast<double>(h);
    // Within the aspect range a try succeeds (rounding the sides moves the
    // area a little below 0.5); outside it the fallback is a centered crop.
    if (ratio > 0.8 && ratio < 1.25) {
      EXPECT_GT(area, 0.4) << h << "x" << w;
    }
  }
  // No try fits a 10 x 1000 picture: torchvision's fallback, the centered 10 x 13 crop.
  const auto fallback = augment::random_resized_crop_box(10, 1000, random);
  EXPECT_EQ(fallback.height, 10);
  EXPECT_EQ(fallback.width, 13);
  EXPECT_EQ(fallback.left, (1000 - 13) / 2);
  const auto band = augment::spec_augment_band(128, 24, random);
  EXPECT_LE(band.end - band.start, 24);
  EXPECT_LE(band.end, 128);
  EXPECT_NE(augment::sample_seed(0, 0, 1), augment::sample_seed(0, 1, 0));
}

}  // namespace
}  // namespace epalm
