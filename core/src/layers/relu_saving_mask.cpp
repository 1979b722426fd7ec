#include "layers/relu_saving_mask.h"

#include <torch/torch.h>

#include <cstdint>

namespace epalm::layers {

namespace {

// out = in where !zero, else +0 (threshold_backward's value), on the bits:
// (mask - 1) is all ones for a kept element and 0 for a zeroed one, so the
// compiler vectorizes the loop (no branch, no float compare: NaN passes as is).
template <class Bits>
void keep_unmasked(const void* in, const bool* zero, void* out, std::int64_t count) {
  const auto* from = static_cast<const Bits*>(in);
  auto* to = static_cast<Bits*>(out);
  for (std::int64_t i = 0; i < count; ++i) to[i] = from[i] & static_cast<Bits>(static_cast<Bits>(zero[i]) - 1);
}

// grad where the mask is false, else zero. On the CPU a plain loop: ATen's
// masked_fill and where with a bool mask run element by element there (a
// PyTorch timing on [600, 3072], 2 threads: 8.7 ms against threshold_backward's
// 0.5 ms, which made it 2.4% of the fused sweep benchmark's profile). One
// thread: this file is compiled without OpenMP, so at::parallel_for would not
// split it anyway.
at::Tensor zero_where(const at::Tensor& grad, const at::Tensor& zero) {
  const auto bytes = grad.element_size();
  if (!grad.device().is_cpu() || (bytes != 2 && bytes != 4 && bytes != 8)) return grad.masked_fill(zero, 0);
  const auto g = grad.contiguous();
  const auto z = zero.contiguous();
  auto out = at::empty_like(g);
  const void* in = g.const_data_ptr();
  const bool* masked = z.const_data_ptr<bool>();
  void* o = out.mutable_data_ptr();
  const auto n = g.numel();
  if (bytes == 4) keep_unmasked<std::uint32_t>(in, masked, o, n);
  if (bytes == 2) keep_unmasked<std::uint16_t>(in, masked, o, n);
  if (bytes == 8) keep_unmasked<std::uint64_t>(in, masked, o, n);
  return out;
}

struct ReluSavingMask : public torch::autograd::Function<ReluSavingMask> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    auto y = torch::relu(x);
    // Where autograd's threshold_backward(grad, y, 0) writes zero: y <= 0 (false for NaN).
    ctx->saved_data["zero"] = y.le(0);
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    return {zero_where(grad_outputs[0], ctx->saved_data["zero"].toTensor())};
  }
};

}  // namespace

at::Tensor relu_saving_mask(const at::Tensor& x) {
  if (!torch::GradMode::is_enabled() || !x.requires_grad()) return torch::relu(x);
  return ReluSavingMask::apply(x);
}

}  // namespace epalm::layers
