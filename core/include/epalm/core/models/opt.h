// The OPT decoder (facebook/opt-125m ... opt-6.7b and larger by config), as
// Hugging Face transformers' OPTForCausalLM computes it: pre- or post-LayerNorm
// (opt-350m), project_in/out, learned positions offset by 2 and computed from
// the attention mask, a tied LM head, a KV cache, every layer's hidden states,
// and a hook before each layer (layer_hooks.h). Weights are frozen tensors:
// gradients flow through them to inputs and hooks, never into them, except
// weights given to the constructor as tensors that require gradient, which
// it holds as given so they train (pretraining, the experiments' pretraining.h). Any layer
// may hold its large matrices sharded across ranks (layer_sharding.h):
// gathered just before it runs (the next one in flight), freed after, and
// gathered again when backward passes through it.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "epalm/core/models/attention_kernel.h"
#include "epalm/core/models/layer_hooks.h"
#include "epalm/core/models/layer_sharding.h"
#include "epalm/core/models/kv_cache.h"
#include "epalm/core/models/packed_rows.h"
#include "epalm/core/models/state_dict.h"

namespace epalm::parallel {
class ShardedUnit;
}

namespace epalm::models {

class ShardedLayers;

struct OptConfig {
  std::int64_t vocab_size = 50272;
  std::int64_t hidden_size = 768;
  std::int64_t num_layers = 12;
  std::int64_t ffn_dim = 3072;
  std::int64_t num_heads = 12;
  std::int64_t max_positions = 2048;
  std::int64_t word_embed_proj_dim = 768;  // != hidden_size adds project_in/out (opt-350m)
  bool layer_norm_before = true;           // false: post-LayerNorm (opt-350m)
  bool remove_final_layer_norm = false;
  bool enable_bias = true;
  bool layer_norm_affine = true;
  std::string activation = "relu";
  std::int64_t pad_token_id = 1;
  std::int64_t bos_token_id = 2;
  std::int64_t eos_token_id = 2;

  // Reads a Hugging Face config.json; throws epalm::Error naming the file.
  static OptConfig from_json_file(const std::string& path);
  // Architectures of the published checkpoints: opt-125m, opt-350m, opt-1.3b,
  // opt-2.7b, opt-6.7b, opt-13b, opt-30b, opt-66b.
  static OptConfig preset(const std::string& name);
  static std::vector<std::string> preset_names();
  // A Hugging Face config.json (model_type "opt", OPTForCausalLM) that
  // from_json_file and transformers' OPTConfig read back as this config.
  std::string to_json(const std::string& torch_dtype = "float32") const;

  std::int64_t head_dim() const { return hidden_size / num_heads; }
  bool has_projections() const { return word_embed_proj_dim != hidden_size; }
  bool has_final_layer_norm() const { return layer_norm_before && !remove_final_layer_norm; }
  // Bytes the KV cache holds per token of one sequence (keys and values of
  // every layer) at `element_bytes` per value.
  std::int64_t kv_cache_bytes_per_token(std::int64_t element_bytes) const {
    return 2 * num_layers * hidden_size * element_bytes;
  }
  // Throws epalm::Error(where, ...) for an impossible architecture.
  void validate(const std::string& where) const;
};

// Every tensor the model holds (names as OPTForCausalLM's state dict without
// the optional "model." prefix, lm_head tied to decoder.embed_tokens).
TensorShapes opt_tensor_shapes(const OptConfig& config);
std::int64_t opt_parameter_count(const OptConfig& config);

struct OptForwardOptions {
  // [B, past + T], 1 = token, 0 = padding; all ones when undefined.
  at::Tensor attention_mask;
  // [B, P, word_embed_proj_dim]: tokens before the text with no position
  // embedding (soft prompts). Only on a first step (empty cache).
  at::Tensor prefix_embeds;
  KvCache* cache = nullptr;  // extended in place when given
  LayerHook hook;
  SublayerOutputHook attention_output_hook;  // adapters on the attention output
  SublayerOutputHook ffn_output_hook;        // adapters on fc2's output
  // The trainable tensors the sublayer hooks read at a layer: a sharded layer
  // recomputes itself in backward and hands them their gradients there.
  std::function<std::vector<at::Tensor>(int layer)> sublayer_hook_parameters;
  bool output_hidden_states = false;
  bool compute_logits = true;
  bool last_position_logits_only = false;  // generation needs one position
  AttentionKernel attention_kernel = AttentionKernel::kAuto;
};

struct OptOutput {
  at::Tensor logits;             // [B, T or 1, vocab]
  at::Tensor last_hidden_state;  // after the final LayerNorm and project_out
  // HF convention: the embeddings, then every layer's input, then the final
  // state: num_layers + 1 tensors.
  std::vector<at::Tensor> hidden_states;
};

class OptModel {
 public:
  // A Hugging Face OPT directory: config.json and safetensors weights (one file
  // or sharded), under either key prefix, lm_head stored or tied.
  static OptModel from_pretrained(const std::string& directory, c10::ScalarType dtype = c10::kFloat,
                                  c10::Device device = c10::kCPU);
  // The same with the layers `sharding` names held 1/N per rank: every rank
  // of the communicator must load, and then run every forward, together.
  static OptModel from_pretrained(const std::string& directory, c10::ScalarType dtype, c10::Device device,
                                  const LayerSharding& sharding);
  // Random weights for any architecture (no download), initialised as
  // transformers' OPTPreTrainedModel does: linear and embedding weights
  // normal(0, 0.02), zero biases and padding embedding row, unit LayerNorms.
  // Drawn in fp32 on the CPU from `seed`, so every dtype and device gets the
  // same values (rounded).
  static OptModel random(const OptConfig& config, c10::ScalarType dtype = c10::kFloat,
                         c10::Device device = c10::kCPU, std::uint64_t seed = 0);
  // Weights by the names of opt_tensor_shapes(); checked.
  OptModel(OptConfig config, const std::map<std::string, at::Tensor>& weights);
  ~OptModel();
  OptModel(OptModel&&) noexcept;
  OptModel& operator=(OptModel&&) noexcept;

  const OptConfig& config() const;
  c10::ScalarType dtype() const;
  c10::Device device() const;

  OptOutput forward(const at::Tensor& input_ids, const OptForwardOptions& options = {}) const;
  // Packed rows (packed_rows.h). The input rows: word embeddings [N,
  // word_embed_proj_dim] projected in, plus the position embeddings' rows
  // `positions` [N] (forward()'s: 2 + the token's index among the real
  // tokens of its sequence; -1: none, a soft prompt's).
  at::Tensor embed_rows(const at::Tensor& word_embeds, const at::Tensor& positions) const;
  // Every layer over packed rows, then the final LayerNorm and the
  // projection out: the rows as last_hidden_state holds them.
  at::Tensor forward_rows(const at::Tensor& rows, const RowsForwardOptions& options) const;
  // A short stable digest of the architecture and every weight's values
  // (statistics and leading elements), cheap enough for multi-GB models:
  // checkpoints of trainables record it to refuse other base weights.
  std::string fingerprint() const;

  // Every weight held whole, by its opt_tensor_shapes() name (shared, not
  // copied): all of them unless layers are sharded.
  std::map<std::string, at::Tensor> weights() const;
  // Layer `layer`'s sharded matrices; nullptr when it is held whole.
  const parallel::ShardedUnit* sharded_layer(std::int64_t layer) const;
  FrozenFootprint frozen_footprint() const;
  // The tied LM head: logits of final hidden states (last_hidden_state rows).
  at::Tensor lm_head(const at::Tensor& hidden) const;
  // Token embeddings [B, T, word_embed_proj_dim] (before project_in).
  at::Tensor embed_tokens(const at::Tensor& input_ids) const;

 private:
  struct Weights;
  OptModel(OptConfig config, const std::map<std::string, at::Tensor>& weights, std::unique_ptr<ShardedLayers> sharded);
  OptConfig config_;
  std::unique_ptr<Weights> weights_;
};

}  // namespace epalm::models
