// TimeSformer helpers for its `epalm model` family.
#pragma once

#include <cstdint>

#include "epalm/core/models/timesformer.h"
#include "epalm/experiments/model_families.h"

namespace epalm::experiments {

models::TimesformerConfig timesformer_config_of(const ModelSource& source);
// The checkpoint, or random weights drawn from `seed` for a preset.
models::TimesformerModel load_timesformer(const ModelSource& source, c10::ScalarType dtype, c10::Device device,
                                          std::uint64_t seed);

}  // namespace epalm::experiments
