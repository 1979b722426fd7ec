// Internal: the pre-LayerNorm transformer block of the ViT family (ViT, and
// by construction AST and DeiT; TimeSformer's spatial/temporal halves use the
// same pieces), in Hugging Face's operation order so eager parity is
// bit-close: scores = (q @ kᵀ) * scale (scale after the product, unlike
// OPT's scaled query), fp32 softmax cast back, then @ v. The SDPA kernel goes
// through layers::attention (attention.h). Written to be shared: nothing here
// knows about ViT's names or config.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "epalm/core/models/attention_kernel.h"

namespace epalm::layers::encoder {

struct Linear {
  at::Tensor weight, bias;  // bias may be undefined
  at::Tensor operator()(const at::Tensor& x) const;
};

struct LayerNorm {
  at::Tensor weight, bias;
  double eps = 1e-5;
  at::Tensor operator()(const at::Tensor& x) const;
};

// "gelu" (exact erf), "gelu_new" / "gelu_pytorch_tanh" / "gelu_fast" (tanh
// form), "relu", "silu" / "swish", "quick_gelu".
bool is_supported_activation(const std::string& name);
at::Tensor activate(const std::string& name, const at::Tensor& x);

// Unmasked multi-head self-attention over [B, N, H]: separate query/key/value
// projections, then the output projection. Eager: softmax(((q @ kᵀ) * scale),
// fp32); SDPA: LibTorch's fused kernel.
struct SelfAttention {
  Linear query, key, value, output;
  std::int64_t num_heads = 1;
  at::Tensor operator()(const at::Tensor& x, models::AttentionKernel kernel) const;
};

// h = x + attention(norm_before(x)); h + output(act(intermediate(norm_after(h)))).
struct PreNormBlock {
  LayerNorm norm_before;
  SelfAttention attention;
  LayerNorm norm_after;
  Linear intermediate, output;
  std::string activation = "gelu";
  at::Tensor operator()(const at::Tensor& x, models::AttentionKernel kernel) const;
};

}  // namespace epalm::layers::encoder
