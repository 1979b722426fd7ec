// The eP-ALM reference's post-processing of generated text (reference §5.1),
// applied to tokenizer.decode() output before scoring:
//   QA:      decode(ids).split('</a>')[1], "<pad>" and "</s>" removed, stripped
//   caption: decode(ids).split('</s>')[1], the same removals, stripped
// The reference leaves the strip to the metrics (its leading space makes the
// un-normalised "topk_score" ~0); here the text is stripped once, here.
#pragma once

#include <string>
#include <string_view>

namespace epalm::eval {

// The answer after the first "</a>" (up to a second one, as split()[1]).
// Throws epalm::Error when the text has no "</a>": the prompt was not decoded with it.
std::string qa_answer_from_decoded(std::string_view decoded);

// The caption after the first "</s>" (the BOS), up to the next "</s>" (the EOS).
// Throws epalm::Error when the text has no "</s>".
std::string caption_from_decoded(std::string_view decoded);

// "<pad>" and "</s>" removed, then whitespace stripped (Python's str.strip()).
std::string clean_generated_text(std::string_view text);

}  // namespace epalm::eval
