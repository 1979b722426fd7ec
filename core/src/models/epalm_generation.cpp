#include "epalm/core/models/epalm_generation.h"

#include <torch/torch.h>

#include "epalm/core/error.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/text/tokenizer_tensors.h"

namespace epalm::models {

namespace {

std::string trimmed(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\n\r");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\n\r") - first + 1);
}

}  // namespace

std::vector<std::string> generate_text(const EpalmModel& model, const at::Tensor& features,
                                       const text::Tokenizer& tokenizer, const text::TextObjective& objective,
                                       const std::vector<std::string>& questions, const GenerationSettings& settings) {
  if (static_cast<std::int64_t>(questions.size()) != features.size(0)) {
    throw Error("generation", std::to_string(questions.size()) + " questions for " +
                                  std::to_string(features.size(0)) + " feature rows");
  }
  std::vector<std::string> prompts;
  for (const auto& q : questions) prompts.push_back(objective.generation_prompt(q));
  text::BatchOptions left;
  left.padding_side = text::Side::kLeft;
  const auto tokens = text::encode_to_tensors(tokenizer, prompts, left);
  const auto device = model.decoder().device();
  torch::NoGradGuard no_grad;
  auto decoder = model.step_decoder(features.to(device));
  const auto out = generate(*decoder, tokens.input_ids.to(device), tokens.attention_mask.to(device), settings).cpu();
  const auto prompt_length = tokens.input_ids.size(1);
  std::vector<std::string> texts;
  for (std::int64_t i = 0; i < out.size(0); ++i) {
    std::vector<text::TokenId> ids;
    for (std::int64_t t = prompt_length; t < out.size(1); ++t) {
      const auto id = out[i][t].item<std::int64_t>();
      const bool end = std::find(settings.eos_token_ids.begin(), settings.eos_token_ids.end(), id) !=
                       settings.eos_token_ids.end();
      if (end) break;
      if (id != settings.pad_token_id) ids.push_back(id);
    }
    text::DecodeOptions options;
    options.skip_special_tokens = true;
    texts.push_back(trimmed(tokenizer.decode(ids, options)));
  }
  return texts;
}

}  // namespace epalm::models
