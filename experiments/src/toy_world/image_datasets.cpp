// The image half of the world as COCO and VQA v2 ship it: pictures under
// COCO/images/{train2014,val2014}, Karpathy's COCO/dataset_coco.json, VL-T5's
// vqa/karpathy_{train,val,test}.json and the official VQA v2 questions and
// annotations (train2014: the train split; val2014: val and test, as Karpathy's
// splits take both from val2014), plus labels/image_{split}.json.
#include <cctype>
#include <cstdio>

#include "world_model.h"
#include "world_writer.h"

namespace epalm::experiments::toy {

namespace {

std::vector<std::string> words(const std::string& caption) {
  std::vector<std::string> out;
  std::string word;
  for (const char c : caption) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!word.empty()) {
      out.push_back(word);
      word.clear();
    }
  }
  if (!word.empty()) out.push_back(word);
  return out;
}

Json object_label(const ShapeObject& o) {
  return {{"shape", shape_names()[static_cast<std::size_t>(o.shape)]},
          {"color", colors()[static_cast<std::size_t>(o.color)].name},
          {"size", size_names()[static_cast<std::size_t>(o.size)]},
          {"position", quadrant_names()[static_cast<std::size_t>(o.quadrant)]},
          {"center", {o.cx, o.cy}},
          {"radius", o.radius}};
}

Json class_lists() {
  Json color_names = Json::array();
  for (const auto& c : colors()) color_names.push_back(c.name);
  Json counts = Json::array();
  for (int n = 1; n <= kMaxPictureShapes; ++n) counts.push_back(std::to_string(n));
  return {{"shape", shape_names()}, {"color", color_names}, {"size", size_names()}, {"position", quadrant_names()},
          {"count", counts}};
}

// What labels/image_<split>.json says of one picture (its image_id apart).
Json picture_label(const ImageScene& scene, const std::string& media) {
  Json shape_counts = Json::array(), color_counts = Json::array();
  for (int s = 0; s < static_cast<int>(shape_names().size()); ++s) {
    int n = 0;
    for (const auto& o : scene.objects) n += o.shape == s;
    shape_counts.push_back(n);
  }
  for (int c = 0; c < static_cast<int>(colors().size()); ++c) {
    int n = 0;
    for (const auto& o : scene.objects) n += o.color == c;
    color_counts.push_back(n);
  }
  Json objects = Json::array();
  for (const auto& o : scene.objects) objects.push_back(object_label(o));
  return {{"media", media}, {"count", static_cast<int>(scene.objects.size())}, {"shape_counts", shape_counts},
          {"color_counts", color_counts}, {"objects", objects}};
}

// The ViT's own pictures, as ImageNet is a real ViT's: labels only, no
// language, in no caption or question split.
void write_pretraining_pictures(const WorldSpec& spec, const std::string& root, ModalityOutput& out) {
  make_directories(root + "/pretrain/images");
  Json labels = {{"classes", class_lists()}, {"items", Json::array()}};
  for (int i = 0; i < spec.sizes.pretrain_images; ++i) {
    Rng rng(spec.seed, "image/pretrain", static_cast<std::uint64_t>(i));
    const auto scene = sample_image_scene(rng, spec.sizes.image_size);
    char name[32];
    std::snprintf(name, sizeof name, "toy%08d.jpg", i);
    const std::string relative = std::string("pretrain/images/") + name;
    write_jpeg(render_image(scene, spec.sizes.image_size), root + "/" + relative);
    labels["items"].push_back(picture_label(scene, relative));
  }
  write_json(root + "/labels/image_pretrain.json", labels);
  out.counts["images/pretrain"] = spec.sizes.pretrain_images;
}

}  // namespace

ModalityOutput write_image_datasets(const WorldSpec& spec, const std::string& root) {
  const auto& sizes = spec.sizes;
  const std::vector<SplitSize> splits = {
      {"train", sizes.train_images}, {"val", sizes.val_images}, {"test", sizes.test_images}};
  ModalityOutput out;
  Json karpathy = {{"images", Json::array()}, {"dataset", "coco"}};
  std::map<std::string, Json> official_questions, official_annotations;  // by COCO folder
  for (const char* folder : {"train2014", "val2014"}) {
    official_questions[folder] = {{"info", {{"description", "epalm toy world"}}},
                                  {"task_type", "Open-Ended"},
                                  {"data_type", "mscoco"},
                                  {"license", Json::object()},
                                  {"data_subtype", folder},
                                  {"questions", Json::array()}};
    official_annotations[folder] = {{"info", {{"description", "epalm toy world"}}},
                                    {"license", Json::object()},
                                    {"data_subtype", folder},
                                    {"annotations", Json::array()}};
  }
  int image_id = 0, sentence_id = 0;
  for (const auto& split : splits) {
    const std::string folder = split.name == "train" ? "train2014" : "val2014";
    make_directories(root + "/COCO/images/" + folder);
    Json vlt5 = Json::array();
    Json labels = {{"classes", class_lists()}, {"items", Json::array()}};
    int questions = 0;
    for (int i = 0; i < split.count; ++i) {
      ++image_id;
      Rng rng(spec.seed, "image/" + split.name, static_cast<std::uint64_t>(i));
      const auto scene = sample_image_scene(rng, sizes.image_size);
      char name[64];
      std::snprintf(name, sizeof name, "COCO_%s_%012d", folder.c_str(), image_id);
      const std::string relative = "COCO/images/" + folder + "/" + name + ".jpg";
      write_jpeg(render_image(scene, sizes.image_size), root + "/" + relative);

      Json record = {{"filepath", folder}, {"sentids", Json::array()}, {"filename", std::string(name) + ".jpg"},
                     {"imgid", image_id - 1}, {"split", split.name}, {"sentences", Json::array()},
                     {"cocoid", image_id}};
      const auto captions = image_captions(scene, rng);
      for (const auto& caption : captions) {
        record["sentids"].push_back(sentence_id);
        record["sentences"].push_back(
            {{"tokens", words(caption)}, {"raw", caption}, {"imgid", image_id - 1}, {"sentid", sentence_id++}});
        if (split.name == "train") out.corpus.push_back(caption);
      }
      karpathy["images"].push_back(std::move(record));

      const auto asked = image_questions(scene, rng);
      for (std::size_t k = 0; k < asked.size(); ++k) {
        const auto& q = asked[k];
        const std::int64_t question_id = static_cast<std::int64_t>(image_id) * 10 + static_cast<std::int64_t>(k);
        vlt5.push_back({{"img_id", name}, {"label", {{q.answer, 1.0}}}, {"answer_type", q.answer_type},
                        {"question_id", question_id}, {"question_type", q.type}, {"sent", q.text}});
        official_questions[folder]["questions"].push_back(
            {{"image_id", image_id}, {"question", q.text}, {"question_id", question_id}});
        Json answers = Json::array();
        for (int a = 0; a < 10; ++a) answers.push_back({{"answer", q.answer}, {"answer_confidence", "yes"}, {"answer_id", a + 1}});
        official_annotations[folder]["annotations"].push_back(
            {{"question_type", q.type}, {"multiple_choice_answer", q.answer}, {"answers", std::move(answers)},
             {"image_id", image_id}, {"answer_type", q.answer_type}, {"question_id", question_id}});
        if (split.name == "train") {
          out.corpus.push_back(context_qa_corpus_line(fullest_description(captions), q.text, q.answer));
        }
        ++questions;
      }

      auto label = picture_label(scene, relative);
      label["image_id"] = image_id;
      labels["items"].push_back(std::move(label));
    }
    write_json(root + "/vqa/karpathy_" + split.name + ".json", vlt5);
    write_json(root + "/labels/image_" + split.name + ".json", labels);
    out.counts["images/" + split.name] = split.count;
    out.counts["vqa/karpathy_" + split.name + " questions"] = questions;
  }
  for (const char* folder : {"train2014", "val2014"}) {
    write_json(root + "/vqa/v2_OpenEnded_mscoco_" + std::string(folder) + "_questions.json", official_questions[folder]);
    write_json(root + "/vqa/v2_mscoco_" + std::string(folder) + "_annotations.json", official_annotations[folder]);
  }
  write_json(root + "/COCO/dataset_coco.json", karpathy);
  write_pretraining_pictures(spec, root, out);
  out.counts["coco-caption captions"] = sentence_id;
  return out;
}

}  // namespace epalm::experiments::toy
