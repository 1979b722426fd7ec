// Internal: scaled dot-product attention shared by every model.
#pragma once

#include <ATen/core/Tensor.h>

#include "epalm/core/models/attention_kernel.h"

namespace epalm::layers {

// q [B, heads, Q, d], k/v [B, heads, K, d], bias [B or 1, 1 or heads, Q, K]
// additive or undefined; returns [B, heads, Q, d].
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                     double scale, models::AttentionKernel kernel);

}  // namespace epalm::layers
