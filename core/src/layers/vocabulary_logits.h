// Internal: the LM head's product, hidden [rows, H] x weight [vocab, H]^T.
// On the CPU, for many rows, it runs in blocks of vocabulary columns written
// into one output: MKL's single product at this shape (a 50k-wide output)
// slows sharply past ~160 rows, and blocks of 4096 columns keep its rate (a
// PyTorch timing of [rows, 768] x [768, 50272] on the 2-core development
// machine: 250 GFLOP/s at 160 rows, 181 at 208 in one product, 229 at 208 and
// 264 at 416 in blocks; one product as fast from 8 to 160 rows). Fewer rows,
// another device or a small vocabulary take one product. Each logit is the
// same dot product either way. Where frozen weights go through oneDNN
// (epalm/core/cpu_matmul.h) it is one oneDNN product, forward and backward.
#pragma once

#include <ATen/core/Tensor.h>

namespace epalm::layers {

// hidden [..., H] -> logits [..., vocab]; differentiable in `hidden` (and in
// `weight` when it requires gradient: then one product, autograd's own).
at::Tensor vocabulary_logits(const at::Tensor& hidden, const at::Tensor& weight);

}  // namespace epalm::layers
