#include <nlohmann/json.hpp>

#include "epalm/core/error.h"
#include "epalm/core/models/timesformer.h"
#include "models/config_json.h"
#include "models/tensor_count.h"

namespace epalm::models {

TimesformerConfig TimesformerConfig::from_json_file(const std::string& path) {
  using config_json::read;
  const auto j = config_json::load_object(path, "timesformer");
  TimesformerConfig c;
  read(j, "image_size", c.image_size, path);
  read(j, "patch_size", c.patch_size, path);
  read(j, "num_channels", c.num_channels, path);
  read(j, "num_frames", c.num_frames, path);
  read(j, "hidden_size", c.hidden_size, path);
  read(j, "num_hidden_layers", c.num_layers, path);
  read(j, "num_attention_heads", c.num_heads, path);
  read(j, "intermediate_size", c.intermediate_size, path);
  read(j, "hidden_act", c.activation, path);
  read(j, "layer_norm_eps", c.layer_norm_eps, path);
  read(j, "qkv_bias", c.qkv_bias, path);
  read(j, "attention_type", c.attention_type, path);
  c.validate(path);
  return c;
}

TimesformerConfig TimesformerConfig::preset(const std::string& name) {
  // facebook/timesformer-base-finetuned-k400 / -k600 (docs/models.md):
  // the defaults above.
  for (const char* known : {"timesformer-base", "facebook/timesformer-base-finetuned-k400",
                            "facebook/timesformer-base-finetuned-k600", "timesformer-base-finetuned-k400",
                            "timesformer-base-finetuned-k600"}) {
    if (name == known) return TimesformerConfig{};
  }
  throw UsageError("TimeSformer preset", "unknown preset '" + name + "' (known: timesformer-base)");
}

std::string TimesformerConfig::to_json() const {
  auto j = config_json::encoder_blocks_json("TimesformerModel", "timesformer", hidden_size, num_layers, num_heads,
                                            intermediate_size, layer_norm_eps, qkv_bias, activation);
  j["image_size"] = image_size;
  j["patch_size"] = patch_size;
  j["num_channels"] = num_channels;
  j["num_frames"] = num_frames;
  j["attention_type"] = attention_type;
  j["drop_path_rate"] = 0.0;
  return j.dump(2) + "\n";
}

std::vector<std::string> TimesformerConfig::preset_names() { return {"timesformer-base"}; }

void TimesformerConfig::validate(const std::string& where) const {
  using config_json::require_positive;
  config_json::require_encoder_blocks(hidden_size, num_layers, num_heads, intermediate_size, layer_norm_eps, activation,
                                      where);
  require_positive(image_size, "image_size", where);
  require_positive(patch_size, "patch_size", where);
  require_positive(num_channels, "num_channels", where);
  require_positive(num_frames, "num_frames", where);
  if (patch_size > image_size) {
    throw Error(where, "patch_size " + std::to_string(patch_size) + " exceeds image_size " + std::to_string(image_size));
  }
  if (attention_type != "divided_space_time" && attention_type != "joint_space_time" &&
      attention_type != "space_only") {
    throw Error(where, "unknown attention_type '" + attention_type +
                           "' (divided_space_time, joint_space_time or space_only)");
  }
}

TensorShapes timesformer_tensor_shapes(const TimesformerConfig& c) {
  const auto h = c.hidden_size;
  TensorShapes s;
  s["embeddings.cls_token"] = {1, 1, h};
  s["embeddings.position_embeddings"] = {1, c.num_patches() + 1, h};
  if (c.has_time_embeddings()) s["embeddings.time_embeddings"] = {1, c.num_frames, h};
  s["embeddings.patch_embeddings.projection.weight"] = {h, c.num_channels, c.patch_size, c.patch_size};
  s["embeddings.patch_embeddings.projection.bias"] = {h};
  s["layernorm.weight"] = {h};
  s["layernorm.bias"] = {h};
  auto linear = [&](const std::string& name, std::int64_t out, std::int64_t in, bool bias) {
    s[name + ".weight"] = {out, in};
    if (bias) s[name + ".bias"] = {out};
  };
  auto norm = [&](const std::string& name) {
    s[name + ".weight"] = {h};
    s[name + ".bias"] = {h};
  };
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    linear(p + "attention.attention.qkv", 3 * h, h, c.qkv_bias);
    linear(p + "attention.output.dense", h, h, true);
    if (c.divided()) {
      norm(p + "temporal_layernorm");
      linear(p + "temporal_attention.attention.qkv", 3 * h, h, c.qkv_bias);
      linear(p + "temporal_attention.output.dense", h, h, true);
      linear(p + "temporal_dense", h, h, true);
    }
    norm(p + "layernorm_before");
    norm(p + "layernorm_after");
    linear(p + "intermediate.dense", c.intermediate_size, h, true);
    linear(p + "output.dense", h, c.intermediate_size, true);
  }
  return s;
}

std::int64_t timesformer_parameter_count(const TimesformerConfig& config) {
  return count_elements(timesformer_tensor_shapes(config));
}

}  // namespace epalm::models
