#include "frozen_features.h"

#include <torch/torch.h>

#include "epalm/core/models/epalm_model.h"
#include "epalm/core/models/encoder.h"
#include "epalm/experiments/training_run.h"

namespace epalm::experiments {

std::string feature_preprocessing_key(const std::string& task, const media::MediaSettings& m, c10::ScalarType dtype) {
  return std::string("task-media ") + modality_name(m.modality) + " size " + std::to_string(m.image_size) +
         " frames " + std::to_string(m.num_frames) + " sampling " + std::to_string(static_cast<int>(m.frame_sampling)) +
         " mel " + std::to_string(m.mel_bins) + " length " + std::to_string(m.target_length) + " dtype " +
         c10::toString(dtype) + " (" + task + ")";
}

std::unique_ptr<data::FeatureCache> open_feature_cache(const TrainingRunSettings& s, const media::MediaSettings& media,
                                                 const models::Encoder& encoder, bool augmented, bool encoder_sharded,
                                                 int world_size) {
  if (s.feature_cache.empty() || augmented || media.frame_sampling == media::FrameSampling::kRandom) return nullptr;
  if (encoder_sharded && world_size > 1) return nullptr;
  return std::make_unique<data::FeatureCache>(
      s.feature_cache, data::FeatureKey{encoder.fingerprint(), s.epalm.levels, feature_preprocessing_key(s.data.task, media, s.dtype)});
}

at::Tensor cached_features(data::FeatureCache& cache, const data::Dataset& dataset, const std::vector<std::size_t>& indices,
                           const media::MediaSettings& media, const models::Encoder& encoder, int levels,
                           const c10::Device& device) {
  std::vector<std::string> media_ids;
  for (auto i : indices) media_ids.push_back(dataset.samples[i].media_id);
  return cache
      .features(media_ids,
                [&](const std::vector<std::size_t>& missing) {
                  std::vector<at::Tensor> inputs;
                  for (auto m : missing) inputs.push_back(media::media_input(dataset.samples[indices[m]], media, /*seed=*/0));
                  return models::EpalmModel::select_features(encoder, torch::stack(inputs).to(device), levels);
                })
      .to(device);
}

}  // namespace epalm::experiments
