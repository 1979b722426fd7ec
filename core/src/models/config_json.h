// Internal: reading Hugging Face config.json / preprocessor_config.json files
// with errors that name the file and the field (OPT, ViT, TimeSformer, AST,
// image preprocessing).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <string>
#include <type_traits>

#include "epalm/core/error.h"

namespace epalm::models::config_json {

// Which file is read, for the error messages.
enum class FileKind { kConfig, kPreprocessorConfig };

// Throws unless j's model_type is absent or `model_type`.
inline void require_model_type(const nlohmann::json& j, const char* model_type, const std::string& path) {
  if (j.contains("model_type") && j["model_type"] != model_type) {
    throw Error(path, "model_type is " + j["model_type"].dump() + ", not \"" + model_type + "\"");
  }
}

// The file's JSON object; when `model_type` is given and the file names
// another, throws.
inline nlohmann::json load_object(const std::string& path, const char* model_type = nullptr,
                                  FileKind kind = FileKind::kConfig) {
  const bool preprocessor = kind == FileKind::kPreprocessorConfig;
  std::ifstream in(path);
  if (!in) throw Error(path, preprocessor ? "cannot open preprocessor config" : "cannot open config file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number no JSON type holds
    throw Error(path, std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object()) {
    throw Error(path, preprocessor ? "preprocessor config must be a JSON object" : "config must be a JSON object");
  }
  if (model_type != nullptr) require_model_type(j, model_type, path);
  return j;
}

// Integer fields Hugging Face configs may leave null ("None": a default
// applies, e.g. word_embed_proj_dim = hidden_size); any other null is an error.
inline bool may_be_null(const std::string& key) {
  return key == "word_embed_proj_dim" || key == "pad_token_id" || key == "bos_token_id" || key == "eos_token_id" ||
         key == "decoder_start_token_id";
}

// Sets `out` from j[key] when present. A null integer field (other than
// those above) is an error, as is a fractional number for an integer.
template <typename T>
void read(const nlohmann::json& j, const char* key, T& out, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end()) return;
  if (it->is_null()) {
    if (!std::is_integral_v<T> || std::is_same_v<T, bool> || may_be_null(key)) return;
    throw Error(path, std::string("field '") + key + "' is null; it must be an integer");
  }
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (it->is_number_float()) {
      throw Error(path, std::string("field '") + key + "' must be an integer, not " + it->dump());
    }
  }
  try {
    out = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(path, std::string("field '") + key + "' has the wrong type: " + it->dump());
  }
}

inline void require_positive(std::int64_t v, const char* what, const std::string& where) {
  if (v <= 0) throw Error(where, std::string(what) + " must be positive, not " + std::to_string(v));
}

// Attention heads split hidden_size evenly (every transformer here needs it).
inline void require_heads_divide(std::int64_t hidden_size, std::int64_t num_heads, const std::string& where) {
  if (hidden_size % num_heads != 0) {
    throw Error(where, "hidden_size " + std::to_string(hidden_size) + " is not divisible by num_attention_heads " +
                           std::to_string(num_heads));
  }
}

// What every encoder's blocks (ViT, TimeSformer, AST) need of a config:
// positive sizes, heads dividing hidden_size, a positive LayerNorm epsilon
// and an activation the blocks implement (config_checks.cpp).
void require_encoder_blocks(std::int64_t hidden_size, std::int64_t num_layers, std::int64_t num_heads,
                            std::int64_t intermediate_size, double layer_norm_eps, const std::string& activation,
                            const std::string& where);

// What every encoder's config.json (ViT, TimeSformer, AST) says of its
// transformer blocks, as transformers writes it (no dropout, fp32).
inline nlohmann::json encoder_blocks_json(const char* architecture, const char* model_type, std::int64_t hidden_size,
                                          std::int64_t num_layers, std::int64_t num_heads,
                                          std::int64_t intermediate_size, double layer_norm_eps, bool qkv_bias,
                                          const std::string& activation) {
  nlohmann::json j;
  j["architectures"] = {architecture};
  j["model_type"] = model_type;
  j["hidden_size"] = hidden_size;
  j["num_hidden_layers"] = num_layers;
  j["num_attention_heads"] = num_heads;
  j["intermediate_size"] = intermediate_size;
  j["layer_norm_eps"] = layer_norm_eps;
  j["qkv_bias"] = qkv_bias;
  j["hidden_dropout_prob"] = 0.0;
  j["attention_probs_dropout_prob"] = 0.0;
  j["initializer_range"] = 0.02;
  j["torch_dtype"] = "float32";
  j["hidden_act"] = activation;
  return j;
}

}  // namespace epalm::models::config_json
