// The frozen-feature cache (core/feature_cache.h) as runs use it: training
// reads its micro-batches' features from it, validation and the test at the
// end read the same directory, so a split's features are computed once per
// sweep and never again, neither the media decoded nor the encoder run.
// A private piece of the training and evaluation runs.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "epalm/core/data/datasets.h"
#include "epalm/core/data/feature_cache.h"
#include "epalm/core/media/media_inputs.h"

namespace epalm::models {
class Encoder;
}

namespace epalm::experiments {

struct TrainingRunSettings;

// What a cache key's preprocessing names: everything that changes an input.
std::string feature_preprocessing_key(const std::string& task, const media::MediaSettings& media, c10::ScalarType dtype);

// The run's cache for inputs prepared by `media`, or null where one cannot
// serve: no --feature-cache, `augmented` inputs (every visit differs), random
// video frames (seeded per sample), or an encoder sharded over several ranks
// (hits differ between ranks, and a sharded encoder runs only when every rank
// runs it).
std::unique_ptr<data::FeatureCache> open_feature_cache(const TrainingRunSettings& run, const media::MediaSettings& media,
                                                 const models::Encoder& encoder, bool augmented, bool encoder_sharded,
                                                 int world_size);

// [batch, levels, hidden] for the samples `indices` of `dataset`, on `device`:
// cached rows read, missing ones decoded (no augmentation) and encoded now,
// then stored.
at::Tensor cached_features(data::FeatureCache& cache, const data::Dataset& dataset, const std::vector<std::size_t>& indices,
                           const media::MediaSettings& media, const models::Encoder& encoder, int levels,
                           const c10::Device& device);

}  // namespace epalm::experiments
