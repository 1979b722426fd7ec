// Evaluation metrics on hand-checked cases: each VQA normalisation rule of
// vqaEval.py (reference §5.2), leave-one-out accuracy, Python's rounding,
// answer post-processing (§5.1), prediction files and errors. Agreement with the
// Python peers on generated sets is in tests/parity/metrics_parity_test.cpp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "epalm/core/eval/answer_normalization.h"
#include "epalm/core/eval/answer_postprocessing.h"
#include "epalm/core/eval/caption_metrics.h"
#include "epalm/core/error.h"
#include "epalm/core/eval/prediction_files.h"
#include "epalm/core/eval/ptb_tokenizer.h"
#include "epalm/core/eval/qa_accuracy.h"
#include "epalm/core/eval/vqa_accuracy.h"

namespace {

using namespace epalm::eval;

struct Case {
  const char* input;
  const char* expected;
  const char* rule;
};

TEST(VqaNormalization, ProcessPunctuationRules) {
  const Case cases[] = {
      {"red,white", "red white", "punctuation not next to a space becomes a space"},
      {"red, white", "red white", "punctuation next to a space is deleted"},
      {"a- b-c", "a bc", "next-to-space is tested on the whole input: every '-' is deleted"},
      {"x,y 1,000", "xy 1000", "digit,digit anywhere deletes every punctuation mark"},
      {"t-shirt", "t shirt", "hyphen inside a word becomes a space"},
      {"t - shirt", "t  shirt", "deleting leaves both spaces"},
      {"hello?", "hello ", "trailing '?' becomes a space"},
      {"(left)", " left ", "brackets become spaces"},
      {"a/b;c=d+e\\f_g>h<i@j`k!l", "a b c d e f g h i j k l", "each of the 21 marks"},
      {"[x]{y}\"z\"", " x  y  z ", "brackets, braces and double quotes"},
      {"yes.", "yes", "period not followed by a digit is deleted"},
      {"3.5", "3.5", "period before a digit stays"},
      {"u.s.", "us", "every such period is deleted"},
      {"it's", "it's", "apostrophes and colons are not punctuation here"},
      {"3:00 #1 $5 50% a&b", "3:00 #1 $5 50% a&b", "marks outside the list stay"},
  };
  for (const auto& c : cases) EXPECT_EQ(process_punctuation(c.input), c.expected) << c.rule << ": " << c.input;
  // re.UNICODE passed as re.sub's count: only the first 32 periods go.
  EXPECT_EQ(process_punctuation(std::string(40, '.')), std::string(8, '.'));
  EXPECT_EQ(process_punctuation("٣.٥"), "٣.٥") << "any Unicode decimal digit counts (Python's \\d)";
}

TEST(VqaNormalization, ProcessDigitArticleRules) {
  const Case cases[] = {
      {"Two Dogs", "2 dogs", "lower-case, number words to digits"},
      {"none", "0", "none is 0"},
      {"zero one two three four five six seven eight nine ten eleven", "0 1 2 3 4 5 6 7 8 9 10 eleven",
       "zero..ten only"},
      {"the dog", "dog", "articles dropped"},
      {"a an the", "", "only articles: empty"},
      {"An Apple", "apple", "articles after lower-casing"},
      {"dont", "don't", "contraction table"},
      {"whats", "what's", "contraction table"},
      {"Im", "im", "lower-casing first: the table's 'Im' is never reached"},
      {"somebody'd", "somebodyd", "the table's own entry, kept"},
      {"  many \t  spaces\n ", "many spaces", "split on whitespace, joined by single spaces"},
      {"ÉCOLE ΣΊΣΥΦΟΣ", "école σίσυφος", "Unicode lower-casing, final sigma"},
  };
  for (const auto& c : cases) EXPECT_EQ(process_digit_article(c.input), c.expected) << c.rule << ": " << c.input;
}

TEST(VqaNormalization, PredictionsAndGroundTruth) {
  EXPECT_EQ(normalize_vqa_answer(" Yes.\n"), "yes");
  EXPECT_EQ(normalize_vqa_answer("Two."), "2");
  EXPECT_EQ(normalize_vqa_answer("\tthe red,white"), "red white");
  EXPECT_EQ(normalize_vqa_ground_truth("yes.", true), "yes") << "answers differ: punctuation processed";
  EXPECT_EQ(normalize_vqa_ground_truth("Yes.", true), "Yes") << "GT gets no digit/article step: case kept";
  EXPECT_EQ(normalize_vqa_ground_truth("yes.", false), "yes.") << "all identical: left as annotated";
  EXPECT_EQ(normalize_qa_answer(" The Two dogs."), "2 dogs");
  EXPECT_THROW(normalize_vqa_answer("bad \xff utf-8"), epalm::Error);
}

TEST(VqaAccuracy, LeaveOneOutOverTenAnnotators) {
  // k matching annotators of 10: (k * min(1, (k-1)/3) + (10-k) * min(1, k/3)) / 10
  const double expected[] = {0.0, 0.3, 0.6, 0.9, 1.0, 1.0};
  for (int k = 0; k <= 5; ++k) {
    std::vector<std::string> answers(10, "no");
    for (int i = 0; i < k; ++i) answers[static_cast<std::size_t>(i)] = "yes";
    EXPECT_NEAR(vqa_question_accuracy("yes", answers), expected[k], 1e-15) << k << " matches";
  }
}

TEST(VqaAccuracy, OverallAndPerTypeFollowTheOfficialCode) {
  std::vector<VqaQuestion> questions = {
      {1, {"yes.", "yes.", "yes.", "no", "no", "no", "no", "no", "no", "no"}, "is the", "yes/no"},
      {2, std::vector<std::string>(10, "yes."), "is the", "yes/no"},
      {3, {"2", "2", "two", "2", "3", "2", "2", "2", "2", "2"}, "how many", "number"},
      {4, {"red", "red", "blue", "blue", "blue", "red", "red", "red", "red", "red"}, "what color is the", "other"},
  };
  const std::vector<VqaPrediction> predictions = {
      {1, "Yes"},    // GT answers differ: "yes." -> "yes", 3 matches: 90
      {2, "yes."},   // all identical: GT stays "yes.", the prediction becomes "yes": 0
      {3, "two"},    // "two" -> "2"; the GT "two" is not turned into a digit: 8 matches: 100
      {4, "blue."},  // 3 matches: 90
  };
  const auto a = vqa_accuracy(predictions, questions);
  EXPECT_EQ(a.questions, 4u);
  EXPECT_EQ(a.per_question.at(1), 90.0);
  EXPECT_EQ(a.per_question.at(2), 0.0);
  EXPECT_EQ(a.per_question.at(3), 100.0);
  EXPECT_EQ(a.per_question.at(4), 90.0);
  EXPECT_EQ(a.overall, 70.0);
  EXPECT_EQ(a.per_answer_type.at("yes/no"), 45.0);
  EXPECT_EQ(a.per_answer_type.at("number"), 100.0);
  EXPECT_EQ(a.per_question_type.at("is the"), 45.0);
  EXPECT_EQ(a.per_question_type.at("what color is the"), 90.0);
}

TEST(VqaAccuracy, RoundsAsPython) {
  // round(x, 2) on the binary value, ties to even: 0.125 -> 0.12, 0.375 -> 0.38,
  // 2.675 (2.67499999...) -> 2.67, 1/3 * 100 -> 33.33
  EXPECT_EQ(round_2(0.125), 0.12);
  EXPECT_EQ(round_2(0.375), 0.38);
  EXPECT_EQ(round_2(2.675), 2.67);
  EXPECT_EQ(round_2(100.0 / 3), 33.33);
  EXPECT_EQ(round_2(200.0 / 3), 66.67);
}

template <typename F>
void expect_error(F f, const std::string& where_has, const std::string& reason_has) {
  try {
    f();
    FAIL() << "expected an epalm::Error";
  } catch (const epalm::Error& e) {
    EXPECT_NE(e.where().find(where_has), std::string::npos) << e.what();
    EXPECT_NE(e.reason().find(reason_has), std::string::npos) << e.what();
  }
}

TEST(VqaAccuracy, BadInputNamesTheQuestion) {
  const std::vector<VqaQuestion> questions = {{7, {"yes"}, "is", "yes/no"}};
  expect_error([&] { vqa_accuracy({{8, "yes"}}, questions); }, "question 8", "no annotation");
  expect_error([&] { vqa_accuracy({{7, "yes"}, {7, "no"}}, questions); }, "question 7", "twice");
  expect_error([&] { vqa_accuracy({{7, "yes"}}, {{7, {}, "is", "yes/no"}}); }, "question 7", "no answers");
  expect_error([&] { vqa_accuracy({}, questions); }, "VQA predictions", "none");
}

TEST(QaAccuracy, NormalisedExactMatch) {
  const std::vector<QaLabel> labels = {{1, {{"yes", 1.0}}}, {2, {{"two dogs", 1.0}}}, {3, {{"red", 1.0}}}};
  EXPECT_DOUBLE_EQ(qa_accuracy({{1, " Yes."}, {2, "The 2 dogs"}, {3, "blue"}}, labels), 2.0 / 3);
  expect_error([&] { qa_accuracy({{9, "yes"}}, labels); }, "question 9", "no label");
}

TEST(AnswerPostprocessing, ReferenceRules) {
  EXPECT_EQ(qa_answer_from_decoded("</s>what is on the table?</a> yes</s>"), "yes");
  EXPECT_EQ(qa_answer_from_decoded("</s>how many?</a><pad><pad> two</s><pad>"), "two") << "right-padded prompt";
  EXPECT_EQ(qa_answer_from_decoded("</s>q</a> a</a> b"), "a") << "split('</a>')[1]";
  EXPECT_EQ(caption_from_decoded("</s>a dog on a bed</s><pad><pad>"), "a dog on a bed");
  EXPECT_EQ(clean_generated_text("  <pad>x</s> "), "x");
  expect_error([] { qa_answer_from_decoded("no separator"); }, "no separator", "</a>");
  expect_error([] { caption_from_decoded("a dog"); }, "a dog", "</s>");
}

TEST(PredictionFiles, OfficialFormatsRoundTrip) {
  const auto dir = std::filesystem::temp_directory_path() / ("epalm-predictions-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto vqa = (dir / "vqa.json").string();
  write_vqa_predictions(vqa, {{262148000, "yes"}, {1, "two \"dogs\""}});
  std::ifstream in(vqa);
  const auto j = nlohmann::json::parse(in);
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j[0]["question_id"], 262148000);
  EXPECT_EQ(j[1]["answer"], "two \"dogs\"");
  const auto back = read_vqa_predictions(vqa);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].answer, "two \"dogs\"");

  const auto captions = (dir / "captions.json").string();
  write_caption_predictions(captions, {{"391895", "a man on a bike"}, {"video7010", "a cat"}, {"007", "x"}});
  std::ifstream in2(captions);
  const auto c = nlohmann::json::parse(in2);
  EXPECT_TRUE(c[0]["image_id"].is_number_integer()) << "COCO ids are numbers";
  EXPECT_EQ(c[1]["image_id"], "video7010");
  EXPECT_EQ(c[2]["image_id"], "007") << "leading zeros stay a string";
  EXPECT_EQ(read_caption_predictions(captions)[0].image_id, "391895");

  const auto bad = (dir / "bad.json").string();
  std::ofstream(bad) << R"([{"question_id": 1, "answer": "yes"}, {"question_id": "x", "answer": "no"}])";
  expect_error([&] { read_vqa_predictions(bad); }, bad + " [1]", "question_id");
  std::ofstream(bad) << "{";
  expect_error([&] { read_vqa_predictions(bad); }, bad, "not valid JSON");
  std::filesystem::remove_all(dir);
}

TEST(CaptionMetrics, HandCheckedCases) {
  // A prediction equal to its only reference: every n-gram matches, no brevity penalty.
  const std::vector<CaptionExample> same = {{"1", "a man riding a horse", {"a man riding a horse"}},
                                            {"2", "two dogs on the grass", {"two dogs on the grass"}}};
  const auto b = bleu(same);
  for (const double s : b.corpus) EXPECT_NEAR(s, 1.0, 1e-8);
  EXPECT_DOUBLE_EQ(rouge_l(same).mean, 1.0);
  // With one image every n-gram's IDF is log(1) - log(1) = 0: CIDEr-D is 0.
  EXPECT_EQ(cider_d({same[0]}).mean, 0.0);
  // An empty prediction scores 0 everywhere.
  const std::vector<CaptionExample> empty = {{"1", "", {"a man riding a horse"}}, same[1]};
  EXPECT_EQ(rouge_l(empty).per_example[0], 0.0);
  EXPECT_EQ(cider_d(empty).per_example[0], 0.0);
  expect_error([] { bleu({{"42", "a", {}}}); }, "image 42", "no references");
}

TEST(PtbTokenizer, CaptionRules) {
  // As CoreNLP 3.4.1 tokenizes them (checked against the jar by the parity test's corpus too).
  EXPECT_EQ(coco_tokenize("A man's dog, running."), "a man 's dog running");
  EXPECT_EQ(coco_tokenize("Don't stop (now)!"), "do n't stop -lrb- now -rrb-");
  EXPECT_EQ(coco_tokenize("“Hi” in the U.S."), "hi in the u.s.");
  EXPECT_EQ(coco_tokenize(""), "");
}

}  // namespace
