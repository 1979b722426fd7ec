// Internal: eP-ALM's loss from the target rows' logits, shared by the padded
// pass (epalm_model.cpp) and the packed one (packed_training.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "epalm/core/models/epalm_model.h"

namespace epalm::models::detail {

// Cross-entropy of `logits` [N, vocab] against `targets` [N] (-100 = no
// target) of a batch of `batch` samples that have a target, reduced as `loss` says.
LossTerms loss_terms_of(const at::Tensor& logits, const at::Tensor& targets, std::int64_t batch,
                        const LossSettings& loss);

// The same from the summed cross-entropy `total` over `targets` target
// tokens (counted by the caller: the packed pass knows it on the host).
LossTerms terms_of_total(const at::Tensor& total, std::int64_t targets, std::int64_t batch, const LossSettings& loss);

// Samples of [B, T] targets that have at least one.
std::int64_t rows_with_targets(const at::Tensor& targets);

}  // namespace epalm::models::detail
