// Open-ended answers and captions from a trained eP-ALM: the prompt the
// objective defines (question + "?" + "</a>", or the caption prompt after
// BOS), left-padded for the batch (the reference right-pads, which makes
// shorter questions' first answer token follow padding: docs/epalm.md,
// Decoding), greedy or beam search, and the generated text with pad and end
// tokens removed and whitespace trimmed (the reference's post-processing).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "epalm/core/models/epalm_model.h"
#include "epalm/core/models/generation.h"
#include "epalm/core/text/text_objective.h"
#include "epalm/core/text/tokenizer.h"

namespace epalm::models {

// `features` [B, levels, encoder_hidden] (select_features); `questions` has B
// entries (ignored for captioning). One answer or caption per sample.
std::vector<std::string> generate_text(const EpalmModel& model, const at::Tensor& features,
                                       const text::Tokenizer& tokenizer, const text::TextObjective& objective,
                                       const std::vector<std::string>& questions, const GenerationSettings& settings);

}  // namespace epalm::models
