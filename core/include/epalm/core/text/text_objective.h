// The text side of eP-ALM's objective (docs/epalm.md, Objective): which
// string a training sample becomes, which of its tokens carry loss, and what
// the decoder is given at generation time.
//
//   question answering: question + "?" + "</a>" + answer + "</s>"  (BOS first)
//   captioning:         [task prompt] + caption + "</s>"
//
// The reference appends "?" even to questions that end with one (VL-T5's
// `sent` does, giving "??"); we append it only where missing unless
// `reference_question_mark` asks for the reference's text. The reference puts
// loss on every non-pad token after BOS, the question included; that stays
// the default (it is the published objective) and `answer_only_loss` limits
// it to the answer and the final "</s>".
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "epalm/core/text/tokenizer.h"

namespace epalm::text {

enum class TextTask { kQuestionAnswering, kCaptioning };

struct TextObjective {
  TextTask task = TextTask::kQuestionAnswering;
  std::string answer_token = "</a>";  // separates question and answer (an added special token)
  std::string end_token = "</s>";     // OPT's EOS, closing every target
  std::string task_prompt;            // captioning: text before the caption (the reference: none)
  bool answer_only_loss = false;
  bool reference_question_mark = false;

  // The full training string for a sample: `question` is ignored for captioning.
  std::string training_text(const std::string& question, const std::string& target) const;
  // What generation starts from (before the tokenizer's BOS): the question and
  // the answer token, or the task prompt (the reference: "" -> just BOS).
  std::string generation_prompt(const std::string& question) const;
};

// The tokenizer eP-ALM trains with: the checkpoint's, plus the answer token as
// an added special token for question answering (HF's add_special_tokens;
// "</a>" takes id 50265 on OPT, a frozen, never-resized embedding row).
Tokenizer objective_tokenizer(const std::string& tokenizer_directory, const TextObjective& objective);

// Right-padded ids, mask and labels ([B, T] int64 on the CPU): labels are the
// ids with -100 at padding and, with answer_only_loss, at every token up to and
// including the answer token (the whole caption counts for captioning).
struct TextBatch {
  at::Tensor input_ids;
  at::Tensor attention_mask;
  at::Tensor labels;
};
TextBatch encode_training_batch(const Tokenizer& tokenizer, const TextObjective& objective,
                                const std::vector<std::string>& questions, const std::vector<std::string>& targets);

}  // namespace epalm::text
