// Internal: the pre-LayerNorm transformer block of the ViT family, shared by
// ViT (separate query/key/value, fp32 softmax), AST (likewise) and
// TimeSformer (fused qkv, softmax in the input dtype, plus its divided
// space-time wiring), and usable by any other ViT-family encoder. Hugging
// Face's eager operation order is kept so parity is bit-close:
// scores = (q @ kᵀ) * scale (scale after the product, unlike OPT's scaled
// query), softmax, then @ v. The SDPA kernel goes through layers::attention
// (attention.h). Nothing here knows about a model's names or config.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "epalm/core/models/attention_kernel.h"

namespace epalm::layers {

// Which dtype the eager softmax runs in: fp32 then cast back (ViT, AST, OPT)
// or the input's own (TimeSformer's plain `.softmax(dim=-1)`).
enum class SoftmaxPrecision { kFloat32, kInputDtype };

// Unmasked attention, q/k/v [B, heads, N, d] -> [B, heads, N, d]. Eager:
// softmax((q @ kᵀ) * scale); SDPA: LibTorch's fused kernel.
at::Tensor unmasked_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                              SoftmaxPrecision softmax, models::AttentionKernel kernel);

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

// Self-attention over [B, N, H] with its output projection: either a fused
// qkv [3H, H] (rows q, k, v, each head-major) or separate query/key/value.
struct SelfAttention {
  Linear qkv;
  Linear query, key, value;
  Linear output;
  std::int64_t num_heads = 1;
  SoftmaxPrecision softmax = SoftmaxPrecision::kFloat32;
  // query_rows > 0: only the first query_rows tokens query (keys and values
  // are every token's); the output has those rows only.
  at::Tensor operator()(const at::Tensor& x, models::AttentionKernel kernel, std::int64_t query_rows = 0) const;
};

// x + attention(norm_before(x)), then h + output(act(intermediate(norm_after(h)))).
struct PreLnBlock {
  LayerNorm norm_before;
  SelfAttention attention;
  LayerNorm norm_after;
  Linear intermediate, output;
  std::string activation = "gelu";
  at::Tensor mlp(const at::Tensor& h) const;  // h + output(act(intermediate(norm_after(h))))
  // query_rows > 0: the output's first query_rows tokens only, computed
  // without the other rows' queries and MLP (a last block whose [CLS] token
  // alone is read).
  at::Tensor operator()(const at::Tensor& x, models::AttentionKernel kernel, std::int64_t query_rows = 0) const;
};

}  // namespace epalm::layers
