// The ViT image encoder (google/vit-base-patch16-224, vit-large, and timm's
// vit_base_patch16_224 / vit_large_patch16_224, the encoders eP-ALM uses), as
// Hugging Face transformers' ViTModel computes it: patch convolution, [CLS]
// token, learned position embeddings (bicubically interpolated for other input
// sizes, as HF's interpolate_pos_encoding), pre-LayerNorm blocks, the final
// LayerNorm, and every block's output. No pooler: eP-ALM reads [CLS] tokens.
// Weights are frozen tensors: gradients flow through them, never into them
// (constructor weights that require gradient are held as given and train).
//
// Checkpoints (from_pretrained), a directory holding config.json and
// safetensors weights (one file or sharded) named either way:
//   - Hugging Face: ViTModel (no prefix, pooler.* ignored) or
//     ViTForImageClassification ("vit." prefix, classifier.* ignored);
//   - timm: cls_token, pos_embed, patch_embed.proj, blocks.{i}.{norm1, attn.qkv,
//     attn.proj, norm2, mlp.fc1, mlp.fc2}, norm (head.*, pre_logits.* ignored),
//     detected by those names; the fused qkv rows are split into query, key,
//     value (docs/models.md). Its config.json is either timm's own (hub
//     repos timm/vit_*: "architecture": "vit_base_patch16_224", LayerNorm eps
//     1e-6 implied) or an HF ViTConfig, which must then say
//     "layer_norm_eps": 1e-6 (timm's eps; the HF default is 1e-12).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "epalm/core/models/attention_kernel.h"
#include "epalm/core/models/encoder.h"
#include "epalm/core/models/layer_hooks.h"
#include "epalm/core/models/layer_sharding.h"
#include "epalm/core/models/state_dict.h"

namespace epalm::parallel {
class ShardedUnit;
}

namespace epalm::models {

class ShardedLayers;

struct VitConfig {
  std::int64_t hidden_size = 768;
  std::int64_t num_layers = 12;
  std::int64_t num_heads = 12;
  std::int64_t intermediate_size = 3072;
  std::int64_t image_size = 224;  // square
  std::int64_t patch_size = 16;
  std::int64_t num_channels = 3;
  double layer_norm_eps = 1e-12;  // HF's default; timm's ViT uses 1e-6
  bool qkv_bias = true;
  std::string hidden_act = "gelu";

  // Reads a Hugging Face ViTConfig config.json, or timm's config.json
  // ("architecture": "vit_<size>_patch<p>_<image>[.tag]", eps 1e-6);
  // throws epalm::Error naming the file.
  static VitConfig from_json_file(const std::string& path);
  // Architectures: vit-base-patch16-224, vit-large-patch16-224 (HF, eps 1e-12;
  // the -in21k variants are the same architecture), and timm's
  // vit_base_patch16_224, vit_large_patch16_224 (eps 1e-6). "google/" and
  // "timm/" prefixes and a timm ".tag" suffix are accepted.
  static VitConfig preset(const std::string& name);
  static std::vector<std::string> preset_names();
  // A Hugging Face config.json (model_type "vit", architectures ViTModel) that
  // from_json_file and transformers' ViTConfig read back as this config.
  std::string to_json() const;

  std::int64_t head_dim() const { return hidden_size / num_heads; }
  std::int64_t grid_size() const { return image_size / patch_size; }
  std::int64_t num_patches() const { return grid_size() * grid_size(); }
  std::int64_t num_positions() const { return num_patches() + 1; }  // with [CLS]
  // Throws epalm::Error(where, ...) for an impossible architecture.
  void validate(const std::string& where) const;
};

// Every tensor the model holds, by HF ViTModel's names (no prefix, no pooler).
TensorShapes vit_tensor_shapes(const VitConfig& config);
// The same tensors by timm's names (fused qkv, no head).
TensorShapes vit_timm_tensor_shapes(const VitConfig& config);
std::int64_t vit_parameter_count(const VitConfig& config);

struct VitForwardOptions {
  // Inputs of another size than config.image_size: interpolate the position
  // embeddings bicubically (HF interpolate_pos_encoding=True). Without it such
  // inputs are an error, as in HF.
  bool interpolate_pos_encoding = false;
  bool output_hidden_states = false;
  LayerHook hook;  // before each block; attention_bias undefined
  AttentionKernel attention_kernel = AttentionKernel::kAuto;
  // Only the [CLS] row of the last block's output is wanted: that block
  // computes it alone (its hidden state and last_hidden_state hold one token).
  bool last_block_cls_only = false;
};

class VitModel : public Encoder {
 public:
  // A Hugging Face or timm ViT directory (see the top of this file).
  static VitModel from_pretrained(const std::string& directory, c10::ScalarType dtype = c10::kFloat,
                                  c10::Device device = c10::kCPU);
  // The same with the blocks `sharding` names held 1/N per rank (Hugging Face
  // names only): every rank must load, and then run every forward, together.
  static VitModel from_pretrained(const std::string& directory, c10::ScalarType dtype, c10::Device device,
                                  const LayerSharding& sharding);
  // Random weights (benchmarks, tests) as HF initialises ViT: normal(0, 0.02)
  // for matrices, convolution, [CLS] and positions, zero biases, unit
  // LayerNorms; drawn in fp32 on the CPU from `seed`, then converted.
  static VitModel random(const VitConfig& config, c10::ScalarType dtype = c10::kFloat, c10::Device device = c10::kCPU,
                         std::uint64_t seed = 0);
  // Weights by the names of vit_tensor_shapes(); checked.
  VitModel(VitConfig config, const std::map<std::string, at::Tensor>& weights);
  ~VitModel() override;
  VitModel(VitModel&&) noexcept;
  VitModel& operator=(VitModel&&) noexcept;

  const VitConfig& config() const;
  std::int64_t hidden_size() const override { return config().hidden_size; }
  std::int64_t num_layers() const override { return config().num_layers; }
  c10::ScalarType dtype() const override;
  c10::Device device() const override;

  // pixel_values [B, C, H, W] (any float dtype and device; cast to the
  // model's). Output: last_hidden_state [B, 1 + patches, hidden] after the
  // final LayerNorm, and, when asked, num_layers + 1 hidden states (the
  // embeddings, then each block's output before the final LayerNorm).
  EncoderOutput forward(const at::Tensor& pixel_values, const VitForwardOptions& options) const;
  EncoderOutput forward(const at::Tensor& pixel_values, bool output_hidden_states = false,
                        const LayerHook& hook = {}) const override;
  // The final LayerNorm ("layernorm" / timm "norm").
  at::Tensor final_norm(const at::Tensor& hidden) const override;
  // The last block computes its [CLS] row only.
  at::Tensor last_blocks_cls(const at::Tensor& pixel_values, int levels) const override;
  // The position embeddings [1, 1 + (height/p)*(width/p), hidden] used for
  // an input of that size (interpolated unless it is the configured one).
  at::Tensor position_embeddings(std::int64_t height, std::int64_t width) const;
  // Block `layer`'s sharded matrices; nullptr when it is held whole.
  const parallel::ShardedUnit* sharded_layer(std::int64_t layer) const;
  FrozenFootprint frozen_footprint() const;

 private:
  struct Weights;
  VitModel(VitConfig config, const std::map<std::string, at::Tensor>& weights, std::unique_ptr<ShardedLayers> sharded);
  VitConfig config_;
  std::unique_ptr<Weights> weights_;
};

}  // namespace epalm::models
