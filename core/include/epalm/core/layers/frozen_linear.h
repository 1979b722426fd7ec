// x Wᵀ + b for a weight that does not train, through the library
// epalm/core/cpu_matmul.h picks for the CPU. Differentiable in x: the
// backward is the one product the input's gradient needs, grad W, through
// the same library; a weight or bias that requires gradient, another device
// or dtype, takes torch::linear and autograd's own rule.
#pragma once

#include <ATen/core/Tensor.h>

namespace epalm::layers {

// x [..., in] -> [..., out]; weight [out, in]; bias [out] or undefined.
at::Tensor frozen_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// Whether frozen_linear(x, weight, bias) runs through oneDNN (else torch::linear).
bool frozen_linear_takes_onednn(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

}  // namespace epalm::layers
