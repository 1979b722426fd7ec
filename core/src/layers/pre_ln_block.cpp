#include "layers/pre_ln_block.h"

#include <torch/torch.h>

#include <cmath>

#include "layers/attention.h"
#include "epalm/core/layers/frozen_linear.h"

namespace epalm::layers {

at::Tensor unmasked_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                              SoftmaxPrecision softmax, models::AttentionKernel kernel) {
  // Auto takes the fused kernel on every device here (attention_kernel.h says
  // why); eager stays HF's operation order.
  if (models::unmasked_attention_is_fused(kernel)) {
    return attention(q, k, v, {}, scale, models::AttentionKernel::kSdpa);
  }
  // HF eager_attention_forward: matmul(q, kᵀ) * scaling, then softmax.
  auto scores = torch::matmul(q, k.transpose(-1, -2)) * scale;
  auto probs = softmax == SoftmaxPrecision::kFloat32 ? torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type())
                                                     : torch::softmax(scores, -1);
  return torch::matmul(probs, v);
}

at::Tensor Linear::operator()(const at::Tensor& x) const { return frozen_linear(x, weight, bias); }

at::Tensor LayerNorm::operator()(const at::Tensor& x) const {
  return torch::layer_norm(x, {weight.size(0)}, weight, bias, eps);
}

bool is_supported_activation(const std::string& name) {
  for (const char* known : {"gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "silu", "swish",
                            "quick_gelu"}) {
    if (name == known) return true;
  }
  return false;
}

at::Tensor activate(const std::string& name, const at::Tensor& x) {
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return torch::gelu(x, "tanh");
  if (name == "relu") return torch::relu(x);
  if (name == "quick_gelu") return x * torch::sigmoid(1.702 * x);
  return torch::silu(x);  // silu / swish; callers validate names first
}

at::Tensor SelfAttention::operator()(const at::Tensor& x, models::AttentionKernel kernel,
                                     std::int64_t query_rows) const {
  const auto b = x.size(0);
  const auto n = x.size(1);
  const auto c = x.size(2);
  const auto d = c / num_heads;
  const auto rows = query_rows > 0 ? std::min(query_rows, n) : n;
  at::Tensor q, k, v;
  if (qkv.weight.defined()) {
    auto fused = qkv(x).reshape({b, n, 3, num_heads, d}).permute({2, 0, 3, 1, 4});
    q = fused[0].slice(2, 0, rows);
    k = fused[1];
    v = fused[2];
  } else {
    auto heads = [&](const Linear& l, const at::Tensor& in) {
      return l(in).view({b, in.size(1), num_heads, d}).transpose(1, 2);
    };
    q = heads(query, rows == n ? x : x.slice(1, 0, rows));
    k = heads(key, x);
    v = heads(value, x);
  }
  const double scale = std::pow(static_cast<double>(d), -0.5);
  auto context = unmasked_attention(q, k, v, scale, softmax, kernel);
  return output(context.transpose(1, 2).reshape({b, rows, c}));
}

at::Tensor PreLnBlock::mlp(const at::Tensor& h) const {
  return h + output(activate(activation, intermediate(norm_after(h))));
}

at::Tensor PreLnBlock::operator()(const at::Tensor& x, models::AttentionKernel kernel, std::int64_t query_rows) const {
  const auto attended = attention(norm_before(x), kernel, query_rows);
  return mlp(x.slice(1, 0, attended.size(1)) + attended);
}

}  // namespace epalm::layers
