// Any encoder eP-ALM supports, from a Hugging Face checkpoint directory, by
// its config.json's model_type (architecture.h): "vit" (or timm's untyped
// ViT configs), "timesformer", "audio-spectrogram-transformer".
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <memory>
#include <string>

#include "epalm/core/models/encoder.h"
#include "epalm/core/models/layer_sharding.h"

namespace epalm::models {

// Throws epalm::Error naming config.json for another model_type.
std::unique_ptr<Encoder> load_encoder(const std::string& directory, c10::ScalarType dtype = c10::kFloat,
                                      c10::Device device = c10::kCPU);
// With the blocks `sharding` names held 1/N per rank (ViT only so far;
// UsageError for the others when any block is to be sharded).
std::unique_ptr<Encoder> load_encoder(const std::string& directory, c10::ScalarType dtype, c10::Device device,
                                      const LayerSharding& sharding);

// The parameters of the encoder in `directory`, from its config.json alone.
std::int64_t encoder_parameter_count(const std::string& directory);
// Its hidden size (the width of the [CLS] token the connector reads).
std::int64_t encoder_hidden_size(const std::string& directory);

// The input an encoder checkpoint was made for, from its config.json: the
// side of its pictures or frames (ViT, TimeSformer; 0 for AST) and the mel
// bins and frames of its filterbanks (AST; 0 for the others).
struct EncoderInputGeometry {
  std::int64_t image_size = 0;
  std::int64_t mel_bins = 0, audio_frames = 0;
};
EncoderInputGeometry encoder_input_geometry(const std::string& directory);

}  // namespace epalm::models
