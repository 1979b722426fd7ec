// Tokenized batches as LibTorch tensors, for the model's forward pass and generation.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "epalm/core/text/tokenizer.h"

namespace epalm::text {

// int64 [batch, length] each, on the CPU (HF's return_tensors="pt").
struct TokenTensors {
  at::Tensor input_ids;
  at::Tensor attention_mask;
};

TokenTensors to_tensors(const EncodedBatch& batch);

// tokenizer.encode_batch(texts, options) as tensors.
TokenTensors encode_to_tensors(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                               const BatchOptions& options = {});

}  // namespace epalm::text
