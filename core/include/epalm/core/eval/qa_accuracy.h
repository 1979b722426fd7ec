// GQA / MSRVTT-QA / MSVD-QA accuracy as the eP-ALM reference computes it
// (evaluate(quesid2ans, normalize_answer=True)): the label score of the
// normalised prediction among the normalised labels, averaged over predictions.
// With labels {answer: 1.0} this is normalised exact match.
#pragma once

#include <cstdint>
#include <utility>
#include <string>
#include <vector>

namespace epalm::eval {

struct QaLabel {
  std::int64_t question_id = 0;
  // answer -> score ({answer: 1.0} in GQA and video QA), in the annotation's order:
  // when two answers normalise alike, the later one's score counts (a Python dict).
  std::vector<std::pair<std::string, double>> scores;
};

struct QaPrediction {
  std::int64_t question_id = 0;
  std::string answer;
};

// Fraction (0..1) of the predictions' label scores. Throws epalm::Error naming
// the question id for a prediction without labels or a duplicate prediction.
double qa_accuracy(const std::vector<QaPrediction>& predictions, const std::vector<QaLabel>& labels);

}  // namespace epalm::eval
