// Internal: random weights for a model's tensor shapes (OPT, ViT, TimeSformer,
// AST; benchmarks, tests), and loading a plain checkpoint.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <map>
#include <string>

#include "epalm/core/models/state_dict.h"

namespace epalm::models {

// Hugging Face's initialisation: names ending in ".bias" zero, LayerNorm
// weights ("norm" in the name, ending in ".weight") one, everything else
// normal with std 0.02. Drawn in fp32 on the CPU from `seed`, in the map's
// (sorted) order, so the values depend only on the shapes and the seed and
// every dtype gets the same draw, rounded; then converted.
std::map<std::string, at::Tensor> random_weights(const TensorShapes& shapes, c10::ScalarType dtype,
                                                 c10::Device device, std::uint64_t seed);

// Loads every tensor `expected` names from a checkpoint directory, under the
// optional `prefix`, ignoring tensors starting with `ignore` (the heads).
std::map<std::string, at::Tensor> load_checkpoint_weights(const std::string& directory, const TensorShapes& expected,
                                                          const std::string& prefix, const std::string& ignore,
                                                          c10::ScalarType dtype, c10::Device device);

}  // namespace epalm::models
