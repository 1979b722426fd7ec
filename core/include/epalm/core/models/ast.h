// The Audio Spectrogram Transformer (MIT/ast-finetuned-audioset-10-10-0.4593
// and tiny variants by config) as Hugging Face transformers' ASTModel
// computes it: the [time, mel] filterbank transposed to [mel, time], a 16x16
// patch convolution with the config's frequency/time strides
// (frequency-major patches), CLS and distillation tokens, position
// embeddings, ViT-style pre-LN blocks (fp32 softmax) and the final LayerNorm.
// Weights are frozen (constructor weights that require gradient are held as
// given and train). Features come from audio_features.h.
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
#include "epalm/core/models/state_dict.h"

namespace epalm::models {

struct AstConfig {
  std::int64_t hidden_size = 768;
  std::int64_t num_layers = 12;
  std::int64_t num_heads = 12;
  std::int64_t intermediate_size = 3072;
  std::string activation = "gelu";
  double layer_norm_eps = 1e-12;
  std::int64_t patch_size = 16;
  bool qkv_bias = true;
  std::int64_t frequency_stride = 10;
  std::int64_t time_stride = 10;
  std::int64_t max_length = 1024;  // input frames
  std::int64_t num_mel_bins = 128;

  // Reads a Hugging Face config.json; throws epalm::Error naming the file.
  static AstConfig from_json_file(const std::string& path);
  // "ast-audioset" (= MIT/ast-finetuned-audioset-10-10-0.4593 without the
  // classifier; the other 10-10 AudioSet variants share it).
  static AstConfig preset(const std::string& name);
  static std::vector<std::string> preset_names();
  // A Hugging Face config.json (model_type "audio-spectrogram-transformer", architectures ASTModel) that
  // from_json_file and transformers' ASTConfig read back as this config.
  std::string to_json() const;

  std::int64_t head_dim() const { return hidden_size / num_heads; }
  std::int64_t frequency_patches() const { return (num_mel_bins - patch_size) / frequency_stride + 1; }
  std::int64_t time_patches() const { return (max_length - patch_size) / time_stride + 1; }
  std::int64_t num_tokens() const { return frequency_patches() * time_patches() + 2; }
  void validate(const std::string& where) const;
};

// Every tensor of ASTModel (HF names without "audio_spectrogram_transformer.").
TensorShapes ast_tensor_shapes(const AstConfig& config);
std::int64_t ast_parameter_count(const AstConfig& config);

class AstModel : public Encoder {
 public:
  // A Hugging Face directory (config.json + safetensors), keys with or
  // without "audio_spectrogram_transformer.", the classifier ignored.
  static AstModel from_pretrained(const std::string& directory, c10::ScalarType dtype = c10::kFloat,
                                  c10::Device device = c10::kCPU);
  // Random weights (normal std 0.02 truncated, unit LayerNorms, zero biases).
  static AstModel random(const AstConfig& config, c10::ScalarType dtype = c10::kFloat,
                         c10::Device device = c10::kCPU, std::uint64_t seed = 0);
  AstModel(AstConfig config, const std::map<std::string, at::Tensor>& weights);
  ~AstModel() override;
  AstModel(AstModel&&) noexcept;
  AstModel& operator=(AstModel&&) noexcept;

  const AstConfig& config() const;
  std::int64_t hidden_size() const override;
  std::int64_t num_layers() const override;
  c10::ScalarType dtype() const override;
  c10::Device device() const override;
  void set_attention_kernel(AttentionKernel kernel);
  AttentionKernel attention_kernel() const;

  // input_values [B, max_length, num_mel_bins] (ASTFeatureExtractor's
  // output), moved to the model's device and dtype. Tokens: CLS,
  // distillation, then patches f * time_patches + t.
  // The last block computes its [CLS] row only.
  at::Tensor last_blocks_cls(const at::Tensor& input_values, int levels) const override;
  EncoderOutput forward(const at::Tensor& input_values, bool output_hidden_states = false,
                        const LayerHook& hook = {}) const override;
  at::Tensor final_norm(const at::Tensor& hidden) const override;
  // HF's pooler_output: the mean of the normed CLS and distillation tokens.
  static at::Tensor pool(const at::Tensor& last_hidden_state);

 private:
  EncoderOutput run(const at::Tensor& input_values, bool output_hidden_states, const LayerHook& hook,
                    bool last_block_cls_only) const;
  struct Weights;
  AstConfig config_;
  std::unique_ptr<Weights> weights_;
  AttentionKernel kernel_ = AttentionKernel::kAuto;
};

}  // namespace epalm::models
