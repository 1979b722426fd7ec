// Internal: the number of parameters a model's tensor shapes hold (the
// *_parameter_count functions of OPT, ViT, TimeSformer and AST).
#pragma once

#include <cstdint>

#include "epalm/core/models/state_dict.h"

namespace epalm::models {

inline std::int64_t count_elements(const TensorShapes& shapes) {
  std::int64_t total = 0;
  for (const auto& [name, shape] : shapes) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    total += n;
  }
  return total;
}

}  // namespace epalm::models
