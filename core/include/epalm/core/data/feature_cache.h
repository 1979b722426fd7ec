// The frozen-feature cache. eP-ALM's encoders are frozen, so the [CLS]
// features a sample yields depend only on the encoder's weights, the levels
// read and the preprocessing: computed once, they serve every epoch and every
// run of a sweep that shares those. One directory per key, one safetensors
// file per sample, each written atomically: concurrent runs may compute the
// same sample, and the last identical rename wins, so readers never see a
// partial file.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace epalm::data {

struct FeatureKey {
  std::string encoder_fingerprint;  // digest of the encoder's weights
  int levels = 0;                   // how many final blocks are read
  std::string preprocessing;        // canonical description (size, normalisation, frames...)

  std::string digest() const;  // hex, the cache directory's name
};

class FeatureCache {
 public:
  // Features live under <root>/<key digest>/ (created on demand).
  FeatureCache(std::string root, FeatureKey key);

  const std::string& directory() const { return directory_; }

  // [batch, levels, hidden] for `sample_ids`, in order: cached rows are read,
  // missing ones computed with `compute(positions)` (positions into
  // sample_ids; it returns their features in that order) and stored.
  at::Tensor features(const std::vector<std::string>& sample_ids,
                      const std::function<at::Tensor(const std::vector<std::size_t>& missing)>& compute);

  std::int64_t hits() const { return hits_; }
  std::int64_t misses() const { return misses_; }

 private:
  std::string path_of(const std::string& sample_id) const;

  std::string directory_;
  std::int64_t hits_ = 0;
  std::int64_t misses_ = 0;
};

}  // namespace epalm::data
