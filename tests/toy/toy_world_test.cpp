// The toy world as a dataset: the same seed gives the same bytes, the cache
// and its lock, the sizes, every split read back by the real read_dataset,
// and the no-perception baselines (answers cannot be guessed from questions).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "epalm/core/data/datasets.h"
#include "epalm/core/error.h"
#include "epalm/core/text/text_objective.h"
#include "process.h"
#include "toy_world_support.h"

namespace epalm {
namespace {

namespace fs = std::filesystem;
namespace toy = experiments::toy;
using testing::read_json_file;

std::map<std::string, std::string> files_of(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    out[fs::relative(entry.path(), root).string()] = bytes.str();
  }
  return out;
}

TEST(ToyWorld, SameSeedGivesTheSameBytesAnotherSeedOtherWorlds) {
  testing::TempDir dir;
  const auto a = toy::ensure_world_at(testing::small_world_spec(11), dir.path() + "/a");
  const auto b = toy::ensure_world_at(testing::small_world_spec(11), dir.path() + "/b");
  const auto c = toy::ensure_world_at(testing::small_world_spec(12), dir.path() + "/c");
  ASSERT_TRUE(a.generated && b.generated && c.generated);
  const auto fa = files_of(a.root), fb = files_of(b.root), fc = files_of(c.root);
  ASSERT_GT(fa.size(), 100u);
  ASSERT_EQ(fa.size(), fb.size());
  for (const auto& [name, bytes] : fa) {
    ASSERT_TRUE(fb.count(name)) << name;
    EXPECT_TRUE(fb.at(name) == bytes) << name << " differs between two worlds of one seed";
  }
  // Another seed: the same file names, other contents (all but the seed-free tokenizer settings).
  std::size_t differ = 0, media = 0;
  for (const auto& [name, bytes] : fa) {
    ASSERT_TRUE(fc.count(name)) << name;
    const bool is_media = name.find(".jpg") != std::string::npos || name.find(".mp4") != std::string::npos ||
                          name.find(".wav") != std::string::npos;
    media += is_media;
    differ += is_media && fc.at(name) != bytes;
  }
  EXPECT_GT(differ, media * 8 / 10) << differ << " of " << media << " media files differ";
  EXPECT_NE(fa.at("vqa/karpathy_train.json"), fc.at("vqa/karpathy_train.json"));
  EXPECT_NE(fa.at("corpus/train.txt"), fc.at("corpus/train.txt"));
}

TEST(ToyWorld, TheCacheIsReusedAndAnotherWorldIsRefused) {
  testing::TempDir dir;
  const auto spec = testing::small_world_spec();
  const auto first = toy::ensure_world(spec, dir.path());
  EXPECT_TRUE(first.generated);
  EXPECT_EQ(first.root, dir.path() + "/" + toy::world_key(spec));
  const auto again = toy::ensure_world(spec, dir.path());
  EXPECT_FALSE(again.generated);
  EXPECT_EQ(again.counts, first.counts);
  // Nothing but the world and its lock file is left beside it.
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path())) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"." + toy::world_key(spec) + ".lock", toy::world_key(spec)}));
  // The same folder asked for with another seed: an error naming the manifest.
  auto other = spec;
  other.seed = 99;
  try {
    toy::ensure_world_at(other, first.root);
    FAIL() << "another seed's world was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("world.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("seed"), std::string::npos) << e.what();
  }
  // A folder holding something else is not overwritten.
  fs::create_directories(dir.path() + "/stranger");
  const auto stranger = dir.write("stranger/file.txt", "mine");
  EXPECT_THROW(toy::ensure_world_at(spec, dir.path() + "/stranger"), Error);
  std::ifstream kept(stranger);
  std::string content;
  kept >> content;
  EXPECT_EQ(content, "mine");
}

TEST(ToyWorld, ConcurrentFirstUsesGenerateOnce) {
  testing::TempDir dir;
  const auto spec = testing::small_world_spec();
  constexpr int kUsers = 4;
  std::vector<toy::WorldInfo> infos(kUsers);
  std::vector<std::string> errors(kUsers);
  std::vector<std::thread> users;
  for (int i = 0; i < kUsers; ++i) {
    users.emplace_back([&, i] {
      try {
        infos[i] = toy::ensure_world(spec, dir.path());
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : users) t.join();
  int generated = 0;
  for (int i = 0; i < kUsers; ++i) {
    EXPECT_EQ(errors[i], "");
    EXPECT_EQ(infos[i].root, infos[0].root);
    EXPECT_EQ(infos[i].counts, infos[0].counts);
    generated += infos[i].generated;
  }
  EXPECT_EQ(generated, 1);
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

TEST(ToyWorld, SizesParseAndNameTheWorld) {
  const toy::WorldSizes defaults;
  EXPECT_EQ(toy::world_key({7, defaults}), "v" + std::to_string(toy::kGeneratorVersion) + "-seed7");
  const auto changed = toy::parse_sizes("train-images=10,video-frames=8");
  EXPECT_EQ(changed.train_images, 10);
  EXPECT_EQ(changed.video_frames, 8);
  EXPECT_EQ(changed.val_images, defaults.val_images);
  const auto key = toy::world_key({7, changed});
  EXPECT_EQ(key.rfind("v" + std::to_string(toy::kGeneratorVersion) + "-seed7-", 0), 0u) << key;
  EXPECT_NE(key, toy::world_key({7, toy::parse_sizes("train-images=11,video-frames=8")}));
  for (const char* bad : {"train-imgs=3", "train-images=", "train-images=x", "train-images=0", "image-size=63",
                          "audio-ms=100", "vocab-size=10"}) {
    try {
      toy::parse_sizes(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const UsageError& e) {
      EXPECT_EQ(e.where(), "--sizes") << bad;
    }
  }
  EXPECT_EQ(toy::size_values(defaults).size(), 17u);
}

// Every task's splits through read_dataset, as a training run reads them.
TEST(ToyWorld, EverySplitReadsBackThroughTheRealReaders) {
  const auto& world = testing::default_world();
  const auto& counts = world.counts;
  const toy::WorldSizes sizes;
  struct Case {
    std::string task, split;
    std::size_t samples;
  };
  const std::vector<Case> cases = {
      {"vqa", "karpathy_train", static_cast<std::size_t>(counts.at("vqa/karpathy_train questions"))},
      {"vqa", "karpathy_val", static_cast<std::size_t>(counts.at("vqa/karpathy_val questions"))},
      {"vqa", "karpathy_test", static_cast<std::size_t>(counts.at("vqa/karpathy_test questions"))},
      {"vqa", "train2014", static_cast<std::size_t>(counts.at("vqa/karpathy_train questions"))},
      {"vqa", "val2014", static_cast<std::size_t>(counts.at("vqa/karpathy_val questions") +
                                                  counts.at("vqa/karpathy_test questions"))},
      {"coco-caption", "karpathy_train", static_cast<std::size_t>(sizes.train_images) * 3},
      {"coco-caption", "karpathy_val", static_cast<std::size_t>(sizes.val_images)},
      {"coco-caption", "karpathy_test", static_cast<std::size_t>(sizes.test_images)},
      {"msrvtt-qa", "msrvtt_vqa_train", static_cast<std::size_t>(sizes.train_videos) * 6},
      {"msrvtt-qa", "msrvtt_vqa_val", static_cast<std::size_t>(sizes.val_videos) * 6},
      {"msrvtt-qa", "msrvtt_vqa_test", static_cast<std::size_t>(sizes.test_videos) * 6},
      {"msrvtt-caption", "msrvtt_caption_train7k", static_cast<std::size_t>(sizes.train_videos) * 3},
      {"msrvtt-caption", "msrvtt_caption_val", static_cast<std::size_t>(sizes.val_videos)},
      {"msrvtt-caption", "msrvtt_caption_test", static_cast<std::size_t>(sizes.test_videos)},
      {"audiocaps", "audiocaps_caption_train", static_cast<std::size_t>(sizes.train_audio) * 3},
      {"audiocaps", "audiocaps_caption_val", static_cast<std::size_t>(sizes.val_audio)},
      {"audiocaps", "audiocaps_caption_test", static_cast<std::size_t>(sizes.test_audio)},
  };
  for (const auto& c : cases) {
    data::DatasetSpec spec;
    spec.task = c.task;
    spec.root = world.root;
    spec.split = c.split;
    const auto dataset = data::read_dataset(spec);  // throws on a bad record or a missing media file
    ASSERT_EQ(dataset.samples.size(), c.samples) << dataset.name;
    EXPECT_EQ(dataset.missing.count, 0u) << dataset.name;
    for (const auto& s : dataset.samples) {
      ASSERT_FALSE(s.answers.empty()) << dataset.name << " " << s.id;
      if (dataset.kind == data::TaskKind::kQuestionAnswering) {
        ASSERT_FALSE(s.question.empty()) << dataset.name << " " << s.id;
        ASSERT_EQ(s.answers.size(), 1u) << dataset.name << " " << s.id;
        ASSERT_EQ(s.scores, std::vector<double>{1.0}) << dataset.name << " " << s.id;
      } else {
        const bool train = c.split.find("train") != std::string::npos;
        ASSERT_EQ(s.answers.size(), train ? 1u : 3u) << dataset.name << " " << s.id;
      }
      if (c.task == "vqa") {  // the official files' 10 human answers, found for VL-T5 splits too
        ASSERT_EQ(s.official_answers, std::vector<std::string>(10, s.answers[0])) << dataset.name << " " << s.id;
        ASSERT_FALSE(s.question_type.empty());
        ASSERT_FALSE(s.answer_type.empty());
      }
    }
  }
}

struct QaRecord {
  std::string type, question, answer;
};

// Each QA split's (question type, question, answer), from the VQA v2 official
// files (their types) and the MSRVTT-QA files (their extra question_type field).
std::vector<QaRecord> qa_records(const std::string& root, const std::string& task, const std::string& split) {
  data::DatasetSpec spec;
  spec.task = task;
  spec.root = root;
  spec.split = split;
  const auto dataset = data::read_dataset(spec);
  std::map<std::string, std::string> types;
  if (task == "msrvtt-qa") {
    for (const auto& r : read_json_file(root + "/annotation/" + split + ".json")) {
      types[std::to_string(r["question_id"].get<long long>())] = r["question_type"];
    }
  }
  std::vector<QaRecord> out;
  for (const auto& s : dataset.samples) {
    out.push_back({task == "vqa" ? s.question_type : types.at(s.id), s.question, s.answers.at(0)});
  }
  return out;
}

// Guessing without perceiving: per question type, (a) the training split's most
// common answer and (b) the most common training answer for the exact question
// text, scored on the held-out splits. If answers are independent of the text,
// any text-only guess scores 1/k in expectation (k answers, evenly spread), so
// each stays below 1/k + 4 standard errors of a proportion over the held-out
// questions; a leak in the generator (say, colours tied to shapes) breaks it.
TEST(ToyWorld, AnswersCannotBeGuessedWithoutPerception) {
  const auto& root = testing::default_world().root;
  struct Task {
    std::string task, train;
    std::vector<std::string> held_out;
    std::size_t question_types;  // docs/toy-world.md's table
  };
  const std::vector<Task> tasks = {{"vqa", "karpathy_train", {"karpathy_val", "karpathy_test"}, 5},
                                   {"msrvtt-qa", "msrvtt_vqa_train", {"msrvtt_vqa_val", "msrvtt_vqa_test"}, 6}};
  std::cout << "task       question type        k  held-out  prior-majority  text-majority  bound\n";
  for (const auto& t : tasks) {
    const auto train = qa_records(root, t.task, t.train);
    std::vector<QaRecord> held;
    for (const auto& split : t.held_out) {
      const auto part = qa_records(root, t.task, split);
      held.insert(held.end(), part.begin(), part.end());
    }
    std::map<std::string, std::map<std::string, int>> by_type;
    std::map<std::string, std::map<std::string, int>> by_text;
    for (const auto& r : train) {
      ++by_type[r.type][r.answer];
      ++by_text[r.question][r.answer];
    }
    auto majority = [](const std::map<std::string, int>& counts) {
      return std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.second < b.second; })
          ->first;
    };
    ASSERT_EQ(by_type.size(), t.question_types) << t.task;
    for (const auto& [type, answers] : by_type) {
      const double k = static_cast<double>(answers.size());
      ASSERT_GE(k, 2) << t.task << " " << type;
      int n = 0, prior_right = 0, text_right = 0;
      for (const auto& r : held) {
        if (r.type != type) continue;
        ++n;
        prior_right += r.answer == majority(answers);
        const auto seen = by_text.find(r.question);
        text_right += seen != by_text.end() && r.answer == majority(seen->second);
      }
      ASSERT_GT(n, 20) << t.task << " " << type;
      const double p = 1 / k, bound = p + 4 * std::sqrt(p * (1 - p) / n);
      const double prior = static_cast<double>(prior_right) / n, text = static_cast<double>(text_right) / n;
      std::printf("%-10s %-20s %2.0f  %8d  %14.3f  %13.3f  %5.3f\n", t.task.c_str(), type.c_str(), k, n, prior, text,
                  bound);
      EXPECT_LE(prior, bound) << t.task << " " << type;
      EXPECT_LE(text, bound) << t.task << " " << type;
      // The training answers themselves are spread evenly too.
      int train_n = 0, train_max = 0;
      for (const auto& [answer, count] : answers) {
        train_n += count;
        train_max = std::max(train_max, count);
      }
      EXPECT_LE(static_cast<double>(train_max) / train_n, p + 4 * std::sqrt(p * (1 - p) / train_n))
          << t.task << " " << type << ": the most common answer";
    }
  }
}

// The corpus holds the training splits' language only.
TEST(ToyWorld, TheCorpusIsTheTrainingLanguage) {
  const auto& root = testing::default_world().root;
  std::ifstream in(root + "/corpus/train.txt");
  std::set<std::string> lines;
  std::size_t count = 0;
  std::size_t answered = 0;  // lines with the answer token
  for (std::string line; std::getline(in, line); ++count) {
    answered += line.find(text::TextObjective{}.answer_token) != std::string::npos;
    lines.insert(line);
  }
  EXPECT_EQ(static_cast<int>(count), testing::default_world().counts.at("corpus lines"));
  data::DatasetSpec spec;
  spec.root = root;
  spec.task = "coco-caption";
  spec.split = "karpathy_train";
  for (const auto& s : data::read_dataset(spec).samples) ASSERT_TRUE(lines.count(s.answers[0])) << s.answers[0];
  // Per training scene: its three descriptions; per training question: the
  // question with its answer after the scene's fullest description. Nothing
  // else (no bare question lines).
  const auto& counts = testing::default_world().counts;
  const toy::WorldSizes sizes;
  const int questions = counts.at("vqa/karpathy_train questions") + counts.at("msrvtt-qa/msrvtt_vqa_train questions");
  EXPECT_EQ(static_cast<int>(count),
            3 * sizes.train_images + 3 * sizes.train_videos + 3 * sizes.train_audio + questions);
  EXPECT_EQ(static_cast<int>(answered), questions);
  spec.task = "msrvtt-qa";
  spec.split = "msrvtt_vqa_train";
  // A question's line is eP-ALM's question-answering text: question, answer token, answer.
  for (const auto& s : data::read_dataset(spec).samples) {
    const auto bare = text::TextObjective{}.generation_prompt(s.question) + s.answers[0];
    ASSERT_FALSE(lines.count(bare)) << s.question;
    // After a description of its clip: some longer line ends with it.
    const bool in_context = std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
      return l.size() > bare.size() + 2 && l.compare(l.size() - bare.size() - 1, std::string::npos, " " + bare) == 0;
    });
    ASSERT_TRUE(in_context) << s.question;
    break;  // one question suffices for the format; the counts above cover every line
  }
}

}  // namespace
}  // namespace epalm
