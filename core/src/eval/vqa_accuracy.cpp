#include "epalm/core/eval/vqa_accuracy.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "epalm/core/eval/answer_normalization.h"
#include "epalm/core/error.h"

namespace epalm::eval {

double round_2(double x) {
  // glibc prints the exact binary value rounded half-to-even, as Python's
  // round() (dtoa mode 3) does; strtod gives back the nearest double.
  char buffer[400];
  std::snprintf(buffer, sizeof buffer, "%.2f", x);
  return std::strtod(buffer, nullptr);
}

double vqa_question_accuracy(const std::string& prediction, const std::vector<std::string>& answers) {
  const auto n = answers.size();
  std::size_t equal = 0;
  for (const auto& a : answers) equal += a == prediction ? 1 : 0;
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    // Leave annotator i out: the matches among the other n - 1.
    const auto others = equal - (answers[i] == prediction ? 1 : 0);
    sum += std::min(1.0, static_cast<double>(others) / 3);
  }
  return sum / static_cast<double>(n);
}

namespace {

double percent(const std::vector<double>& accuracies) {
  double sum = 0;
  for (const double a : accuracies) sum += a;  // left to right, as Python's sum()
  return round_2(100 * sum / static_cast<double>(accuracies.size()));
}

}  // namespace

VqaAccuracy vqa_accuracy(const std::vector<VqaPrediction>& predictions, const std::vector<VqaQuestion>& questions) {
  std::unordered_map<std::int64_t, const VqaQuestion*> by_id;
  for (const auto& q : questions) {
    const auto where = "VQA annotation of question " + std::to_string(q.question_id);
    if (!by_id.emplace(q.question_id, &q).second) throw Error(where, "the question id appears twice");
    if (q.answers.empty()) throw Error(where, "has no answers");
  }
  std::unordered_set<std::int64_t> seen;
  std::vector<double> all;
  std::map<std::string, std::vector<double>> by_question_type, by_answer_type;
  VqaAccuracy result;
  for (const auto& p : predictions) {
    const auto where = "VQA prediction for question " + std::to_string(p.question_id);
    const auto it = by_id.find(p.question_id);
    if (it == by_id.end()) throw Error(where, "no annotation has this question id");
    if (!seen.insert(p.question_id).second) throw Error(where, "the question is predicted twice");
    const auto& q = *it->second;
    const bool differ = std::set<std::string>(q.answers.begin(), q.answers.end()).size() > 1;
    std::vector<std::string> answers;
    answers.reserve(q.answers.size());
    for (const auto& a : q.answers) answers.push_back(normalize_vqa_ground_truth(a, differ));
    const double accuracy = vqa_question_accuracy(normalize_vqa_answer(p.answer), answers);
    all.push_back(accuracy);
    by_question_type[q.question_type].push_back(accuracy);
    by_answer_type[q.answer_type].push_back(accuracy);
    result.per_question[p.question_id] = round_2(100 * accuracy);
  }
  if (all.empty()) throw Error("VQA predictions", "there are none to score");
  result.questions = all.size();
  result.overall = percent(all);
  for (const auto& [type, values] : by_question_type) result.per_question_type[type] = percent(values);
  for (const auto& [type, values] : by_answer_type) result.per_answer_type[type] = percent(values);
  return result;
}

}  // namespace epalm::eval
