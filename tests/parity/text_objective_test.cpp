// eP-ALM's training text and labels against the reference's recipe run with
// Hugging Face's slow tokenizer (tests/parity/make_tokenizer_fixtures.py).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "epalm/core/error.h"
#include "epalm/core/text/text_objective.h"
#include "tokenizer_fixture.h"

namespace epalm {
namespace {

using namespace tokenizer_fixture;

std::vector<std::vector<std::int64_t>> rows(const at::Tensor& t) {
  std::vector<std::vector<std::int64_t>> out;
  for (std::int64_t i = 0; i < t.size(0); ++i) {
    auto row = t[i].contiguous();
    out.emplace_back(row.data_ptr<std::int64_t>(), row.data_ptr<std::int64_t>() + row.numel());
  }
  return out;
}

TEST(TextObjective, BatchesEqualTheReferenceRecipe) {
  EPALM_REQUIRE_TOKENIZER_FIXTURES();
  const auto cases = read_jsonl("objective.jsonl");
  ASSERT_EQ(cases.size(), 4u);
  for (const auto& c : cases) {
    text::TextObjective objective;
    objective.task = c["task"] == "qa" ? text::TextTask::kQuestionAnswering : text::TextTask::kCaptioning;
    objective.reference_question_mark = true;
    const auto tokenizer = text::objective_tokenizer(path("opt"), objective);
    if (objective.task == text::TextTask::kQuestionAnswering) {
      EXPECT_EQ(tokenizer.token_to_id("</a>"), c["answer_token_id"].get<text::TokenId>());
      EXPECT_EQ(tokenizer.size(), c["tokenizer_size"].get<std::size_t>());
    }
    const auto questions = c["questions"].get<std::vector<std::string>>();
    const auto targets = c["targets"].get<std::vector<std::string>>();
    const auto texts = c["texts"].get<std::vector<std::string>>();
    for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(objective.training_text(questions[i], targets[i]), texts[i]);
    auto batch = text::encode_training_batch(tokenizer, objective, questions, targets);
    using Rows = std::vector<std::vector<std::int64_t>>;
    EXPECT_EQ(rows(batch.input_ids), c["input_ids"].get<Rows>()) << c["task"];
    EXPECT_EQ(rows(batch.attention_mask), c["attention_mask"].get<Rows>());
    EXPECT_EQ(rows(batch.labels), c["labels"].get<Rows>());
    objective.answer_only_loss = true;
    batch = text::encode_training_batch(tokenizer, objective, questions, targets);
    EXPECT_EQ(rows(batch.labels), c["answer_only_labels"].get<Rows>()) << c["task"];
  }
}

TEST(TextObjective, AddsTheQuestionMarkOnlyWhereMissingByDefault) {
  text::TextObjective qa;
  EXPECT_EQ(qa.training_text("Is it red?", "yes"), "Is it red?</a>yes</s>");
  EXPECT_EQ(qa.training_text("Is it red", "yes"), "Is it red?</a>yes</s>");
  qa.reference_question_mark = true;
  EXPECT_EQ(qa.training_text("Is it red?", "yes"), "Is it red?" "?</a>yes</s>");
  text::TextObjective caption;
  caption.task = text::TextTask::kCaptioning;
  caption.task_prompt = "A picture of";
  EXPECT_EQ(caption.generation_prompt("ignored"), "A picture of");
  EXPECT_EQ(caption.training_text("ignored", " a dog</s>"), "A picture of a dog</s>");
}

TEST(TextObjective, RefusesATokenizerWithoutTheAnswerToken) {
  EPALM_REQUIRE_TOKENIZER_FIXTURES();
  text::TextObjective qa;
  EXPECT_THROW(text::encode_training_batch(opt(), qa, {"Q"}, {"A"}), Error);
  EXPECT_THROW(text::encode_training_batch(text::objective_tokenizer(path("opt"), qa), qa, {"Q", "R"}, {"A"}), Error);
}

}  // namespace
}  // namespace epalm
