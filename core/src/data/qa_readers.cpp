// VQA v2 (VL-T5 split files and the official questions + annotations), GQA,
// MSR-VTT-QA and MSVD-QA (docs/epalm.md, Data layouts).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <unordered_map>

#include "data/annotation_json.h"
#include "epalm/core/error.h"
#include "data/readers.h"

namespace epalm::data {

namespace {

namespace fs = std::filesystem;

std::string path_in(const DatasetSpec& spec, const std::string& relative) {
  return (fs::absolute(fs::path(spec.root)) / relative).lexically_normal().string();
}

// COCO/images/<folder>/<img_id>.jpg, the folder named inside the id
// ("COCO_val2014_000000000042"), as dataset/vqa.py chooses it.
std::string coco_image(const DatasetSpec& spec, const std::string& img_id, const Record& record) {
  for (const char* folder : {"train2014", "val2014", "test2015", "test2014"}) {
    if (img_id.find(folder) != std::string::npos) {
      return path_in(spec, std::string("COCO/images/") + folder + "/" + img_id + ".jpg");
    }
  }
  record.fail("img_id '" + img_id + "' names no COCO folder (train2014, val2014, test2015, test2014)");
}

struct OfficialAnnotation {
  std::vector<std::string> answers;  // the annotators', in file order
  std::string question_type, answer_type;
};

// v2_mscoco_<split>_annotations.json: question_id -> its 10 answers and types.
void read_official_annotations(const std::string& file, std::unordered_map<std::string, OfficialAnnotation>& out) {
  const auto document = load_json(file);
  const auto& list = record_list(document, file, "annotations");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Record r(list[i], file, i);
    OfficialAnnotation a;
    const auto& answers = r.field("answers");
    if (!answers.is_array() || answers.empty()) r.fail("'answers' must be a non-empty list");
    for (std::size_t k = 0; k < answers.size(); ++k) {
      const Record answer(answers[k], r, "answers", k);
      a.answers.push_back(answer.string("answer"));
    }
    a.question_type = r.has("question_type") ? r.string("question_type") : "";
    a.answer_type = r.has("answer_type") ? r.string("answer_type") : "";
    out[r.id("question_id")] = std::move(a);
  }
}

// The official accuracy an answer would score: the mean over the 10
// leave-one-out subsets of min(1, matches / 3) (exact string match).
double official_score(const std::vector<std::string>& gts, const std::string& answer) {
  double total = 0;
  for (std::size_t left_out = 0; left_out < gts.size(); ++left_out) {
    double matches = 0;
    for (std::size_t k = 0; k < gts.size(); ++k) matches += (k != left_out && gts[k] == answer) ? 1 : 0;
    total += std::min(1.0, matches / 3.0);
  }
  return gts.empty() ? 0 : total / static_cast<double>(gts.size());
}

void read_vqa_official(const DatasetSpec& spec, const std::string& questions_file, Dataset& out) {
  out.annotation_files.push_back(questions_file);
  const auto document = load_json(questions_file);
  const auto& list = record_list(document, questions_file, "questions");
  std::unordered_map<std::string, OfficialAnnotation> annotations;
  const auto annotations_file = path_in(spec, "vqa/v2_mscoco_" + spec.split + "_annotations.json");
  const bool annotated = fs::exists(annotations_file);
  if (annotated) {
    out.annotation_files.push_back(annotations_file);
    read_official_annotations(annotations_file, annotations);
  }
  // test-dev2015 images live in test2015.
  const auto image_split = spec.split == "test-dev2015" ? std::string("test2015") : spec.split;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Record r(list[i], questions_file, i);
    Sample s;
    s.id = r.id("question_id");
    const auto& image_id = r.field("image_id");
    if (!image_id.is_number_integer()) r.fail("'image_id' must be an integer");
    char name[64];
    std::snprintf(name, sizeof name, "COCO_%s_%012lld", image_split.c_str(), static_cast<long long>(image_id.get<std::int64_t>()));
    s.media_id = name;
    s.media = path_in(spec, "COCO/images/" + image_split + "/" + s.media_id + ".jpg");
    s.question = r.string("question");
    if (annotated) {
      const auto found = annotations.find(s.id);
      if (found == annotations.end()) r.fail("question_id " + s.id + " has no answers in " + annotations_file);
      s.official_answers = found->second.answers;
      s.question_type = found->second.question_type;
      s.answer_type = found->second.answer_type;
      for (const auto& a : s.official_answers) {
        if (std::find(s.answers.begin(), s.answers.end(), a) != s.answers.end()) continue;
        s.answers.push_back(a);
        s.scores.push_back(official_score(s.official_answers, a));
      }
    }
    out.samples.push_back(std::move(s));
  }
}

void read_vqa_vlt5(const DatasetSpec& spec, const std::string& file, Dataset& out) {
  out.annotation_files.push_back(file);
  const auto document = load_json(file);
  const auto& list = record_list(document, file);
  // The official answers, for the official metric, when their files are at hand.
  std::unordered_map<std::string, OfficialAnnotation> official;
  for (const char* part : {"train2014", "val2014"}) {
    const auto f = path_in(spec, std::string("vqa/v2_mscoco_") + part + "_annotations.json");
    if (fs::exists(f)) {
      out.annotation_files.push_back(f);
      read_official_annotations(f, official);
    }
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Record r(list[i], file, i);
    Sample s;
    s.id = r.id("question_id");
    s.media_id = r.string("img_id");
    s.media = coco_image(spec, s.media_id, r);
    s.question = r.string("sent");
    if (r.has("label")) r.label("label", s.answers, s.scores);
    if (r.has("question_type")) s.question_type = r.string("question_type");
    if (r.has("answer_type")) s.answer_type = r.string("answer_type");
    if (const auto found = official.find(s.id); found != official.end()) s.official_answers = found->second.answers;
    out.samples.push_back(std::move(s));
  }
}

}  // namespace

void read_vqa(const DatasetSpec& spec, Dataset& out) {
  const auto vlt5 = path_in(spec, "vqa/" + spec.split + ".json");
  const auto official = path_in(spec, "vqa/v2_OpenEnded_mscoco_" + spec.split + "_questions.json");
  if (fs::exists(vlt5)) return read_vqa_vlt5(spec, vlt5, out);
  if (fs::exists(official)) return read_vqa_official(spec, official, out);
  throw Error(vlt5, "no such file (nor the official " + official + ")");
}

void read_gqa(const DatasetSpec& spec, Dataset& out) {
  const auto file = path_in(spec, "GQA/" + spec.split + ".json");
  out.annotation_files.push_back(file);
  const auto document = load_json(file);
  const auto& list = record_list(document, file);
  // dataset/gqa.py: train/valid images are Visual Genome's, testdev/submit GQA's own.
  const bool gqa_images = spec.split.find("testdev") != std::string::npos || spec.split.find("submit") != std::string::npos;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Record r(list[i], file, i);
    Sample s;
    s.id = r.id("question_id");
    s.media_id = r.id("img_id");
    s.media = path_in(spec, (gqa_images ? "GQA/images/" : "VG/VG_100K/") + s.media_id + ".jpg");
    s.question = r.string("sent");
    if (r.has("label")) r.label("label", s.answers, s.scores);
    out.samples.push_back(std::move(s));
  }
}

void read_video_qa(const DatasetSpec& spec, Dataset& out) {
  const auto file = path_in(spec, "annotation/" + spec.split + ".json");
  out.annotation_files.push_back(file);
  const auto document = load_json(file);
  const auto& list = record_list(document, file);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Record r(list[i], file, i);
    Sample s;
    s.id = r.id("question_id");
    const auto video = r.string("video");
    if (video.empty()) r.fail("'video' is empty");
    s.media_id = video.substr(0, video.find('.'));
    s.media = path_in(spec, "videos/all/" + video);
    if (r.has("sent")) s.question = r.string("sent");
    else if (r.has("question")) s.question = r.string("question");
    else r.fail("has neither 'sent' nor 'question'");
    if (r.has("label")) r.label("label", s.answers, s.scores);
    out.samples.push_back(std::move(s));
  }
}

}  // namespace epalm::data
