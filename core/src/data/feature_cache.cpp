#include "epalm/core/data/feature_cache.h"

#include <torch/torch.h>

#include <cstdio>
#include <filesystem>

#include "epalm/core/error.h"
#include "epalm/core/safetensors/checkpoint.h"

namespace epalm::data {

namespace {

std::string fnv1a_hex(const std::string& text) {
  std::uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(hash));
  return out;
}

}  // namespace

std::string FeatureKey::digest() const {
  // Length-prefixed fields, so no two keys concatenate to the same text.
  std::string text;
  for (const auto& field : {encoder_fingerprint, std::to_string(levels), preprocessing}) {
    text += std::to_string(field.size()) + ":" + field + ";";
  }
  return fnv1a_hex(text) + fnv1a_hex("salt;" + text);
}

FeatureCache::FeatureCache(std::string root, FeatureKey key) {
  if (key.encoder_fingerprint.empty() || key.levels < 1) {
    throw Error("feature cache", "a key needs the encoder's fingerprint and the levels read");
  }
  directory_ = (std::filesystem::path(root) / key.digest()).string();
  std::error_code error;
  std::filesystem::create_directories(directory_, error);
  if (error) throw Error(directory_, "cannot create the feature cache directory: " + error.message());
}

std::string FeatureCache::path_of(const std::string& sample_id) const {
  // Sample ids are file paths or dataset keys: hash them into a flat name.
  return directory_ + "/" + fnv1a_hex(sample_id) + ".safetensors";
}

at::Tensor FeatureCache::features(const std::vector<std::string>& sample_ids,
                                  const std::function<at::Tensor(const std::vector<std::size_t>&)>& compute) {
  std::vector<at::Tensor> rows(sample_ids.size());
  std::vector<std::size_t> missing;
  for (std::size_t i = 0; i < sample_ids.size(); ++i) {
    const auto path = path_of(sample_ids[i]);
    if (!std::filesystem::exists(path)) {
      missing.push_back(i);
      continue;
    }
    const safetensors::SafetensorsFile file(path);
    auto stored = file.metadata().find("sample_id");
    if (stored == file.metadata().end() || stored->second != sample_ids[i]) {
      throw Error(path, "holds features of another sample (hash collision or foreign file)");
    }
    rows[i] = file.load("features");
    ++hits_;
  }
  if (!missing.empty()) {
    const auto computed = compute(missing).detach().to(torch::kCPU);
    if (computed.size(0) != static_cast<std::int64_t>(missing.size())) {
      throw Error("feature cache", "compute() returned " + std::to_string(computed.size(0)) + " rows for " +
                                       std::to_string(missing.size()) + " samples");
    }
    for (std::size_t j = 0; j < missing.size(); ++j) {
      const auto i = missing[j];
      rows[i] = computed[static_cast<std::int64_t>(j)].contiguous();
      safetensors::write_safetensors(path_of(sample_ids[i]), {{"features", rows[i]}},
                                     {{"sample_id", sample_ids[i]}});
      ++misses_;
    }
  }
  return torch::stack(rows);
}

}  // namespace epalm::data
