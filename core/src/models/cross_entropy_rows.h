// Internal: cross-entropy per row of a [rows, vocab] logits tensor that
// keeps one [rows, vocab] buffer for backward. Autograd's cross_entropy keeps
// the log-softmax output and its backward allocates two more buffers of that
// size; at OPT's vocabulary a 256-row chunk is 51 MB each, the largest
// transient of a packed training step. Here the logits tensor itself becomes
// the gradient (softmax - one-hot) in place during forward, so the caller must
// not read the logits afterwards.
#pragma once

#include <ATen/core/Tensor.h>

namespace epalm::models::detail {

// [rows] losses logsumexp(logits[i]) - logits[i][targets[i]] (float32
// logits; every target a vocabulary index). Backward: the gradient w.r.t.
// logits, each row scaled by its loss's incoming gradient, in the logits'
// own storage. Values equal autograd's cross_entropy to float rounding
// (another summation order for the softmax's denominator).
at::Tensor cross_entropy_rows(const at::Tensor& logits, const at::Tensor& targets);

}  // namespace epalm::models::detail
