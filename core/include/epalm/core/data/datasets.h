// The paper's tasks as lists of samples, read from the annotation files the
// eP-ALM reference reads (docs/epalm.md, Data layouts) and from the official VQA v2
// questions + annotations files. Layouts under a dataset root:
//   vqa             vqa/{split}.json (VL-T5: karpathy_train, ...), or the official
//                   vqa/v2_OpenEnded_mscoco_{split}_questions.json (+ v2_mscoco_{split}_annotations.json)
//                   for split train2014 / val2014 / test2015 / test-dev2015;
//                   images COCO/images/{train2014|val2014|test2015|test2014}/{img_id}.jpg
//   gqa             GQA/{split}.json; images VG/VG_100K/{img_id}.jpg, testdev/submit: GQA/images/
//   coco-caption    COCO/dataset_coco.json (Karpathy); split train (= train + restval), val, test
//                   (a "karpathy_" prefix is accepted); images COCO/images/{train2014|val2014}/
//   msrvtt-qa, msvd-qa             annotation/{split}.json, videos/all/{video}
//   msrvtt-caption, msvd-caption   annotation/{split}.json, videos/all/{video}
//   audiocaps       annotation/{split}.json, audios/{audio}
// Caption training splits (a split name containing "train") give one sample
// per caption; other splits one sample per media item with all its captions.
// Every bad record is an epalm::Error naming the file and the record's index.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace epalm::data {

enum class Modality { kImage, kVideo, kAudio };
enum class TaskKind { kQuestionAnswering, kCaptioning };

struct Sample {
  std::string id;                    // unique in the split: question_id (QA), or a caption sample id
  std::string media_id;              // image id / video / audio id (captions: several samples share it)
  std::string media;                 // absolute path of the media file
  std::string question;              // QA: the raw question ("sent"/"question" field); captioning: ""
  std::vector<std::string> answers;  // QA: label keys; captioning: reference caption(s), .strip()ed
  std::vector<double> scores;        // QA: label scores parallel to answers; captioning: empty
  // VQA v2 with the official annotations at hand: the 10 annotators' answers
  // (for the official accuracy), and the question and answer types.
  std::vector<std::string> official_answers;
  std::string question_type;
  std::string answer_type;
};

struct DatasetSpec {
  std::string task;  // vqa|gqa|coco-caption|msrvtt-qa|msvd-qa|msrvtt-caption|msvd-caption|audiocaps
  std::string root;
  std::string split;
  double fraction = 1.0;            // keep the first round-down(fraction * N) samples (at least 1), in file order
  bool skip_missing_media = false;  // drop samples whose media file is absent instead of failing
};

// Media files the annotations name but the root lacks.
struct MissingMedia {
  std::size_t count = 0;              // distinct files
  std::size_t samples = 0;            // samples that use them
  std::vector<std::string> examples;  // the first few paths
};

struct Dataset {
  std::string name;  // "<task>/<split>"
  TaskKind kind = TaskKind::kQuestionAnswering;
  Modality modality = Modality::kImage;
  std::vector<Sample> samples;
  std::vector<std::string> annotation_files;  // what was read
  MissingMedia missing;                       // skipped (skip_missing_media) media
};

// The tasks read_dataset knows, in the order above.
const std::vector<std::string>& dataset_tasks();
Modality task_modality(const std::string& task);  // throws UsageError for an unknown task
TaskKind task_kind(const std::string& task);
const char* modality_name(Modality modality);  // "image", "video", "audio"

// Reads a split. Throws UsageError for an unknown task or a fraction outside
// (0, 1], epalm::Error naming the file (and record index) for a missing or bad
// annotation file, and for missing media unless skip_missing_media (then the
// count and examples are in Dataset::missing, and a warning is logged).
Dataset read_dataset(const DatasetSpec& spec);

}  // namespace epalm::data
