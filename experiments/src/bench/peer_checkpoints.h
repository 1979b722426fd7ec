// Our random weights written as Hugging Face checkpoints (config.json +
// model.safetensors), so the Python peers of `epalm bench` load the very same
// weights with from_pretrained.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>

namespace epalm::models {
class OptModel;
struct VitConfig;
}  // namespace epalm::models

namespace epalm::experiments {

// "float32", "float16" or "bfloat16": config.json's torch_dtype.
std::string torch_dtype_name(c10::ScalarType dtype);

// The model's weights under OPTForCausalLM's names, into `directory` (created).
void write_opt_checkpoint(const models::OptModel& model, const std::string& directory);

// Random ViTModel weights by HF's names, drawn in fp32 on the CPU from `seed`:
// normal(0, 0.02) matrices, convolution, [CLS] and positions; biases and
// LayerNorm shifts normal(0, 0.02) too and LayerNorm scales 1 + normal(0, 0.02),
// so that a transposed or misplaced vector shows in the outputs.
std::map<std::string, at::Tensor> vit_random_weights(const models::VitConfig& config, std::uint64_t seed);

// `weights` (fp32, HF ViTModel names) as a ViTModel checkpoint in `dtype`.
void write_vit_checkpoint(const models::VitConfig& config, const std::map<std::string, at::Tensor>& weights,
                          c10::ScalarType dtype, const std::string& directory);

}  // namespace epalm::experiments
