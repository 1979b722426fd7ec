#include <nlohmann/json.hpp>

#include <regex>

#include "epalm/core/error.h"
#include "epalm/core/models/vit.h"
#include "models/config_json.h"
#include "models/tensor_count.h"

namespace epalm::models {

namespace {

using config_json::read;

struct Width {
  const char* name;
  std::int64_t hidden, layers, heads, mlp;
};

// timm's ViT widths (vision_transformer.py model defs); mlp_ratio 4.
constexpr Width kWidths[] = {
    {"tiny", 192, 12, 3, 768},     {"small", 384, 12, 6, 1536},   {"base", 768, 12, 12, 3072},
    {"large", 1024, 24, 16, 4096}, {"huge", 1280, 32, 16, 5120},
};

struct Preset {
  const char* name;
  const char* width;
  std::int64_t patch, image;
  double eps;
};

// HF google/vit-* (docs/models.md; in21k checkpoints share the
// architecture and add only the pooler) and timm (eps 1e-6, 5.6).
constexpr Preset kPresets[] = {
    {"vit-base-patch16-224", "base", 16, 224, 1e-12},
    {"vit-base-patch16-224-in21k", "base", 16, 224, 1e-12},
    {"vit-large-patch16-224", "large", 16, 224, 1e-12},
    {"vit-large-patch16-224-in21k", "large", 16, 224, 1e-12},
    {"vit_base_patch16_224", "base", 16, 224, 1e-6},
    {"vit_large_patch16_224", "large", 16, 224, 1e-6},
};

VitConfig with_width(const std::string& width, std::int64_t patch, std::int64_t image, double eps) {
  for (const auto& w : kWidths) {
    if (width == w.name) {
      VitConfig c;
      c.hidden_size = w.hidden;
      c.num_layers = w.layers;
      c.num_heads = w.heads;
      c.intermediate_size = w.mlp;
      c.patch_size = patch;
      c.image_size = image;
      c.layer_norm_eps = eps;
      return c;
    }
  }
  throw Error("ViT config", "unknown width '" + width + "'");
}


// An int, or [h, w] with h == w (HF accepts both for image_size / patch_size).
void read_square(const nlohmann::json& j, const char* key, std::int64_t& out, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (it->is_array()) {
    if (it->size() != 2 || !(*it)[0].is_number_integer() || (*it)[0] != (*it)[1]) {
      throw Error(path, std::string("field '") + key + "' must be an integer or a square [n, n], not " + it->dump());
    }
    out = (*it)[0].get<std::int64_t>();
    return;
  }
  if (!it->is_number_integer()) {
    throw Error(path, std::string("field '") + key + "' has the wrong type: " + it->dump());
  }
  out = it->get<std::int64_t>();
}

// timm's own config.json: {"architecture": "vit_base_patch16_224", ...}.
VitConfig from_timm_json(const nlohmann::json& j, const std::string& path) {
  std::string architecture;
  read(j, "architecture", architecture, path);
  static const std::regex pattern(R"(^vit_(tiny|small|base|large|huge)_patch(\d+)_(\d+)(\..*)?$)");
  std::smatch m;
  if (!std::regex_match(architecture, m, pattern)) {
    throw Error(path, "timm architecture '" + architecture +
                          "' is not a plain ViT (vit_<tiny|small|base|large|huge>_patch<p>_<size>)");
  }
  auto c = with_width(m[1].str(), std::stoll(m[2].str()), std::stoll(m[3].str()), 1e-6);
  std::string pool = "token";
  read(j, "global_pool", pool, path);
  if (pool != "token" && !pool.empty()) {
    throw Error(path, "timm global_pool '" + pool + "' is unsupported: only \"token\" ([CLS] with the final norm)");
  }
  if (auto args = j.find("model_args"); args != j.end() && !args->is_null()) {
    if (!args->is_object()) throw Error(path, "model_args must be an object");
    for (const auto& [key, value] : args->items()) {
      if (key == "img_size") read_square(*args, "img_size", c.image_size, path);
      else if (key == "qkv_bias") read(*args, "qkv_bias", c.qkv_bias, path);
      else throw Error(path, "timm model_args '" + key + "' is unsupported");
    }
  }
  return c;
}

}  // namespace

VitConfig VitConfig::from_json_file(const std::string& path) {
  const auto j = config_json::load_object(path);
  VitConfig c;
  if (j.contains("architecture") && !j.contains("model_type")) {
    c = from_timm_json(j, path);
  } else {
    config_json::require_model_type(j, "vit", path);
    read(j, "hidden_size", c.hidden_size, path);
    read(j, "num_hidden_layers", c.num_layers, path);
    read(j, "num_attention_heads", c.num_heads, path);
    read(j, "intermediate_size", c.intermediate_size, path);
    read_square(j, "image_size", c.image_size, path);
    read_square(j, "patch_size", c.patch_size, path);
    read(j, "num_channels", c.num_channels, path);
    read(j, "layer_norm_eps", c.layer_norm_eps, path);
    read(j, "qkv_bias", c.qkv_bias, path);
    read(j, "hidden_act", c.hidden_act, path);
  }
  c.validate(path);
  return c;
}

VitConfig VitConfig::preset(const std::string& name_in) {
  std::string name = name_in;
  for (const char* prefix : {"google/", "timm/"}) {
    if (name.rfind(prefix, 0) == 0) name = name.substr(std::string(prefix).size());
  }
  if (name.rfind("vit_", 0) == 0) name = name.substr(0, name.find('.'));  // timm tag
  for (const auto& p : kPresets) {
    if (name == p.name) return with_width(p.width, p.patch, p.image, p.eps);
  }
  std::string known;
  for (const auto& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
  throw UsageError("ViT preset", "unknown preset '" + name_in + "' (known: " + known + ")");
}

std::string VitConfig::to_json() const {
  auto j = config_json::encoder_blocks_json("ViTModel", "vit", hidden_size, num_layers, num_heads,
                                            intermediate_size, layer_norm_eps, qkv_bias, hidden_act);
  j["image_size"] = image_size;
  j["patch_size"] = patch_size;
  j["num_channels"] = num_channels;
  j["encoder_stride"] = patch_size;
  return j.dump(2) + "\n";
}

std::vector<std::string> VitConfig::preset_names() {
  std::vector<std::string> names;
  for (const auto& p : kPresets) names.push_back(p.name);
  return names;
}

void VitConfig::validate(const std::string& where) const {
  using config_json::require_positive;
  config_json::require_encoder_blocks(hidden_size, num_layers, num_heads, intermediate_size, layer_norm_eps, hidden_act,
                                      where);
  require_positive(image_size, "image_size", where);
  require_positive(patch_size, "patch_size", where);
  require_positive(num_channels, "num_channels", where);
  if (patch_size > image_size) {
    throw Error(where, "patch_size " + std::to_string(patch_size) + " exceeds image_size " +
                           std::to_string(image_size));
  }
}

TensorShapes vit_tensor_shapes(const VitConfig& c) {
  const auto h = c.hidden_size;
  TensorShapes s;
  s["embeddings.cls_token"] = {1, 1, h};
  s["embeddings.position_embeddings"] = {1, c.num_positions(), h};
  s["embeddings.patch_embeddings.projection.weight"] = {h, c.num_channels, c.patch_size, c.patch_size};
  s["embeddings.patch_embeddings.projection.bias"] = {h};
  s["layernorm.weight"] = {h};
  s["layernorm.bias"] = {h};
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    for (const char* proj : {"query", "key", "value"}) {
      s[p + "attention.attention." + proj + ".weight"] = {h, h};
      if (c.qkv_bias) s[p + "attention.attention." + proj + ".bias"] = {h};
    }
    s[p + "attention.output.dense.weight"] = {h, h};
    s[p + "attention.output.dense.bias"] = {h};
    s[p + "intermediate.dense.weight"] = {c.intermediate_size, h};
    s[p + "intermediate.dense.bias"] = {c.intermediate_size};
    s[p + "output.dense.weight"] = {h, c.intermediate_size};
    s[p + "output.dense.bias"] = {h};
    for (const char* norm : {"layernorm_before", "layernorm_after"}) {
      s[p + norm + ".weight"] = {h};
      s[p + norm + ".bias"] = {h};
    }
  }
  return s;
}

TensorShapes vit_timm_tensor_shapes(const VitConfig& c) {
  const auto h = c.hidden_size;
  TensorShapes s;
  s["cls_token"] = {1, 1, h};
  s["pos_embed"] = {1, c.num_positions(), h};
  s["patch_embed.proj.weight"] = {h, c.num_channels, c.patch_size, c.patch_size};
  s["patch_embed.proj.bias"] = {h};
  s["norm.weight"] = {h};
  s["norm.bias"] = {h};
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    s[p + "attn.qkv.weight"] = {3 * h, h};
    if (c.qkv_bias) s[p + "attn.qkv.bias"] = {3 * h};
    s[p + "attn.proj.weight"] = {h, h};
    s[p + "attn.proj.bias"] = {h};
    s[p + "mlp.fc1.weight"] = {c.intermediate_size, h};
    s[p + "mlp.fc1.bias"] = {c.intermediate_size};
    s[p + "mlp.fc2.weight"] = {h, c.intermediate_size};
    s[p + "mlp.fc2.bias"] = {h};
    for (const char* norm : {"norm1", "norm2"}) {
      s[p + norm + ".weight"] = {h};
      s[p + norm + ".bias"] = {h};
    }
  }
  return s;
}

std::int64_t vit_parameter_count(const VitConfig& config) { return count_elements(vit_tensor_shapes(config)); }

}  // namespace epalm::models
