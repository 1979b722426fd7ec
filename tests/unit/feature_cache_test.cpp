#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <thread>

#include "epalm/core/error.h"
#include "epalm/core/data/feature_cache.h"
#include "process.h"

namespace epalm {

namespace {
data::FeatureKey key(const std::string& encoder = "vit-abc", int levels = 6, const std::string& prep = "224,bicubic") {
  return {encoder, levels, prep};
}
}  // namespace

TEST(FeatureCache, ComputesMissingSamplesOnceAndReadsThemAfter) {
  testing::TempDir dir;
  data::FeatureCache cache(dir.path(), key());
  int computed = 0;
  auto compute = [&](const std::vector<std::size_t>& missing) {
    computed += static_cast<int>(missing.size());
    std::vector<at::Tensor> rows;
    for (auto i : missing) rows.push_back(torch::full({6, 4}, static_cast<float>(i)));
    return torch::stack(rows);
  };
  const auto first = cache.features({"a.jpg", "b.jpg"}, compute);
  EXPECT_EQ(computed, 2);
  // Another run with the same key reads what the first stored.
  data::FeatureCache again(dir.path(), key());
  const auto second = again.features({"b.jpg", "c.jpg", "a.jpg"}, compute);
  EXPECT_EQ(computed, 3);  // only c.jpg was new
  EXPECT_EQ(again.hits(), 2);
  EXPECT_EQ(again.misses(), 1);
  EXPECT_TRUE(torch::equal(second[0], first[1]));
  EXPECT_TRUE(torch::equal(second[2], first[0]));
}

TEST(FeatureCache, KeysSeparateEncodersLevelsAndPreprocessing) {
  EXPECT_NE(key().digest(), key("vit-abd").digest());
  EXPECT_NE(key().digest(), key("vit-abc", 1).digest());
  EXPECT_NE(key().digest(), key("vit-abc", 6, "384,bicubic").digest());
  // Field boundaries matter: ("ab", "c") is not ("a", "bc").
  EXPECT_NE((data::FeatureKey{"ab", 1, "c"}.digest()), (data::FeatureKey{"a", 1, "bc"}.digest()));
  EXPECT_EQ(key().digest(), key().digest());
  testing::TempDir dir;
  EXPECT_THROW(data::FeatureCache(dir.path(), data::FeatureKey{"", 6, "x"}), Error);
}

TEST(FeatureCache, ConcurrentWritersOfTheSameSamplesNeverExposeAPartialFile) {
  testing::TempDir dir;
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) ids.push_back("clip" + std::to_string(i));
  auto worker = [&] {
    data::FeatureCache cache(dir.path(), key());
    for (int round = 0; round < 3; ++round) {
      auto out = cache.features(ids, [](const std::vector<std::size_t>& missing) {
        std::vector<at::Tensor> rows;
        for (auto i : missing) rows.push_back(torch::full({6, 64}, static_cast<float>(i)));
        return torch::stack(rows);
      });
      for (int i = 0; i < 40; ++i) EXPECT_EQ(out[i][0][0].item<float>(), static_cast<float>(i));
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
    if (entry.is_regular_file()) {
      ++files;
      EXPECT_EQ(entry.path().extension(), ".safetensors") << entry.path();  // no temporaries left
    }
  }
  EXPECT_EQ(files, 40);
}

}  // namespace epalm
