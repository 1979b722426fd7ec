// Internal: a short stable digest of a model's weights (name, shape, sum, sum
// of squares and leading values of each), cheap enough for multi-GB models.
// Trainable checkpoints record the decoder's to refuse other base weights; the
// feature cache keys features by the encoder's.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

namespace epalm::models {

std::string weights_fingerprint(const std::map<std::string, at::Tensor>& weights);

}  // namespace epalm::models
