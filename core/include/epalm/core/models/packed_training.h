// Training's loss for one or several eP-ALM variants of one frozen decoder on
// one micro-batch, in one decoder pass over packed rows (packed_rows.h):
//  - real tokens only: no padding row reaches a linear layer or the LM head;
//  - a variant's soft prompt computed once per micro-batch below its first
//    injection layer (there its rows attend to each other only, the same for
//    every sample; each sample's text attends to that one copy), and per
//    sample from that layer on, where the prompt sees the sample's token;
//  - the variants' rows side by side, so the frozen layers run once for all
//    of them with taller matrix products (a fused job's variants).
// Each variant's loss equals its EpalmModel::loss_terms to fp32 rounding
// (tests/parity/epalm_parity_test.cpp, tests/unit/packed_training_test.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "epalm/core/models/epalm_model.h"

namespace epalm::models {

struct PackedVariant {
  const EpalmModel* model = nullptr;
  at::Tensor features;  // [B, levels, encoder_hidden]: this variant's levels
  LossSettings loss;
};

// Why a variant of this config cannot take the packed pass, or "" when it
// can: the reference's dropout draws a mask per padded row, and the
// reference's non-causal token attends to padding.
std::string packed_pass_refusal(const EpalmConfig& config);
// The same for a micro-batch: "" unless a target is predicted from a padding
// position (left padding without a prompt before it).
std::string packed_pass_refusal(const at::Tensor& attention_mask, const at::Tensor& labels);

// Whether a variant's rows below its first injection layer are the text
// through the frozen layers alone (perception, no prompt, no adapters): the
// packed pass computes them once for every such variant of a pass.
bool reads_frozen_text(const EpalmConfig& config);

// Every variant's loss terms from one packed pass. The variants share one
// decoder; each must be accepted by both refusals above (else epalm::Error).
std::vector<LossTerms> packed_loss_terms(const std::vector<PackedVariant>& variants, const at::Tensor& input_ids,
                                         const at::Tensor& attention_mask, const at::Tensor& labels);

// Training's loss terms for each variant: one packed pass for those that
// take it, EpalmModel::loss_terms for the others (in order).
std::vector<LossTerms> training_loss_terms(const std::vector<PackedVariant>& variants, const at::Tensor& input_ids,
                                           const at::Tensor& attention_mask, const at::Tensor& labels);

}  // namespace epalm::models
