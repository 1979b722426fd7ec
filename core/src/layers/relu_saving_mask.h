// Internal: ReLU for a layer that trains through it. Autograd's own ReLU
// keeps its float output for backward; a decoder's MLP output is the largest
// activation a layer keeps (4x the hidden size per token), so this one keeps
// a 1-byte mask of where the output is zero instead: a quarter of the memory,
// the same values forward and backward (the gradient is zero where the
// output is <= 0, else passed through: autograd's threshold rule, NaN
// included).
#pragma once

#include <ATen/core/Tensor.h>

namespace epalm::layers {

// relu(x); when x requires gradient and grad mode is on, backward keeps the mask only.
at::Tensor relu_saving_mask(const at::Tensor& x);

}  // namespace epalm::layers
