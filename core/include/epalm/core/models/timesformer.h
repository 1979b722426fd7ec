// The TimeSformer video encoder (facebook/timesformer-base-finetuned-k400 /
// -k600 and tiny variants by config) as Hugging Face transformers'
// TimesformerModel computes it: patch + position + time embeddings, divided
// space-time attention (temporal attention and temporal dense first, then
// spatial attention with the CLS token repeated per frame and averaged back),
// softmax in the input dtype, and the final LayerNorm. "joint_space_time" and
// "space_only" configs are supported as HF runs them. Weights are frozen
// (constructor weights that require gradient are held as given and train).
//
// Frame counts: the time embeddings are nearest-interpolated to the input's
// frame count, while the blocks reshape with config.num_frames, exactly as HF
// does (https://github.com/huggingface/transformers/issues/38027); an input
// whose token count HF cannot reshape is rejected here with a clear error.
// To run another frame count properly, load with `num_frames` set
// (from_pretrained's argument), which nearest-interpolates the checkpoint's
// time embeddings at load as the original TimeSformer does.
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

struct TimesformerConfig {
  std::int64_t image_size = 224;
  std::int64_t patch_size = 16;
  std::int64_t num_channels = 3;
  std::int64_t num_frames = 8;
  std::int64_t hidden_size = 768;
  std::int64_t num_layers = 12;
  std::int64_t num_heads = 12;
  std::int64_t intermediate_size = 3072;
  std::string activation = "gelu";
  double layer_norm_eps = 1e-6;
  bool qkv_bias = true;
  std::string attention_type = "divided_space_time";  // or joint_space_time, space_only

  // Reads a Hugging Face config.json; throws epalm::Error naming the file.
  static TimesformerConfig from_json_file(const std::string& path);
  // "timesformer-base" (= facebook/timesformer-base-finetuned-k400 / -k600
  // without the classifier).
  static TimesformerConfig preset(const std::string& name);
  static std::vector<std::string> preset_names();
  // A Hugging Face config.json (model_type "timesformer", architectures TimesformerModel) that
  // from_json_file and transformers' TimesformerConfig read back as this config.
  std::string to_json() const;

  std::int64_t head_dim() const { return hidden_size / num_heads; }
  std::int64_t patches_per_side() const { return image_size / patch_size; }
  std::int64_t num_patches() const { return patches_per_side() * patches_per_side(); }
  bool has_time_embeddings() const { return attention_type != "space_only"; }
  bool divided() const { return attention_type == "divided_space_time"; }
  void validate(const std::string& where) const;
};

// Every tensor of TimesformerModel (HF names without "timesformer.").
TensorShapes timesformer_tensor_shapes(const TimesformerConfig& config);
std::int64_t timesformer_parameter_count(const TimesformerConfig& config);

class TimesformerModel : public Encoder {
 public:
  // A Hugging Face directory (config.json + safetensors), keys with or
  // without "timesformer.", the classifier ignored. `num_frames` > 0
  // overrides config.num_frames and nearest-interpolates the stored time
  // embeddings to it.
  static TimesformerModel from_pretrained(const std::string& directory, c10::ScalarType dtype = c10::kFloat,
                                          c10::Device device = c10::kCPU, std::int64_t num_frames = 0);
  // Random weights (truncated-normal std 0.02 like HF's init, unit
  // LayerNorms, zero biases) for benchmarks and tests.
  static TimesformerModel random(const TimesformerConfig& config, c10::ScalarType dtype = c10::kFloat,
                                 c10::Device device = c10::kCPU, std::uint64_t seed = 0);
  // Weights by the names of timesformer_tensor_shapes(); checked.
  TimesformerModel(TimesformerConfig config, const std::map<std::string, at::Tensor>& weights);
  ~TimesformerModel() override;
  TimesformerModel(TimesformerModel&&) noexcept;
  TimesformerModel& operator=(TimesformerModel&&) noexcept;

  const TimesformerConfig& config() const;
  std::int64_t hidden_size() const override;
  std::int64_t num_layers() const override;
  c10::ScalarType dtype() const override;
  c10::Device device() const override;
  // Eager (HF's operations) or SDPA; auto: SDPA (attention_kernel.h).
  void set_attention_kernel(AttentionKernel kernel);
  AttentionKernel attention_kernel() const;

  // pixel_values [B, T, C, H, W] (HF's layout), moved to the model's device
  // and dtype. Tokens: CLS, then patch-major, frame-minor (index n*T + t).
  // A hook must keep the hidden state's shape.
  EncoderOutput forward(const at::Tensor& pixel_values, bool output_hidden_states = false,
                        const LayerHook& hook = {}) const override;
  at::Tensor final_norm(const at::Tensor& hidden) const override;

 private:
  struct Weights;
  TimesformerConfig config_;
  std::unique_ptr<Weights> weights_;
  AttentionKernel kernel_ = AttentionKernel::kAuto;
};

}  // namespace epalm::models
