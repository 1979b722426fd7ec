#include "layers/relu_saving_mask.h"

#include <torch/torch.h>

namespace epalm::layers {

namespace {

struct ReluSavingMask : public torch::autograd::Function<ReluSavingMask> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    auto y = torch::relu(x);
    // Where autograd's threshold_backward(grad, y, 0) writes zero: y <= 0 (false for NaN).
    ctx->saved_data["zero"] = y.le(0);
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    return {grad_outputs[0].masked_fill(ctx->saved_data["zero"].toTensor(), 0)};
  }
};

}  // namespace

at::Tensor relu_saving_mask(const at::Tensor& x) {
  if (!torch::GradMode::is_enabled() || !x.requires_grad()) return torch::relu(x);
  return ReluSavingMask::apply(x);
}

}  // namespace epalm::layers
