#include <nlohmann/json.hpp>

#include "epalm/core/error.h"
#include "epalm/core/models/ast.h"
#include "models/config_json.h"
#include "models/tensor_count.h"

namespace epalm::models {

AstConfig AstConfig::from_json_file(const std::string& path) {
  using config_json::read;
  const auto j = config_json::load_object(path, "audio-spectrogram-transformer");
  AstConfig c;
  read(j, "hidden_size", c.hidden_size, path);
  read(j, "num_hidden_layers", c.num_layers, path);
  read(j, "num_attention_heads", c.num_heads, path);
  read(j, "intermediate_size", c.intermediate_size, path);
  read(j, "hidden_act", c.activation, path);
  read(j, "layer_norm_eps", c.layer_norm_eps, path);
  read(j, "patch_size", c.patch_size, path);
  read(j, "qkv_bias", c.qkv_bias, path);
  read(j, "frequency_stride", c.frequency_stride, path);
  read(j, "time_stride", c.time_stride, path);
  read(j, "max_length", c.max_length, path);
  read(j, "num_mel_bins", c.num_mel_bins, path);
  c.validate(path);
  return c;
}

AstConfig AstConfig::preset(const std::string& name) {
  // MIT/ast-finetuned-audioset-10-10-0.4593 (docs/models.md): the defaults above.
  for (const char* known : {"ast-audioset", "MIT/ast-finetuned-audioset-10-10-0.4593",
                            "ast-finetuned-audioset-10-10-0.4593"}) {
    if (name == known) return AstConfig{};
  }
  throw UsageError("AST preset", "unknown preset '" + name +
                                     "' (known: ast-audioset = MIT/ast-finetuned-audioset-10-10-0.4593)");
}

std::string AstConfig::to_json() const {
  auto j = config_json::encoder_blocks_json("ASTModel", "audio-spectrogram-transformer", hidden_size, num_layers,
                                            num_heads, intermediate_size, layer_norm_eps, qkv_bias, activation);
  j["patch_size"] = patch_size;
  j["frequency_stride"] = frequency_stride;
  j["time_stride"] = time_stride;
  j["max_length"] = max_length;
  j["num_mel_bins"] = num_mel_bins;
  return j.dump(2) + "\n";
}

std::vector<std::string> AstConfig::preset_names() { return {"ast-audioset"}; }

void AstConfig::validate(const std::string& where) const {
  using config_json::require_positive;
  config_json::require_encoder_blocks(hidden_size, num_layers, num_heads, intermediate_size, layer_norm_eps, activation,
                                      where);
  require_positive(patch_size, "patch_size", where);
  require_positive(frequency_stride, "frequency_stride", where);
  require_positive(time_stride, "time_stride", where);
  require_positive(max_length, "max_length", where);
  require_positive(num_mel_bins, "num_mel_bins", where);
  if (patch_size > num_mel_bins || patch_size > max_length) {
    throw Error(where, "patch_size " + std::to_string(patch_size) + " exceeds num_mel_bins " +
                           std::to_string(num_mel_bins) + " or max_length " + std::to_string(max_length));
  }
}

TensorShapes ast_tensor_shapes(const AstConfig& c) {
  const auto h = c.hidden_size;
  TensorShapes s;
  s["embeddings.cls_token"] = {1, 1, h};
  s["embeddings.distillation_token"] = {1, 1, h};
  s["embeddings.position_embeddings"] = {1, c.num_tokens(), h};
  s["embeddings.patch_embeddings.projection.weight"] = {h, 1, c.patch_size, c.patch_size};
  s["embeddings.patch_embeddings.projection.bias"] = {h};
  s["layernorm.weight"] = {h};
  s["layernorm.bias"] = {h};
  auto linear = [&](const std::string& name, std::int64_t out, std::int64_t in, bool bias) {
    s[name + ".weight"] = {out, in};
    if (bias) s[name + ".bias"] = {out};
  };
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    for (const char* proj : {"query", "key", "value"}) linear(p + "attention.attention." + proj, h, h, c.qkv_bias);
    linear(p + "attention.output.dense", h, h, true);
    for (const char* norm : {"layernorm_before", "layernorm_after"}) {
      s[p + norm + ".weight"] = {h};
      s[p + norm + ".bias"] = {h};
    }
    linear(p + "intermediate.dense", c.intermediate_size, h, true);
    linear(p + "output.dense", h, c.intermediate_size, true);
  }
  return s;
}

std::int64_t ast_parameter_count(const AstConfig& config) { return count_elements(ast_tensor_shapes(config)); }

}  // namespace epalm::models
