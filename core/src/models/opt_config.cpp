#include <nlohmann/json.hpp>

#include "epalm/core/error.h"
#include "epalm/core/models/opt.h"
#include "models/config_json.h"
#include "models/tensor_count.h"

namespace epalm::models {

namespace {

struct Preset {
  const char* name;
  std::int64_t hidden, layers, heads, ffn, word_embed_proj_dim;
  bool layer_norm_before;
};

// Published facebook/opt-* configs (docs/models.md and the hub config.json files).
constexpr Preset kPresets[] = {
    {"opt-125m", 768, 12, 12, 3072, 768, true},      {"opt-350m", 1024, 24, 16, 4096, 512, false},
    {"opt-1.3b", 2048, 24, 32, 8192, 2048, true},    {"opt-2.7b", 2560, 32, 32, 10240, 2560, true},
    {"opt-6.7b", 4096, 32, 32, 16384, 4096, true},   {"opt-13b", 5120, 40, 40, 20480, 5120, true},
    {"opt-30b", 7168, 48, 56, 28672, 7168, true},    {"opt-66b", 9216, 64, 72, 36864, 9216, true},
};


}  // namespace

OptConfig OptConfig::from_json_file(const std::string& path) {
  using config_json::read;
  const auto j = config_json::load_object(path, "opt");
  OptConfig c;
  read(j, "vocab_size", c.vocab_size, path);
  read(j, "hidden_size", c.hidden_size, path);
  read(j, "num_hidden_layers", c.num_layers, path);
  read(j, "ffn_dim", c.ffn_dim, path);
  read(j, "num_attention_heads", c.num_heads, path);
  read(j, "max_position_embeddings", c.max_positions, path);
  c.word_embed_proj_dim = c.hidden_size;  // HF: None means hidden_size
  read(j, "word_embed_proj_dim", c.word_embed_proj_dim, path);
  read(j, "do_layer_norm_before", c.layer_norm_before, path);
  read(j, "_remove_final_layer_norm", c.remove_final_layer_norm, path);
  read(j, "enable_bias", c.enable_bias, path);
  read(j, "layer_norm_elementwise_affine", c.layer_norm_affine, path);
  read(j, "activation_function", c.activation, path);
  read(j, "pad_token_id", c.pad_token_id, path);
  read(j, "bos_token_id", c.bos_token_id, path);
  read(j, "eos_token_id", c.eos_token_id, path);
  c.validate(path);
  return c;
}

OptConfig OptConfig::preset(const std::string& name) {
  for (const auto& p : kPresets) {
    if (name == p.name || name == std::string("facebook/") + p.name) {
      OptConfig c;
      c.hidden_size = p.hidden;
      c.num_layers = p.layers;
      c.num_heads = p.heads;
      c.ffn_dim = p.ffn;
      c.word_embed_proj_dim = p.word_embed_proj_dim;
      c.layer_norm_before = p.layer_norm_before;
      return c;
    }
  }
  std::string known;
  for (const auto& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
  throw UsageError("OPT preset", "unknown preset '" + name + "' (known: " + known + ")");
}

std::string OptConfig::to_json(const std::string& torch_dtype) const {
  nlohmann::json j;
  j["architectures"] = {"OPTForCausalLM"};
  j["model_type"] = "opt";
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["num_hidden_layers"] = num_layers;
  j["ffn_dim"] = ffn_dim;
  j["num_attention_heads"] = num_heads;
  j["max_position_embeddings"] = max_positions;
  j["word_embed_proj_dim"] = word_embed_proj_dim;
  j["do_layer_norm_before"] = layer_norm_before;
  j["_remove_final_layer_norm"] = remove_final_layer_norm;
  j["enable_bias"] = enable_bias;
  j["layer_norm_elementwise_affine"] = layer_norm_affine;
  j["activation_function"] = activation;
  j["pad_token_id"] = pad_token_id;
  j["bos_token_id"] = bos_token_id;
  j["eos_token_id"] = eos_token_id;
  j["dropout"] = 0.0;
  j["attention_dropout"] = 0.0;
  j["activation_dropout"] = 0.0;
  j["layerdrop"] = 0.0;
  j["init_std"] = 0.02;
  j["use_cache"] = true;
  j["tie_word_embeddings"] = true;
  j["torch_dtype"] = torch_dtype;
  return j.dump(2) + "\n";
}

std::vector<std::string> OptConfig::preset_names() {
  std::vector<std::string> names;
  for (const auto& p : kPresets) names.push_back(p.name);
  return names;
}

void OptConfig::validate(const std::string& where) const {
  auto positive = [&](std::int64_t v, const char* what) {
    if (v <= 0) throw Error(where, std::string(what) + " must be positive, not " + std::to_string(v));
  };
  positive(vocab_size, "vocab_size");
  positive(hidden_size, "hidden_size");
  positive(num_layers, "num_hidden_layers");
  positive(ffn_dim, "ffn_dim");
  positive(num_heads, "num_attention_heads");
  positive(max_positions, "max_position_embeddings");
  positive(word_embed_proj_dim, "word_embed_proj_dim");
  config_json::require_heads_divide(hidden_size, num_heads, where);
  static const char* kActivations[] = {"relu", "gelu", "gelu_new", "silu", "swish"};
  bool known = false;
  for (const char* a : kActivations) known = known || activation == a;
  if (!known) throw Error(where, "unsupported activation_function '" + activation + "'");
}

TensorShapes opt_tensor_shapes(const OptConfig& c) {
  const auto h = c.hidden_size;
  TensorShapes s;
  s["decoder.embed_tokens.weight"] = {c.vocab_size, c.word_embed_proj_dim};
  s["decoder.embed_positions.weight"] = {c.max_positions + 2, h};
  if (c.has_projections()) {
    s["decoder.project_in.weight"] = {h, c.word_embed_proj_dim};
    s["decoder.project_out.weight"] = {c.word_embed_proj_dim, h};
  }
  auto norm = [&](const std::string& name) {
    if (!c.layer_norm_affine) return;
    s[name + ".weight"] = {h};
    s[name + ".bias"] = {h};
  };
  auto linear = [&](const std::string& name, std::int64_t out, std::int64_t in) {
    s[name + ".weight"] = {out, in};
    if (c.enable_bias) s[name + ".bias"] = {out};
  };
  if (c.has_final_layer_norm()) norm("decoder.final_layer_norm");
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "decoder.layers." + std::to_string(i) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) linear(p + "self_attn." + proj, h, h);
    norm(p + "self_attn_layer_norm");
    linear(p + "fc1", c.ffn_dim, h);
    linear(p + "fc2", h, c.ffn_dim);
    norm(p + "final_layer_norm");
  }
  return s;
}

std::int64_t opt_parameter_count(const OptConfig& config) { return count_elements(opt_tensor_shapes(config)); }

}  // namespace epalm::models
