// The dataset readers on the real-format fixtures (tests/parity/make_data_fixtures.py):
// every task's splits against what the annotation files say, and every kind of
// bad record, missing file and missing media reported with file and index.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "epalm/core/data/datasets.h"
#include "epalm/core/error.h"

namespace epalm {
namespace {

namespace fs = std::filesystem;

const std::string kFixtures = EPALM_DATA_FIXTURES;

nlohmann::json expected() {
  std::ifstream in(kFixtures + "/expected.json");
  return nlohmann::json::parse(in);
}

std::string root_of(const std::string& task) {
  if (task == "audiocaps") return kFixtures + "/audio";
  if (task.find("msrvtt") == 0 || task.find("msvd") == 0) return kFixtures + "/video";
  return kFixtures + "/root";
}

std::string absolute(const std::string& root, const std::string& relative) {
  return (fs::absolute(root) / relative).lexically_normal().string();
}

TEST(Datasets, EverySplitMatchesItsAnnotationFiles) {
  const auto splits = expected()["splits"];
  ASSERT_GE(splits.size(), 14u);
  for (const auto& [name, samples] : splits.items()) {
    const auto slash = name.find('/');
    data::DatasetSpec spec;
    spec.task = name.substr(0, slash);
    spec.split = name.substr(slash + 1);
    spec.root = root_of(spec.task);
    const auto dataset = data::read_dataset(spec);
    EXPECT_EQ(dataset.name, name);
    EXPECT_EQ(dataset.modality, data::task_modality(spec.task));
    ASSERT_EQ(dataset.samples.size(), samples.size()) << name;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      const auto& want = samples[i];
      const auto& got = dataset.samples[i];
      const auto where = name + " sample " + std::to_string(i);
      EXPECT_EQ(got.id, want["id"].get<std::string>()) << where;
      EXPECT_EQ(got.media_id, want["media_id"].get<std::string>()) << where;
      EXPECT_EQ(got.media, absolute(spec.root, want["media"].get<std::string>())) << where;
      EXPECT_EQ(got.question, want["question"].get<std::string>()) << where;
      EXPECT_EQ(got.answers, want["answers"].get<std::vector<std::string>>()) << where;
      const auto scores = want["scores"].get<std::vector<double>>();
      ASSERT_EQ(got.scores.size(), scores.size()) << where;
      for (std::size_t k = 0; k < scores.size(); ++k) EXPECT_NEAR(got.scores[k], scores[k], 1e-12) << where;
      if (want.contains("official_answers")) {
        EXPECT_EQ(got.official_answers, want["official_answers"].get<std::vector<std::string>>()) << where;
        EXPECT_EQ(got.question_type, want["question_type"].get<std::string>()) << where;
        EXPECT_EQ(got.answer_type, want["answer_type"].get<std::string>()) << where;
      }
    }
  }
}

TEST(Datasets, FractionKeepsTheFirstSamples) {
  data::DatasetSpec spec{"coco-caption", kFixtures + "/root", "karpathy_train", 0.5, false};
  const auto all = data::read_dataset({"coco-caption", kFixtures + "/root", "train"});
  const auto half = data::read_dataset(spec);
  ASSERT_EQ(half.samples.size(), all.samples.size() / 2);
  for (std::size_t i = 0; i < half.samples.size(); ++i) EXPECT_EQ(half.samples[i].id, all.samples[i].id);
  spec.fraction = 0;
  EXPECT_THROW(data::read_dataset(spec), UsageError);
  spec.fraction = 1.5;
  EXPECT_THROW(data::read_dataset(spec), UsageError);
}

TEST(Datasets, UnknownTasksAndSplitsAreNamed) {
  try {
    data::read_dataset({"vqa2", kFixtures + "/root", "train"});
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("vqa2"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("audiocaps"), std::string::npos);  // lists the known tasks
  }
  try {
    data::read_dataset({"gqa", kFixtures + "/root", "valid"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), absolute(kFixtures + "/root", "GQA/valid.json"));
  }
  EXPECT_THROW(data::read_dataset({"coco-caption", kFixtures + "/root", "restval"}), UsageError);
  EXPECT_THROW(data::read_dataset({"gqa", kFixtures + "/nowhere", "train"}), Error);
}

// A scratch copy of a fixture root whose annotation file is replaced.
class BadRecords : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("epalm-datasets-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy(kFixtures + "/root", dir_ / "root", fs::copy_options::recursive);
    fs::copy(kFixtures + "/video", dir_ / "video", fs::copy_options::recursive);
    fs::copy(kFixtures + "/audio", dir_ / "audio", fs::copy_options::recursive);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes `text` as `relative` under `root`, reads the split, expects an
  // Error naming that file whose reason holds `reason`.
  void expect_error(const std::string& task, const std::string& root, const std::string& split,
                    const std::string& relative, const std::string& text, const std::string& reason) {
    const auto file = absolute((dir_ / root).string(), relative);
    std::ofstream(file) << text;
    try {
      data::read_dataset({task, (dir_ / root).string(), split});
      ADD_FAILURE() << "no error for " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.where(), file) << e.what();
      EXPECT_NE(e.reason().find(reason), std::string::npos) << "'" << e.what() << "' lacks '" << reason << "'";
    }
  }

  fs::path dir_;
};

TEST_F(BadRecords, VqaRecordsNameTheirIndexAndField) {
  const std::string good = R"({"img_id": "COCO_train2014_000000000009", "sent": "q?", "question_id": 1, "label": {"a": 1}})";
  expect_error("vqa", "root", "karpathy_train", "vqa/karpathy_train.json", "[" + good + ", 7]", "record 1: must be a JSON object");
  expect_error("vqa", "root", "karpathy_train", "vqa/karpathy_train.json",
               "[" + good + R"(, {"img_id": "COCO_train2014_000000000009", "question_id": 2}])", "record 1: 'sent' is missing");
  expect_error("vqa", "root", "karpathy_train", "vqa/karpathy_train.json",
               R"([{"img_id": "COCO_train2014_000000000009", "sent": "q", "question_id": 1.5}])",
               "record 0: 'question_id' must be a string or an integer");
  expect_error("vqa", "root", "karpathy_train", "vqa/karpathy_train.json",
               R"([{"img_id": "COCO_train2014_000000000009", "sent": "q", "question_id": 1, "label": {"a": -1}}])",
               "record 0: 'label': the score of 'a' must be >= 0");
  expect_error("vqa", "root", "karpathy_train", "vqa/karpathy_train.json",
               R"([{"img_id": "COCO_xyz_1", "sent": "q", "question_id": 1}])", "record 0: img_id 'COCO_xyz_1' names no COCO folder");
  expect_error("vqa", "root", "karpathy_train", "vqa/karpathy_train.json", "[" + good + ", " + good + "]",
               "sample 1: id '1' repeats sample 0's");
  expect_error("vqa", "root", "karpathy_train", "vqa/karpathy_train.json", "[" + good, "not valid JSON");
  expect_error("vqa", "root", "karpathy_train", "vqa/karpathy_train.json", "{}", "must hold a JSON list");
  expect_error("vqa", "root", "karpathy_train", "vqa/karpathy_train.json", "[]", "has no samples");
}

TEST_F(BadRecords, OfficialVqaFilesAreChecked) {
  expect_error("vqa", "root", "val2014", "vqa/v2_OpenEnded_mscoco_val2014_questions.json", R"({"question": []})",
               "must be an object with a list 'questions'");
  expect_error("vqa", "root", "val2014", "vqa/v2_OpenEnded_mscoco_val2014_questions.json",
               R"({"questions": [{"image_id": "42", "question": "q", "question_id": 1}]})", "record 0: 'image_id' must be an integer");
  expect_error("vqa", "root", "val2014", "vqa/v2_OpenEnded_mscoco_val2014_questions.json",
               R"({"questions": [{"image_id": 42, "question": "q", "question_id": 99}]})",
               "record 0: question_id 99 has no answers in");
  std::ofstream(absolute((dir_ / "root").string(), "vqa/v2_OpenEnded_mscoco_val2014_questions.json"))
      << R"({"questions": [{"image_id": 42, "question": "q", "question_id": 420}]})";
  expect_error("vqa", "root", "val2014", "vqa/v2_mscoco_val2014_annotations.json",
               R"({"annotations": [{"question_id": 420, "answers": []}]})", "record 0: 'answers' must be a non-empty list");
}

TEST_F(BadRecords, CaptionAndMediaRecords) {
  expect_error("coco-caption", "root", "train", "COCO/dataset_coco.json",
               R"({"images": [{"filename": "COCO_train2014_000000000009.jpg", "split": "dev", "sentences": []}]})",
               "record 0: unknown split 'dev'");
  expect_error("coco-caption", "root", "train", "COCO/dataset_coco.json",
               R"({"images": [{"filename": "COCO_train2014_000000000009.jpg", "split": "train", "sentences": [{"raw": 3}]}]})",
               "record 0: sentences[0]: 'raw' must be a string");
  expect_error("msrvtt-caption", "video", "caption_train", "annotation/caption_train.json",
               R"([{"video": "video7010.mp4", "caption": []}])", "record 0: 'caption' is an empty list");
  expect_error("msvd-qa", "video", "qa_train", "annotation/qa_train.json",
               R"([{"video": "video7010.mp4", "question_id": 1, "label": {"a": 1}}])", "record 0: has neither 'sent' nor 'question'");
  expect_error("audiocaps", "audio", "train", "annotation/train.json", R"([{"caption": "x"}])", "record 0: 'audio' is missing");
  expect_error("gqa", "root", "train", "GQA/train.json", R"([{"img_id": "1", "sent": "q", "question_id": "7", "label": ["a"]}])",
               "record 0: 'label' must be an object");
}

TEST_F(BadRecords, MissingMediaFailsOrIsSkippedOnRequest) {
  fs::remove(dir_ / "video/videos/all/video7011.mp4");
  data::DatasetSpec spec{"msrvtt-caption", (dir_ / "video").string(), "caption_train"};
  try {
    data::read_dataset(spec);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), absolute(spec.root, "annotation/caption_train.json"));
    EXPECT_NE(e.reason().find("1 media file(s) missing, used by 1 sample(s)"), std::string::npos) << e.what();
    EXPECT_NE(e.reason().find("videos/all/video7011.mp4"), std::string::npos) << e.what();
  }
  spec.skip_missing_media = true;
  const auto dataset = data::read_dataset(spec);
  EXPECT_EQ(dataset.missing.count, 1u);
  EXPECT_EQ(dataset.missing.samples, 1u);
  ASSERT_EQ(dataset.missing.examples.size(), 1u);
  EXPECT_EQ(dataset.samples.size(), 3u);  // video7010's three captions
  for (const auto& s : dataset.samples) EXPECT_EQ(s.media_id, "video7010");
  // Every file gone: an error even when skipping.
  fs::remove(dir_ / "video/videos/all/video7010.mp4");
  EXPECT_THROW(data::read_dataset(spec), Error);
}

}  // namespace
}  // namespace epalm
