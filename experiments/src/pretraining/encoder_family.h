// Internal: what differs between the encoder families when pretraining: the
// model built over trainable weights, the media settings its inputs need,
// transformers' classification head on it, and the checkpoint's names and
// config.json (ViTForImageClassification, TimesformerForVideoClassification,
// ASTForAudioClassification).
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "epalm/core/media/media_inputs.h"
#include "epalm/core/models/encoder.h"
#include "epalm/core/models/state_dict.h"
#include "epalm/experiments/pretraining.h"
#include "pretraining/position_tables.h"

namespace epalm::experiments::pretraining {

class EncoderFamily {
 public:
  explicit EncoderFamily(EncoderConfig config);  // throws UsageError for a config media cannot feed
  std::string name() const { return encoder_family_name(config_); }
  models::TensorShapes encoder_shapes() const;
  // The encoder's position-embedding tensors (by name) and the token layout
  // each covers: pretraining starts them from sine-cosine tables.
  std::map<std::string, PositionLayout> position_layouts() const;
  std::int64_t hidden_size() const;
  // The evaluation-time transforms at the config's sizes.
  media::MediaSettings media_settings() const;
  std::unique_ptr<models::Encoder> build(const std::map<std::string, at::Tensor>& weights) const;
  // transformers' head, by its names in the checkpoint ("classifier.*").
  models::TensorShapes head_shapes(std::int64_t num_classes) const;
  at::Tensor logits(const models::EncoderOutput& output, const std::map<std::string, at::Tensor>& head) const;
  // The key prefix of the encoder's tensors in the classification checkpoint.
  std::string checkpoint_prefix() const;
  nlohmann::json config_json(std::int64_t num_classes, const std::vector<std::string>& class_names) const;

 private:
  EncoderConfig config_;
};

}  // namespace epalm::experiments::pretraining
