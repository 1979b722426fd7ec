// Internal: a short stable digest of a model's weights (name, shape, sum, sum
// of squares and leading values of each), cheap enough for multi-GB models.
// Trainable checkpoints record the decoder's to refuse other base weights; the
// feature cache keys features by the encoder's.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace epalm::models {

std::string weights_fingerprint(const std::map<std::string, at::Tensor>& weights);
// The same digest with each tensor fetched when its turn comes (`names`
// sorted), so a model need not hold every tensor at once.
std::string weights_fingerprint(const std::vector<std::string>& names,
                                const std::function<at::Tensor(const std::string&)>& tensor);

}  // namespace epalm::models
