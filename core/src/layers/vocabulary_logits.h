// Internal: the LM head's product, hidden [rows, H] x weight [vocab, H]^T.
// On the CPU, for many rows, it runs in blocks of vocabulary columns written
// into one output: MKL's single product at this shape (a 50k-wide output)
// slows sharply past ~160 rows (181 against 250 GFLOP/s at 208 vs 160 rows,
// 2 threads), and blocks of 4096 columns keep its rate (229 at 208 rows, 264
// at 416); fewer rows, another device or a small vocabulary take one
// product. Each logit is the same dot product either way.
#pragma once

#include <ATen/core/Tensor.h>

namespace epalm::layers {

// hidden [..., H] -> logits [..., vocab]; differentiable in `hidden` (and in
// `weight` when it requires gradient: then one product, autograd's own).
at::Tensor vocabulary_logits(const at::Tensor& hidden, const at::Tensor& weight);

}  // namespace epalm::layers
