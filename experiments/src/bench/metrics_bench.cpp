// `epalm bench metrics`: CIDEr-D and VQA accuracy on 25k predictions against
// pycocoevalcap and the official VQA evaluation, in the same run; the PTB
// tokenization (ours against CoreNLP in Java) is timed beside them.
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "epalm/experiments/bench/bench.h"
#include "epalm/core/eval/caption_metrics.h"
#include "epalm/core/error.h"
#include "epalm/core/eval/vqa_accuracy.h"

namespace epalm::experiments {

namespace {

// A synthetic but caption-like workload: Zipf-distributed words from a
// 3000-word vocabulary, 8-14 words, some capitals, commas, possessives and
// final periods; five references per image, the prediction a reference with
// words dropped or a fresh sentence. VQA: ten answers per question drawn from
// one to three candidates (with number words, articles, punctuation).
struct Workload {
  std::vector<eval::CaptionExample> captions;
  std::vector<eval::VqaQuestion> questions;
  std::vector<eval::VqaPrediction> predictions;
};

class WordSource {
 public:
  explicit WordSource(std::mt19937_64& rng) : rng_(rng) {
    const char* syllables[] = {"ba", "ko", "ri", "te", "mu", "sa", "ne", "lo", "vi", "da", "pe", "gu", "zo", "fi"};
    for (int i = 0; words_.size() < 3000; ++i) {
      std::string w;
      for (int n = i; ; n /= 14) {
        w += syllables[n % 14];
        if (n < 14) break;
      }
      words_.push_back(w);
    }
    double total = 0;
    for (std::size_t r = 0; r < words_.size(); ++r) cumulative_.push_back(total += 1.0 / static_cast<double>(r + 1));
  }
  const std::string& word() {
    const double u = std::uniform_real_distribution<double>(0, cumulative_.back())(rng_);
    const auto at = std::lower_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin();
    return words_[static_cast<std::size_t>(std::min<std::ptrdiff_t>(at, static_cast<std::ptrdiff_t>(words_.size()) - 1))];
  }
  std::string caption() {
    std::uniform_real_distribution<double> p(0, 1);
    const int n = std::uniform_int_distribution<int>(8, 14)(rng_);
    std::string s;
    for (int i = 0; i < n; ++i) {
      if (i > 0) s += ' ';
      std::string w = word();
      if (i == 0 && p(rng_) < 0.5) w[0] = static_cast<char>(w[0] - 'a' + 'A');
      s += w;
      if (p(rng_) < 0.03) s += "'s";
      if (i + 1 < n && p(rng_) < 0.05) s += ',';
    }
    if (p(rng_) < 0.6) s += '.';
    return s;
  }

 private:
  std::mt19937_64& rng_;
  std::vector<std::string> words_;
  std::vector<double> cumulative_;
};

Workload make_workload(int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  WordSource words(rng);
  std::uniform_real_distribution<double> p(0, 1);
  Workload w;
  for (int i = 0; i < n; ++i) {
    eval::CaptionExample e;
    e.image_id = std::to_string(100000 + i);
    for (int r = 0; r < 5; ++r) e.references.push_back(words.caption());
    if (p(rng) < 0.6) {
      std::istringstream in(e.references[static_cast<std::size_t>(i % 5)]);
      for (std::string t; in >> t;) {
        if (p(rng) < 0.8) e.prediction += (e.prediction.empty() ? "" : " ") + t;
      }
    } else {
      e.prediction = words.caption();
    }
    w.captions.push_back(std::move(e));
  }
  const std::vector<std::string> answers = {"yes", "no", "Yes.", "2", "two", "none", "a dog", "the dog", "dog",
                                            "red", "red and white", "red/white", "t-shirt", "dont", "3.5", "1,000",
                                            "left", "on the left", "tennis", "10", "ten", "white", "blue", "cat"};
  const std::vector<std::string> answer_types = {"yes/no", "number", "other"};
  for (int i = 0; i < n; ++i) {
    eval::VqaQuestion q;
    q.question_id = 1000000 + i;
    std::vector<std::string> pool;
    const int k = std::uniform_int_distribution<int>(1, 3)(rng);
    for (int j = 0; j < k; ++j) {
      pool.push_back(p(rng) < 0.5 ? answers[rng() % answers.size()] : words.word());
    }
    for (int j = 0; j < 10; ++j) q.answers.push_back(pool[rng() % pool.size()]);
    q.question_type = "type " + std::to_string(rng() % 65);
    q.answer_type = answer_types[rng() % answer_types.size()];
    w.predictions.push_back({q.question_id, p(rng) < 0.6 ? pool[0] : answers[rng() % answers.size()]});
    w.questions.push_back(std::move(q));
  }
  return w;
}

void write_inputs(const std::string& path, const Workload& w) {
  nlohmann::json j;
  j["captions"] = nlohmann::json::array();
  for (const auto& e : w.captions) {
    j["captions"].push_back({{"image_id", e.image_id}, {"prediction", e.prediction}, {"references", e.references}});
  }
  auto& vqa = j["vqa"];
  vqa["annotations"] = nlohmann::json::array();
  for (const auto& q : w.questions) {
    nlohmann::json answers = nlohmann::json::array();
    for (std::size_t i = 0; i < q.answers.size(); ++i) {
      answers.push_back({{"answer", q.answers[i]}, {"answer_id", i + 1}});
    }
    vqa["annotations"].push_back({{"question_id", q.question_id}, {"answers", answers},
                                  {"question_type", q.question_type}, {"answer_type", q.answer_type}});
  }
  vqa["predictions"] = nlohmann::json::array();
  for (const auto& p : w.predictions) vqa["predictions"].push_back({{"question_id", p.question_id}, {"answer", p.answer}});
  std::ofstream out(path);
  out << j.dump();
  if (!out.flush()) throw Error(path, "cannot write the benchmark inputs");
}

// The headline: per repetition, the CIDEr-D time plus the VQA time.
Measurement sum_of(const Measurement& a, const Measurement& b) {
  Measurement m = a;
  for (std::size_t i = 0; i < m.times_s.size() && i < b.times_s.size(); ++i) m.times_s[i] += b.times_s[i];
  m.median_s = median(m.times_s);
  m.min_s = sorted(m.times_s).front();
  m.peak_bytes = std::max(a.peak_bytes, b.peak_bytes);
  m.delta_bytes = std::max(a.delta_bytes, b.delta_bytes);
  return m;
}

std::string seconds(double s) {
  std::ostringstream o;
  o.precision(3);
  o << s << " s";
  return o.str();
}

BenchResult metrics_case(const BenchSettings& s, Progress& progress) {
  if (s.tokens > 0 || s.new_tokens > 0) {
    throw UsageError(s.tokens > 0 ? "--tokens" : "--new-tokens", "metrics takes --batch (predictions) only");
  }
  const int n = s.batch > 0 ? s.batch : 25000;
  progress.say("generating " + std::to_string(n) + " captions and VQA questions");
  const auto work = make_workload(n, s.seed);
  ScratchDir scratch(s.work_dir);
  const auto inputs = scratch.path() + "/inputs.json";
  if (s.peer) write_inputs(inputs, work);

  std::vector<eval::CaptionExample> tokenized;
  const auto tokenize = measure([&] { tokenized = eval::coco_tokenized(work.captions); }, s, progress,
                                "epalm PTB tokenization");
  eval::CorpusScores cider;
  const auto cider_time = measure([&] { cider = eval::cider_d(tokenized); }, s, progress, "epalm CIDEr-D");
  eval::VqaAccuracy vqa;
  const auto vqa_time =
      measure([&] { vqa = eval::vqa_accuracy(work.predictions, work.questions); }, s, progress, "epalm VQA accuracy");

  BenchResult r;
  r.unit = "predictions";
  r.tokens_per_run = 2 * static_cast<std::int64_t>(n);
  r.ours_label = "epalm (C++)";
  r.peer_label = "pycocoevalcap + vqaEval";
  r.peer_implementation = "pycocoevalcap Cider (CIDEr-D) + the official vqaEval.py evaluate(), Python";
  r.settings = {{"predictions", std::to_string(n) + " captions (5 references each) + " + std::to_string(n) +
                                    " VQA questions (10 answers each), synthetic, seed " + std::to_string(s.seed)},
                {"timed", "CIDEr-D on tokenized captions + VQA accuracy, per repetition"},
                {"threads", "1 (both)"},
                {"warmup", std::to_string(s.warmup)},
                {"repetitions", std::to_string(s.repetitions)}};
  r.ours = sum_of(cider_time, vqa_time);
  r.ours.extra = {{"digest", {{"cider_d", cider.mean}, {"vqa_overall", vqa.overall}}},
                  {"parts_median_s",
                   {{"tokenize", tokenize.median_s}, {"cider", cider_time.median_s}, {"vqa", vqa_time.median_s}}}};
  if (!s.peer) return r;

  const auto peer_tokenized = scratch.path() + "/tokenized.json";
  r.peer = run_peer(s, "metrics_peer.py",
                    {"--inputs", inputs, "--tokenized", peer_tokenized, "--warmup", std::to_string(s.warmup),
                     "--repetitions", std::to_string(s.repetitions)},
                    progress);
  auto& d = r.peer->extra["digest"];
  const auto parts = d.value("parts_s", nlohmann::json::object());
  d.erase("parts_s");
  auto peer_median = [&](const char* part) { return median(parts.value(part, std::vector<double>{})); };
  r.peer->extra["parts_median_s"] = {
      {"tokenize", peer_median("tokenize")}, {"cider", peer_median("cider")}, {"vqa", peer_median("vqa")}};

  std::size_t differ = 0;
  {
    std::ifstream in(peer_tokenized);
    const auto j = nlohmann::json::parse(in);
    for (std::size_t i = 0; i < tokenized.size() && i < j.size(); ++i) {
      differ += tokenized[i].prediction != j[i]["prediction"].get<std::string>();
      differ += tokenized[i].references != j[i]["references"].get<std::vector<std::string>>();
    }
    if (j.size() != tokenized.size()) differ += tokenized.size();
  }
  // A double default: NAN alone would make value() read the scores as float.
  const double peer_cider = d.value("cider_d", std::nan("")), peer_vqa = d.value("vqa_overall", std::nan(""));
  const double cider_diff = std::abs(cider.mean - peer_cider);
  r.agree = differ == 0 && cider_diff <= 1e-6 && vqa.overall == peer_vqa;
  auto ratio = [](double peer, double ours) {
    std::ostringstream o;
    o.precision(3);
    o << (ours > 0 ? peer / ours : 0) << "x";
    return o.str();
  };
  std::ostringstream check;
  check << "scores " << (r.agree ? "agree" : "DISAGREE") << ": CIDEr-D " << cider.mean << " vs " << peer_cider
        << " (|diff| " << cider_diff << "), VQA overall " << vqa.overall << " vs " << peer_vqa << ", "
        << differ << " tokenized captions differ.\n"
        << "  medians epalm / peer (epalm faster by):"
        << " CIDEr-D " << seconds(cider_time.median_s) << " / " << seconds(peer_median("cider")) << " ("
        << ratio(peer_median("cider"), cider_time.median_s) << "),"
        << " VQA " << seconds(vqa_time.median_s) << " / " << seconds(peer_median("vqa")) << " ("
        << ratio(peer_median("vqa"), vqa_time.median_s) << "),"
        << " PTB tokenization " << seconds(tokenize.median_s) << " / " << seconds(peer_median("tokenize")) << " ("
        << ratio(peer_median("tokenize"), tokenize.median_s) << ", CoreNLP in Java)";
  r.check = check.str();
  return r;
}

}  // namespace

std::vector<BenchCase> metrics_bench_cases() {
  return {{"metrics",
           "CIDEr-D + VQA accuracy on 25k predictions against pycocoevalcap and vqaEval.py (--batch: predictions)",
           metrics_case, ""}};
}

}  // namespace epalm::experiments
