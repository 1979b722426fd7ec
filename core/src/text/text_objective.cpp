#include "epalm/core/text/text_objective.h"

#include <torch/torch.h>

#include "epalm/core/error.h"
#include "epalm/core/text/tokenizer_tensors.h"

namespace epalm::text {

namespace {

std::string erase_all(std::string text, const std::string& what) {
  if (what.empty()) return text;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at)) text.erase(at, what.size());
  return text;
}

}  // namespace

std::string TextObjective::generation_prompt(const std::string& question) const {
  if (task == TextTask::kCaptioning) return task_prompt;
  const bool has_mark = !question.empty() && question.back() == '?';
  return question + (reference_question_mark || !has_mark ? "?" : "") + answer_token;
}

std::string TextObjective::training_text(const std::string& question, const std::string& target) const {
  // The reference drops "[SEP]" from answers and any end token already in a caption.
  const std::string cleaned = task == TextTask::kCaptioning ? erase_all(target, end_token) : erase_all(target, "[SEP]");
  return generation_prompt(question) + cleaned + end_token;
}

Tokenizer objective_tokenizer(const std::string& tokenizer_directory, const TextObjective& objective) {
  TokenizerOverrides overrides;
  if (objective.task == TextTask::kQuestionAnswering) overrides.additional_special_tokens = {objective.answer_token};
  return Tokenizer::from_directory(tokenizer_directory, overrides);
}

TextBatch encode_training_batch(const Tokenizer& tokenizer, const TextObjective& objective,
                                const std::vector<std::string>& questions, const std::vector<std::string>& targets) {
  if (questions.size() != targets.size() || targets.empty()) {
    throw Error("training batch", std::to_string(questions.size()) + " questions for " +
                                      std::to_string(targets.size()) + " targets");
  }
  if (objective.task == TextTask::kQuestionAnswering && !tokenizer.token_to_id(objective.answer_token)) {
    throw Error("training batch", "the tokenizer has no \"" + objective.answer_token +
                                      "\" token (load it with objective_tokenizer)");
  }
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < targets.size(); ++i) texts.push_back(objective.training_text(questions[i], targets[i]));
  auto tensors = encode_to_tensors(tokenizer, texts);
  TextBatch batch{tensors.input_ids, tensors.attention_mask, tensors.input_ids.clone()};
  batch.labels.masked_fill_(batch.attention_mask == 0, -100);
  if (objective.answer_only_loss) {
    // Everything the generation prompt covers (BOS, question, answer token or
    // task prompt) carries no loss. The prompt's ids are a prefix of the
    // sample's: the answer token / prompt end splits the text there.
    auto labels = batch.labels.accessor<std::int64_t, 2>();
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const auto prefix = tokenizer.encode(objective.generation_prompt(questions[i])).size();
      for (std::size_t t = 0; t < prefix && t < static_cast<std::size_t>(labels.size(1)); ++t) labels[i][t] = -100;
    }
  }
  return batch;
}

}  // namespace epalm::text
