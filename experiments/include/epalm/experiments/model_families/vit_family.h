// ViT helpers shared by its `epalm model` family and its `epalm bench` case.
#pragma once

#include <cstdint>

#include "epalm/core/models/vit.h"
#include "epalm/experiments/model_families.h"

namespace epalm::experiments {

models::VitConfig vit_config_of(const ModelSource& source);
// The checkpoint (Hugging Face or timm), or random weights drawn from `seed` for a preset.
models::VitModel load_vit(const ModelSource& source, c10::ScalarType dtype, c10::Device device, std::uint64_t seed);

}  // namespace epalm::experiments
