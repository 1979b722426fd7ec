#include "epalm/core/models/load_encoder.h"

#include <algorithm>
#include <filesystem>

#include "epalm/core/error.h"
#include "epalm/core/models/ast.h"
#include "epalm/core/models/timesformer.h"
#include "epalm/core/models/vit.h"
#include "models/config_json.h"

namespace epalm::models {

std::unique_ptr<Encoder> load_encoder(const std::string& directory, c10::ScalarType dtype, c10::Device device) {
  return load_encoder(directory, dtype, device, LayerSharding{});
}

std::unique_ptr<Encoder> load_encoder(const std::string& directory, c10::ScalarType dtype, c10::Device device,
                                      const LayerSharding& sharding) {
  const auto path = (std::filesystem::path(directory) / "config.json").string();
  if (!std::filesystem::is_directory(directory)) throw Error(directory, "not an encoder checkpoint directory");
  const auto config = config_json::load_object(path);
  const std::string type = config.value("model_type", "vit");
  if (type == "vit") return std::make_unique<VitModel>(VitModel::from_pretrained(directory, dtype, device, sharding));
  const bool shards = sharding.communicator != nullptr &&
                      std::find(sharding.layers.begin(), sharding.layers.end(), true) != sharding.layers.end();
  if (shards) {
    throw UsageError(directory, "a " + type + " encoder cannot be sharded yet (ViT can); replicate it (--plan replicate) "
                                "or let --plan auto keep the encoder whole");
  }
  if (type == "timesformer") {
    return std::make_unique<TimesformerModel>(TimesformerModel::from_pretrained(directory, dtype, device));
  }
  if (type == "audio-spectrogram-transformer") {
    return std::make_unique<AstModel>(AstModel::from_pretrained(directory, dtype, device));
  }
  throw Error(path, "model_type \"" + type +
                        "\" is not an encoder eP-ALM supports (vit, timesformer, audio-spectrogram-transformer)");
}

std::int64_t encoder_parameter_count(const std::string& directory) {
  const auto path = (std::filesystem::path(directory) / "config.json").string();
  const std::string type = config_json::load_object(path).value("model_type", "vit");
  if (type == "vit") return vit_parameter_count(VitConfig::from_json_file(path));
  if (type == "timesformer") return timesformer_parameter_count(TimesformerConfig::from_json_file(path));
  if (type == "audio-spectrogram-transformer") return ast_parameter_count(AstConfig::from_json_file(path));
  throw Error(path, "model_type \"" + type + "\" is not an encoder eP-ALM supports");
}

EncoderInputGeometry encoder_input_geometry(const std::string& directory) {
  const auto path = (std::filesystem::path(directory) / "config.json").string();
  const std::string type = config_json::load_object(path).value("model_type", "vit");
  EncoderInputGeometry g;
  if (type == "vit") {
    g.image_size = VitConfig::from_json_file(path).image_size;
  } else if (type == "timesformer") {
    g.image_size = TimesformerConfig::from_json_file(path).image_size;
  } else if (type == "audio-spectrogram-transformer") {
    const auto c = AstConfig::from_json_file(path);
    g.mel_bins = c.num_mel_bins;
    g.audio_frames = c.max_length;
  } else {
    throw Error(path, "model_type \"" + type + "\" is not an encoder eP-ALM supports");
  }
  return g;
}

}  // namespace epalm::models
