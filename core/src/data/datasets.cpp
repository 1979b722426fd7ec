// read_dataset: the reader for the task, then the fraction, unique ids and the
// missing-media check (each distinct file stat-ed once).
#include "epalm/core/data/datasets.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include "data/readers.h"
#include "epalm/core/error.h"

namespace epalm::data {

namespace {

struct TaskInfo {
  const char* name;
  TaskKind kind;
  Modality modality;
  void (*read)(const DatasetSpec&, Dataset&);
};

const std::vector<TaskInfo>& task_table() {
  static const std::vector<TaskInfo> table = {
      {"vqa", TaskKind::kQuestionAnswering, Modality::kImage, read_vqa},
      {"gqa", TaskKind::kQuestionAnswering, Modality::kImage, read_gqa},
      {"coco-caption", TaskKind::kCaptioning, Modality::kImage, read_coco_captions},
      {"msrvtt-qa", TaskKind::kQuestionAnswering, Modality::kVideo, read_video_qa},
      {"msvd-qa", TaskKind::kQuestionAnswering, Modality::kVideo, read_video_qa},
      {"msrvtt-caption", TaskKind::kCaptioning, Modality::kVideo, read_media_captions},
      {"msvd-caption", TaskKind::kCaptioning, Modality::kVideo, read_media_captions},
      {"audiocaps", TaskKind::kCaptioning, Modality::kAudio, read_media_captions},
  };
  return table;
}

const TaskInfo& task_info(const std::string& task) {
  std::string known;
  for (const auto& t : task_table()) {
    if (task == t.name) return t;
    known += (known.empty() ? "" : ", ") + std::string(t.name);
  }
  throw UsageError("task", "unknown task '" + task + "' (tasks: " + known + ")");
}

constexpr std::size_t kMissingExamples = 5;

}  // namespace

const std::vector<std::string>& dataset_tasks() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& t : task_table()) out.push_back(t.name);
    return out;
  }();
  return names;
}

Modality task_modality(const std::string& task) { return task_info(task).modality; }
TaskKind task_kind(const std::string& task) { return task_info(task).kind; }

const char* modality_name(Modality modality) {
  switch (modality) {
    case Modality::kImage: return "image";
    case Modality::kVideo: return "video";
    case Modality::kAudio: return "audio";
  }
  return "?";
}

Dataset read_dataset(const DatasetSpec& spec) {
  const auto& info = task_info(spec.task);
  if (!(spec.fraction > 0 && spec.fraction <= 1)) {
    throw UsageError("fraction", "must be in (0, 1], not " + std::to_string(spec.fraction));
  }
  if (spec.split.empty()) throw UsageError("split", "is empty");
  if (!std::filesystem::is_directory(spec.root)) throw Error(spec.root, "no such dataset directory");
  Dataset out;
  out.name = spec.task + "/" + spec.split;
  out.kind = info.kind;
  out.modality = info.modality;
  info.read(spec, out);
  const auto& file = out.annotation_files.empty() ? spec.root : out.annotation_files.front();
  if (out.samples.empty()) throw Error(file, "the split '" + spec.split + "' has no samples");
  {
    std::unordered_map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < out.samples.size(); ++i) {
      const auto [it, fresh] = seen.emplace(out.samples[i].id, i);
      if (!fresh) {
        throw Error(file, "sample " + std::to_string(i) + ": id '" + out.samples[i].id + "' repeats sample " +
                              std::to_string(it->second) + "'s");
      }
    }
  }
  if (spec.fraction < 1) {
    const auto keep = std::max<std::size_t>(1, static_cast<std::size_t>(std::floor(spec.fraction * out.samples.size())));
    out.samples.resize(keep);
  }

  std::unordered_map<std::string, bool> exists;
  std::vector<Sample> present;
  present.reserve(out.samples.size());
  for (auto& s : out.samples) {
    auto [it, fresh] = exists.try_emplace(s.media, false);
    if (fresh) {
      std::error_code ec;
      it->second = std::filesystem::is_regular_file(s.media, ec);
      if (!it->second) {
        ++out.missing.count;
        if (out.missing.examples.size() < kMissingExamples) out.missing.examples.push_back(s.media);
      }
    }
    if (it->second) present.push_back(std::move(s));
    else ++out.missing.samples;
  }
  out.samples = std::move(present);
  if (out.missing.count > 0) {
    std::string examples;
    for (const auto& e : out.missing.examples) examples += (examples.empty() ? "" : ", ") + e;
    const auto what = std::to_string(out.missing.count) + " media file(s) missing, used by " +
                      std::to_string(out.missing.samples) + " sample(s), e.g. " + examples;
    if (!spec.skip_missing_media) throw Error(file, what + " (skip those samples with --skip-missing-media, or skip-missing-media = true in a config file)");
    spdlog::warn("{}: {}; those samples are skipped", out.name, what);
    if (out.samples.empty()) throw Error(file, "every media file is missing, e.g. " + examples);
  }
  return out;
}

}  // namespace epalm::data
