// VQA v2 accuracy exactly as the official evaluation (GT-Vision-Lab/VQA
// vqaEval.py, used by the eP-ALM reference): normalised prediction against the
// annotators' answers, min(1, matches among the other annotators / 3) averaged
// over leaving out each annotator, overall and per question / answer type,
// percentages rounded to 2 decimals as Python's round() does.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace epalm::eval {

struct VqaQuestion {
  std::int64_t question_id = 0;
  std::vector<std::string> answers;  // the annotators' answers (10 in VQA v2), as in the annotation file
  std::string question_type;         // e.g. "what color is the"
  std::string answer_type = "other";  // "yes/no", "number" or "other"
};

struct VqaPrediction {
  std::int64_t question_id = 0;
  std::string answer;  // post-processed generated text (see answer_postprocessing.h)
};

struct VqaAccuracy {
  double overall = 0;                                  // percent, 2 decimals
  std::map<std::string, double> per_question_type;     // percent, 2 decimals
  std::map<std::string, double> per_answer_type;       // percent, 2 decimals
  std::map<std::int64_t, double> per_question;         // percent, 2 decimals
  std::size_t questions = 0;                           // predictions scored
};

// Scores every prediction (in the given order, as the official code sums).
// Throws epalm::Error naming the question id for a prediction without an
// annotation, a duplicate prediction, or an annotation without answers.
// Annotations without a prediction are not scored.
VqaAccuracy vqa_accuracy(const std::vector<VqaPrediction>& predictions, const std::vector<VqaQuestion>& questions);

// The accuracy (0..1, unrounded) of one normalised prediction against one
// question's answers: the per-question term of vqa_accuracy.
double vqa_question_accuracy(const std::string& prediction, const std::vector<std::string>& answers);

// Python's round(x, 2): the double nearest to x rounded correctly in decimal.
double round_2(double x);

}  // namespace epalm::eval
