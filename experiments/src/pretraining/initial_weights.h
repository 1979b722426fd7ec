// Internal: the random weights a pretraining starts from.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace epalm::experiments::pretraining {

// Random initial weights for `shapes`, as transformers initialises these
// models: ".bias" zero, LayerNorm weights one, every other tensor
// normal(0, 0.02); drawn in the (sorted) order of the names from `seed`;
// leaf tensors that require gradient.
std::map<std::string, at::Tensor> initial_weights(const std::map<std::string, std::vector<std::int64_t>>& shapes,
                                                  std::uint64_t seed);

}  // namespace epalm::experiments::pretraining
