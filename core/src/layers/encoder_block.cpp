#include "layers/encoder_block.h"

#include <torch/torch.h>

#include <cmath>

#include "layers/attention.h"

namespace epalm::layers::encoder {

at::Tensor Linear::operator()(const at::Tensor& x) const { return torch::linear(x, weight, bias); }

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

at::Tensor SelfAttention::operator()(const at::Tensor& x, models::AttentionKernel kernel) const {
  const auto batch = x.size(0);
  const auto tokens = x.size(1);
  const auto width = query.weight.size(0);
  const auto head_dim = width / num_heads;
  auto heads = [&](const at::Tensor& t) { return t.view({batch, tokens, num_heads, head_dim}).transpose(1, 2); };
  const auto q = heads(query(x));
  const auto k = heads(key(x));
  const auto v = heads(value(x));
  const double scale = std::pow(static_cast<double>(head_dim), -0.5);
  if (kernel == models::AttentionKernel::kAuto) {
    kernel = x.is_cuda() ? models::AttentionKernel::kSdpa : models::AttentionKernel::kEager;
  }
  at::Tensor context;
  if (kernel == models::AttentionKernel::kSdpa) {
    context = layers::attention(q, k, v, {}, scale, kernel);
  } else {
    // HF eager_attention_forward: matmul(q, kᵀ) * scaling, fp32 softmax, cast back.
    auto scores = torch::matmul(q, k.transpose(-1, -2)) * scale;
    context = torch::matmul(torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type()), v);
  }
  return output(context.transpose(1, 2).reshape({batch, tokens, width}));
}

at::Tensor PreNormBlock::operator()(const at::Tensor& x, models::AttentionKernel kernel) const {
  auto h = attention(norm_before(x), kernel) + x;
  return output(activate(activation, intermediate(norm_after(h)))) + h;
}

}  // namespace epalm::layers::encoder
