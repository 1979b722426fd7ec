#include "attention.h"

#include <torch/torch.h>

#include <optional>

#include "epalm/core/error.h"

namespace epalm {

namespace models {

AttentionKernel parse_attention_kernel(const std::string& name) {
  if (name == "auto") return AttentionKernel::kAuto;
  if (name == "eager") return AttentionKernel::kEager;
  if (name == "sdpa") return AttentionKernel::kSdpa;
  throw UsageError("attention kernel", "unknown kernel '" + name + "' (use auto, eager or sdpa)");
}

}  // namespace models

namespace layers {

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                     double scale, models::AttentionKernel kernel) {
  if (kernel == models::AttentionKernel::kAuto) {
    kernel = q.is_cuda() ? models::AttentionKernel::kSdpa : models::AttentionKernel::kEager;
  }
  if (kernel == models::AttentionKernel::kSdpa) {
    // An undefined bias must reach SDPA as no mask at all, not as a tensor.
    const auto mask = bias.defined() ? std::optional<at::Tensor>(bias) : std::nullopt;
    return at::scaled_dot_product_attention(q, k, v, mask, 0.0, false, scale);
  }
  auto scores = torch::matmul(q * scale, k.transpose(-1, -2));
  if (bias.defined()) scores = scores + bias;
  return torch::matmul(torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type()), v);
}

}  // namespace layers
}  // namespace epalm
