// How a model computes attention. Eager is Hugging Face's eager attention
// operation for operation (scaled q, additive bias, fp32 softmax): bit-close
// parity. SDPA is LibTorch's fused kernel (flash / memory-efficient on CUDA):
// faster and lighter, within ~1e-5 of eager in fp32. Auto picks SDPA on CUDA;
// on the CPU, SDPA for the encoders' unmasked attention (ATen's CPU flash
// kernel: 2-5x faster than eager on ViT, TimeSformer and AST shapes, and no
// [heads, N, N] scores kept; what it gives end to end: docs/models.md) and
// eager for the decoder's masked attention.
#pragma once

#include <string>

namespace epalm::models {

enum class AttentionKernel { kAuto, kEager, kSdpa };

// Whether unmasked (encoder) attention under `kernel` runs the fused kernel,
// on any device: every kernel but eager. Rounding bounds follow it.
constexpr bool unmasked_attention_is_fused(AttentionKernel kernel) { return kernel != AttentionKernel::kEager; }

// "auto", "eager", "sdpa"; throws UsageError otherwise.
AttentionKernel parse_attention_kernel(const std::string& name);

}  // namespace epalm::models
