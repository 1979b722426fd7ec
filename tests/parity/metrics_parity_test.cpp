// Evaluation metrics against their Python peers (make_metrics_fixtures.py):
// pycocoevalcap's PTBTokenizer (CoreNLP through Java), Bleu, Rouge and Cider,
// and a line-by-line transcription of the official vqaEval.py.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "epalm/core/eval/answer_normalization.h"
#include "epalm/core/eval/caption_metrics.h"
#include "epalm/core/error.h"
#include "epalm/core/eval/meteor.h"
#include "epalm/core/eval/ptb_tokenizer.h"
#include "epalm/core/eval/qa_accuracy.h"
#include "epalm/core/eval/spice.h"
#include "epalm/core/eval/vqa_accuracy.h"

namespace {

using namespace epalm::eval;

nlohmann::json fixture(const std::string& name) {
  const std::string path = std::string(EPALM_METRICS_FIXTURES) + "/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": missing (run the metrics_fixtures.generate test first)");
  return nlohmann::json::parse(in);
}

std::string quoted(const std::string& s) { return nlohmann::json(s).dump(); }

void record(const std::string& key, double value) {
  std::ostringstream s;
  s << value;
  ::testing::Test::RecordProperty(key, s.str());
}

TEST(PtbTokenizerParity, MatchesCoreNlpThroughPycocoevalcap) {
  const auto j = fixture("ptb.json");
  const auto& captions = j["captions"];
  const auto& expected = j["pycocoevalcap"];
  ASSERT_EQ(captions.size(), expected.size());
  std::size_t mismatches = 0;
  std::ostringstream shown;
  for (std::size_t i = 0; i < captions.size(); ++i) {
    const auto ours = coco_tokenize(captions[i].get<std::string>());
    if (ours != expected[i].get<std::string>()) {
      if (++mismatches <= 25) {
        shown << "  " << quoted(captions[i]) << "\n    peer: " << quoted(expected[i]) << "\n    ours: " << quoted(ours)
              << "\n";
      }
    }
  }
  EXPECT_EQ(mismatches, 0u) << mismatches << " of " << captions.size() << " captions differ:\n" << shown.str();
  record("captions", static_cast<double>(captions.size()));
}

struct SetInput {
  std::vector<CaptionExample> raw, tokenized;
};

SetInput examples_of(const nlohmann::json& set) {
  SetInput in;
  for (std::size_t i = 0; i < set["examples"].size(); ++i) {
    const auto& e = set["examples"][i];
    const auto& t = set["tokenized"][i];
    in.raw.push_back({e["image_id"].get<std::string>(), e["prediction"].get<std::string>(),
                      e["references"].get<std::vector<std::string>>()});
    in.tokenized.push_back({e["image_id"].get<std::string>(), t["prediction"].get<std::string>(),
                            t["references"].get<std::vector<std::string>>()});
  }
  return in;
}

// The largest |ours - peer| over corpus and per-image scores of one set.
double compare_scores(const nlohmann::json& set, const BleuScores& b, const CorpusScores& r, const CorpusScores& c) {
  double worst = 0;
  auto diff = [&](double ours, double peer) { worst = std::max(worst, std::abs(ours - peer)); };
  for (std::size_t k = 0; k < 4; ++k) {
    diff(b.corpus[k], set["scores"]["Bleu"][k].get<double>());
    for (std::size_t i = 0; i < b.per_example.size(); ++i) {
      diff(b.per_example[i][k], set["per_image"]["Bleu"][k][i].get<double>());
    }
  }
  diff(r.mean, set["scores"]["ROUGE_L"].get<double>());
  diff(c.mean, set["scores"]["CIDEr"].get<double>());
  for (std::size_t i = 0; i < r.per_example.size(); ++i) {
    diff(r.per_example[i], set["per_image"]["ROUGE_L"][i].get<double>());
    diff(c.per_example[i], set["per_image"]["CIDEr"][i].get<double>());
  }
  return worst;
}

TEST(CaptionMetricsParity, ScorersMatchPycocoevalcapOnItsTokenization) {
  const auto j = fixture("captions.json");
  for (const auto& set : j["sets"]) {
    const auto in = examples_of(set);
    const double worst = compare_scores(set, bleu(in.tokenized), rouge_l(in.tokenized), cider_d(in.tokenized));
    EXPECT_LE(worst, 1e-12) << set["name"];
    record("max_abs_diff." + set["name"].get<std::string>(), worst);
  }
}

TEST(CaptionMetricsParity, EndToEndMatchesPycocoevalcap) {
  const auto j = fixture("captions.json");
  for (const auto& set : j["sets"]) {
    const auto in = examples_of(set);
    const auto tokenized = coco_tokenized(in.raw);
    for (std::size_t i = 0; i < tokenized.size(); ++i) {
      EXPECT_EQ(tokenized[i].prediction, in.tokenized[i].prediction) << set["name"] << " " << in.raw[i].image_id;
      EXPECT_EQ(tokenized[i].references, in.tokenized[i].references) << set["name"] << " " << in.raw[i].image_id;
    }
    const auto s = caption_scores(in.raw);
    const double worst = compare_scores(set, s.bleu, s.rouge_l, s.cider_d);
    EXPECT_LE(worst, 1e-6) << set["name"];
    record("end_to_end_max_abs_diff." + set["name"].get<std::string>(), worst);
  }
}

// METEOR runs the same jar as pycocoevalcap; this checks the protocol and the
// hypothesis clean-up around it (skipped, saying why, without Java).
TEST(CaptionMetricsParity, MeteorMatchesPycocoevalcap) {
  const auto j = fixture("captions.json");
  const auto tool = find_meteor(j["meteor_jar"].get<std::string>());
  if (!tool.available()) GTEST_SKIP() << tool.skipped_reason;
  int compared = 0;
  for (const auto& set : j["sets"]) {
    if (set["METEOR"].is_null()) continue;
    const auto in = examples_of(set);
    const auto ours = meteor(in.tokenized, tool);
    ASSERT_TRUE(ours.has_value());
    EXPECT_EQ(ours->mean, set["METEOR"]["score"].get<double>()) << set["name"];
    ASSERT_EQ(ours->per_example.size(), set["METEOR"]["per_image"].size());
    for (std::size_t i = 0; i < ours->per_example.size(); ++i) {
      EXPECT_EQ(ours->per_example[i], set["METEOR"]["per_image"][i].get<double>()) << set["name"] << " " << i;
    }
    ++compared;
  }
  EXPECT_EQ(compared, 2) << "the fixture scores two sets with METEOR when Java is there";
}

TEST(CaptionMetricsParity, MeteorIsSkippedWithAReason) {
  const auto tool = find_meteor("/nonexistent/meteor-1.5.jar");
  EXPECT_FALSE(tool.available());
  EXPECT_NE(tool.skipped_reason.find("METEOR skipped"), std::string::npos);
  EXPECT_FALSE(meteor({{"1", "a dog", {"a dog"}}}, tool).has_value());
}

// pycocoevalcap's side of SPICE: the input file it writes, and what it makes
// of SPICE's answer (including NaN F-scores written as bare NaN tokens).

void expect_same_score(double ours, const nlohmann::json& peer, const std::string& what) {
  if (peer.is_null()) {
    EXPECT_TRUE(std::isnan(ours)) << what;
  } else {
    EXPECT_EQ(ours, peer.get<double>()) << what;
  }
}

std::string write_temp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << text;
  return path.string();
}

TEST(CaptionMetricsParity, SpiceExchangeMatchesPycocoevalcap) {
  const auto j = fixture("captions.json");
  int compared = 0;
  for (const auto& set : j["sets"]) {
    if (set["SPICE"].is_null()) continue;
    const auto in = examples_of(set);
    EXPECT_EQ(nlohmann::json::parse(spice_input(in.tokenized)), set["SPICE"]["exchange"]["input"]) << set["name"];
    for (const char* exchange : {"exchange", "exchange_with_nan"}) {
      const auto& peer = set["SPICE"][exchange];
      const auto path = write_temp("spice-output", peer["output_text"].get<std::string>());
      const auto ours = read_spice_output(path, in.tokenized);
      std::remove(path.c_str());
      const auto what = set["name"].get<std::string>() + " " + exchange;
      expect_same_score(ours.mean, peer["score"], what + " mean");
      ASSERT_EQ(ours.per_example.size(), peer["per_image"].size());
      // pycocoevalcap lists images sorted by id; ours follow the examples.
      std::vector<std::string> ids;
      for (const auto& e : in.tokenized) ids.push_back(e.image_id);
      auto sorted = ids;
      std::sort(sorted.begin(), sorted.end());
      for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto at = std::find(sorted.begin(), sorted.end(), ids[i]) - sorted.begin();
        expect_same_score(ours.per_example[i], peer["per_image"][at], what + " image " + ids[i]);
      }
    }
    ++compared;
  }
  EXPECT_EQ(compared, 2) << "the fixture has SPICE exchanges for two sets";
}

// The real SPICE run, where the Stanford CoreNLP jars it needs are installed.
TEST(CaptionMetricsParity, SpiceMatchesPycocoevalcap) {
  const auto j = fixture("captions.json");
  const auto tool = find_spice(j["spice_jar"].get<std::string>());
  if (!tool.available()) GTEST_SKIP() << tool.skipped_reason;
  int compared = 0;
  for (const auto& set : j["sets"]) {
    if (set["SPICE"].is_null() || set["SPICE"]["real"].is_null()) continue;
    const auto ours = spice(examples_of(set).tokenized, tool);
    ASSERT_TRUE(ours.has_value());
    EXPECT_NEAR(ours->mean, set["SPICE"]["real"]["score"].get<double>(), 1e-12) << set["name"];
    ++compared;
  }
  EXPECT_EQ(compared, 2) << "SPICE is installed, so the fixture should have its scores (regenerate the fixtures)";
}

TEST(CaptionMetricsParity, SpiceIsSkippedWithAReason) {
  const auto missing = find_spice("/nonexistent/spice-1.0.jar");
  EXPECT_FALSE(missing.available());
  EXPECT_NE(missing.skipped_reason.find("SPICE skipped"), std::string::npos);
  EXPECT_FALSE(spice({{"1", "a dog", {"a dog"}}}, missing).has_value());
  // A jar without CoreNLP beside it names the missing jar.
  const auto dir = std::filesystem::temp_directory_path() / ("spice-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "lib");
  std::ofstream(dir / "spice-1.0.jar") << "jar";
  const auto no_models = find_spice((dir / "spice-1.0.jar").string());
  std::filesystem::remove_all(dir);
  if (find_java().empty()) GTEST_SKIP() << "no Java: the reason names Java first";
  EXPECT_FALSE(no_models.available());
  EXPECT_NE(no_models.skipped_reason.find("stanford-corenlp-3.6.0.jar"), std::string::npos) << no_models.skipped_reason;
}

TEST(CaptionMetricsParity, MalformedSpiceOutputIsNamed) {
  const std::vector<CaptionExample> examples = {{"7", "a dog", {"a dog"}}};
  for (const std::string& text : {std::string("[{\"image_id\": \"7\""), std::string("{\"image_id\": \"7\"}"),
                                  std::string("[{\"image_id\": \"8\", \"scores\": {\"All\": {\"f\": 0.5}}}]"),
                                  std::string("[{\"image_id\": \"7\", \"scores\": {}}]")}) {
    const auto path = write_temp("spice-bad", text);
    try {
      read_spice_output(path, examples);
      ADD_FAILURE() << "accepted " << text;
    } catch (const epalm::Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
    std::remove(path.c_str());
  }
  EXPECT_THROW(spice_input({{"7", "a", {"b"}}, {"7", "c", {"d"}}}), epalm::Error);
  EXPECT_THROW(spice_input({{"7", "a", {}}}), epalm::Error);
}

TEST(VqaParity, NormalizationMatchesVqaEval) {
  const auto j = fixture("vqa.json");
  for (const auto& c : j["normalization"]) {
    const auto text = c["text"].get<std::string>();
    EXPECT_EQ(process_punctuation(text), c["processPunctuation"].get<std::string>()) << quoted(text);
    EXPECT_EQ(process_digit_article(text), c["processDigitArticle"].get<std::string>()) << quoted(text);
    EXPECT_EQ(normalize_qa_answer(text), c["normalize_qa_answer"].get<std::string>()) << quoted(text);
  }
}

TEST(VqaParity, AccuracyMatchesVqaEval) {
  const auto j = fixture("vqa.json");
  for (const auto& set : j["sets"]) {
    std::vector<VqaQuestion> questions;
    for (const auto& a : set["annotations"]) {
      VqaQuestion q;
      q.question_id = a["question_id"].get<std::int64_t>();
      for (const auto& answer : a["answers"]) q.answers.push_back(answer["answer"].get<std::string>());
      q.question_type = a["question_type"].get<std::string>();
      q.answer_type = a["answer_type"].get<std::string>();
      questions.push_back(std::move(q));
    }
    std::vector<VqaPrediction> predictions;
    for (const auto& p : set["predictions"]) {
      predictions.push_back({p["question_id"].get<std::int64_t>(), p["answer"].get<std::string>()});
    }
    const auto ours = vqa_accuracy(predictions, questions);
    const auto& peer = set["result"];
    // Rounded to 2 decimals on both sides: equal, not close.
    EXPECT_EQ(ours.overall, peer["overall"].get<double>());
    EXPECT_EQ(ours.questions, predictions.size());
    EXPECT_EQ(ours.per_question_type.size(), peer["perQuestionType"].size());
    for (const auto& [type, value] : peer["perQuestionType"].items()) {
      EXPECT_EQ(ours.per_question_type.at(type), value.get<double>()) << type;
    }
    EXPECT_EQ(ours.per_answer_type.size(), peer["perAnswerType"].size());
    for (const auto& [type, value] : peer["perAnswerType"].items()) {
      EXPECT_EQ(ours.per_answer_type.at(type), value.get<double>()) << type;
    }
    for (const auto& q : peer["perQuestion"]) {
      EXPECT_EQ(ours.per_question.at(q["question_id"].get<std::int64_t>()), q["accuracy"].get<double>())
          << q["question_id"];
    }
    record("overall." + std::to_string(predictions.size()), ours.overall);
  }
}

TEST(QaParity, AccuracyMatchesReference) {
  const auto path = std::string(EPALM_METRICS_FIXTURES) + "/qa.json";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  const auto j = nlohmann::ordered_json::parse(in);  // label order decides collisions
  std::vector<QaLabel> labels;
  for (const auto& l : j["labels"]) {
    QaLabel label{l["question_id"].get<std::int64_t>(), {}};
    for (const auto& [answer, score] : l["scores"].items()) label.scores.emplace_back(answer, score.get<double>());
    labels.push_back(std::move(label));
  }
  std::vector<QaPrediction> predictions;
  for (const auto& p : j["predictions"]) {
    predictions.push_back({p["question_id"].get<std::int64_t>(), p["answer"].get<std::string>()});
  }
  EXPECT_EQ(qa_accuracy(predictions, labels), j["accuracy"].get<double>());
}

}  // namespace
