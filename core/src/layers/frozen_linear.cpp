#include "epalm/core/layers/frozen_linear.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/torch.h>

#include <optional>
#include <string_view>

#include "epalm/core/cpu_matmul.h"

namespace epalm::layers {

bool frozen_linear_takes_onednn(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const bool trains = weight.requires_grad() || (bias.defined() && bias.requires_grad());
  return !trains && x.device().is_cpu() && weight.device().is_cpu() && x.scalar_type() == at::kFloat &&
         weight.scalar_type() == at::kFloat && weight.dim() == 2 && x.dim() >= 2 &&
         (!bias.defined() || (bias.scalar_type() == at::kFloat && bias.dim() == 1)) && x.numel() > 0 &&
         cpu_matmul_library() == CpuMatmulLibrary::kOneDnn;
}

namespace {

// ATen's oneDNN linear (the op Inductor's CPU linears call): plain fp32 unless
// the user opted LibTorch into bf16/tf32 matmuls.
at::Tensor onednn_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("mkldnn::_linear_pointwise", "")
          .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&, std::string_view,
                            c10::List<std::optional<at::Scalar>>, std::optional<std::string_view>)>();
  const std::optional<at::Tensor> b = bias.defined() ? std::optional<at::Tensor>(bias) : std::nullopt;
  return op.call(x, weight, b, "none", c10::List<std::optional<at::Scalar>>(), std::nullopt);
}

// Autograd's Function takes tensors as the variables it tracks; an undefined
// bias cannot be one, and a frozen bias needs no gradient: it rides along.
struct FrozenBias {
  at::Tensor tensor;  // may be undefined
};

// grad x = grad y W: the product with Wᵀ's rows, W [out, in] read transposed in place.
struct FrozenLinearFunction : public torch::autograd::Function<FrozenLinearFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const FrozenBias& bias) {
    ctx->saved_data["weight"] = weight;  // frozen: a reference, not a copy
    return onednn_linear(x, weight, bias.tensor);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto weight = ctx->saved_data["weight"].toTensor();
    return {onednn_linear(grad_outputs[0], weight.t(), {}), at::Tensor(), at::Tensor()};  // one per argument
  }
};

}  // namespace

at::Tensor frozen_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (!frozen_linear_takes_onednn(x, weight, bias)) return torch::linear(x, weight, bias);
  if (torch::GradMode::is_enabled() && x.requires_grad()) return FrozenLinearFunction::apply(x, weight, FrozenBias{bias});
  return onednn_linear(x, weight, bias);
}

}  // namespace epalm::layers
