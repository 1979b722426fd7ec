// OPT helpers shared by its `epalm model` family and its `epalm bench` cases.
#pragma once

#include <cstdint>

#include "epalm/core/models/opt.h"
#include "epalm/experiments/model_families.h"

namespace epalm::experiments {

models::OptConfig opt_config_of(const ModelSource& source);
// The checkpoint, or random weights drawn from `seed` for a preset.
models::OptModel load_opt(const ModelSource& source, c10::ScalarType dtype, c10::Device device, std::uint64_t seed);

}  // namespace epalm::experiments
