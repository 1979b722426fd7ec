// How a model computes attention. Eager is Hugging Face's eager attention
// operation for operation (scaled q, additive bias, fp32 softmax): bit-close
// parity. SDPA is LibTorch's fused kernel (flash / memory-efficient on CUDA):
// faster and lighter, within ~1e-5 of eager in fp32. Auto picks SDPA on CUDA
// and eager on the CPU.
#pragma once

#include <string>

namespace epalm::models {

enum class AttentionKernel { kAuto, kEager, kSdpa };

// "auto", "eager", "sdpa"; throws UsageError otherwise.
AttentionKernel parse_attention_kernel(const std::string& name);

}  // namespace epalm::models
