#include "epalm/core/models/load_encoder.h"

#include <algorithm>
#include <filesystem>

#include "epalm/core/error.h"
#include "epalm/core/models/architecture.h"
#include "epalm/core/models/ast.h"
#include "epalm/core/models/timesformer.h"
#include "epalm/core/models/vit.h"

namespace epalm::models {

std::unique_ptr<Encoder> load_encoder(const std::string& directory, c10::ScalarType dtype, c10::Device device) {
  return load_encoder(directory, dtype, device, LayerSharding{});
}

namespace {

std::string config_path(const std::string& directory) {
  return (std::filesystem::path(directory) / "config.json").string();
}

// The encoder architecture of `directory` (architecture.h decides); a
// decoder's checkpoint is an error naming its config.json.
Architecture encoder_architecture(const std::string& directory) {
  if (!std::filesystem::is_directory(directory)) throw Error(directory, "not an encoder checkpoint directory");
  const auto& a = architecture_of_config(config_path(directory));
  if (!a.is_encoder) {
    throw Error(config_path(directory), std::string("model_type \"") + a.model_type +
                                            "\" is not an encoder eP-ALM supports (vit, timesformer, "
                                            "audio-spectrogram-transformer)");
  }
  return a.id;
}

}  // namespace

std::unique_ptr<Encoder> load_encoder(const std::string& directory, c10::ScalarType dtype, c10::Device device,
                                      const LayerSharding& sharding) {
  const auto architecture = encoder_architecture(directory);
  if (architecture == Architecture::kVit) {
    return std::make_unique<VitModel>(VitModel::from_pretrained(directory, dtype, device, sharding));
  }
  const bool shards = sharding.communicator != nullptr &&
                      std::find(sharding.layers.begin(), sharding.layers.end(), true) != sharding.layers.end();
  if (shards) {
    throw UsageError(directory, std::string("a ") + architecture_info(architecture).model_type +
                                    " encoder cannot be sharded yet (ViT can); replicate it (--plan replicate) "
                                    "or let --plan auto keep the encoder whole");
  }
  if (architecture == Architecture::kTimesformer) {
    return std::make_unique<TimesformerModel>(TimesformerModel::from_pretrained(directory, dtype, device));
  }
  return std::make_unique<AstModel>(AstModel::from_pretrained(directory, dtype, device));
}

std::int64_t encoder_parameter_count(const std::string& directory) {
  const auto path = config_path(directory);
  switch (encoder_architecture(directory)) {
    case Architecture::kVit: return vit_parameter_count(VitConfig::from_json_file(path));
    case Architecture::kTimesformer: return timesformer_parameter_count(TimesformerConfig::from_json_file(path));
    default: return ast_parameter_count(AstConfig::from_json_file(path));
  }
}

std::int64_t encoder_hidden_size(const std::string& directory) {
  const auto path = config_path(directory);
  switch (encoder_architecture(directory)) {
    case Architecture::kVit: return VitConfig::from_json_file(path).hidden_size;
    case Architecture::kTimesformer: return TimesformerConfig::from_json_file(path).hidden_size;
    default: return AstConfig::from_json_file(path).hidden_size;
  }
}

EncoderInputGeometry encoder_input_geometry(const std::string& directory) {
  const auto path = config_path(directory);
  EncoderInputGeometry g;
  switch (encoder_architecture(directory)) {
    case Architecture::kVit: g.image_size = VitConfig::from_json_file(path).image_size; break;
    case Architecture::kTimesformer: g.image_size = TimesformerConfig::from_json_file(path).image_size; break;
    default: {
      const auto c = AstConfig::from_json_file(path);
      g.mel_bins = c.num_mel_bins;
      g.audio_frames = c.max_length;
    }
  }
  return g;
}

}  // namespace epalm::models
