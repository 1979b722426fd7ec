#include "epalm/core/eval/qa_accuracy.h"

#include <unordered_map>
#include <unordered_set>

#include "epalm/core/eval/answer_normalization.h"
#include "epalm/core/error.h"

namespace epalm::eval {

double qa_accuracy(const std::vector<QaPrediction>& predictions, const std::vector<QaLabel>& labels) {
  std::unordered_map<std::int64_t, std::unordered_map<std::string, double>> normalized;
  for (const auto& l : labels) {
    if (normalized.count(l.question_id)) {
      throw Error("QA labels of question " + std::to_string(l.question_id), "appear twice");
    }
    auto& scores = normalized[l.question_id];
    // {normalize(l): label[l] for l in label}: on a collision the later answer wins, as in a dict.
    for (const auto& [answer, score] : l.scores) scores[normalize_qa_answer(answer)] = score;
  }
  if (predictions.empty()) throw Error("QA predictions", "there are none to score");
  std::unordered_set<std::int64_t> seen;
  double score = 0;
  for (const auto& p : predictions) {
    const auto where = "QA prediction for question " + std::to_string(p.question_id);
    const auto it = normalized.find(p.question_id);
    if (it == normalized.end()) throw Error(where, "no label has this question id");
    if (!seen.insert(p.question_id).second) throw Error(where, "the question is predicted twice");
    if (const auto s = it->second.find(normalize_qa_answer(p.answer)); s != it->second.end()) score += s->second;
  }
  return score / static_cast<double>(predictions.size());
}

}  // namespace epalm::eval
