// Internal: labelled media decoded and preprocessed once, as evaluation
// does (media_inputs.h without augmentation), into one tensor, on the
// intra-op threads (each sample single-threaded, so the result does not
// depend on the thread count).
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "epalm/core/media/media_inputs.h"
#include "epalm/experiments/pretraining.h"
#include "pretraining/training_loop.h"

namespace epalm::experiments::pretraining {

// [N, ...settings.input_shape()] float32; `meter` hears of each item as
// number `done_before` + i + 1 (every few items).
at::Tensor prepare_media(const std::vector<LabelledMedia>& items, const media::MediaSettings& settings,
                         const ProgressMeter& meter, std::int64_t done_before);

}  // namespace epalm::experiments::pretraining
