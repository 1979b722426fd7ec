// COCO (Karpathy dataset_coco.json), MSR-VTT / MSVD captions and AudioCaps
// (docs/epalm.md, Data layouts). Training splits: one sample per caption; other
// splits: one sample per media item holding all its captions.
#include <filesystem>
#include <map>
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

// Appends one media item's captions as samples.
void add_captions(Dataset& out, bool per_caption, const std::string& media_id, const std::string& media,
                  const std::vector<std::string>& captions) {
  if (per_caption) {
    for (std::size_t k = 0; k < captions.size(); ++k) {
      Sample s;
      s.id = media_id + "#" + std::to_string(k);
      s.media_id = media_id;
      s.media = media;
      s.answers = {captions[k]};
      out.samples.push_back(std::move(s));
    }
    return;
  }
  Sample s;
  s.id = media_id;
  s.media_id = media_id;
  s.media = media;
  s.answers = captions;
  out.samples.push_back(std::move(s));
}

}  // namespace

void read_coco_captions(const DatasetSpec& spec, Dataset& out) {
  const auto file = path_in(spec, "COCO/dataset_coco.json");
  out.annotation_files.push_back(file);
  auto split = spec.split;
  if (const auto underscore = split.rfind('_'); underscore != std::string::npos) split = split.substr(underscore + 1);
  if (split != "train" && split != "val" && split != "test") {
    throw UsageError("split", "coco-caption splits are train, val and test (or karpathy_*), not '" + spec.split + "'");
  }
  const auto document = load_json(file);
  const auto& images = record_list(document, file, "images");
  static const std::map<std::string, std::string> rename = {
      {"train", "train"}, {"restval", "train"}, {"val", "val"}, {"test", "test"}};
  for (std::size_t i = 0; i < images.size(); ++i) {
    const Record r(images[i], file, i);
    const auto record_split = r.string("split");
    const auto renamed = rename.find(record_split);
    if (renamed == rename.end()) r.fail("unknown split '" + record_split + "' (train, restval, val, test)");
    if (renamed->second != split) continue;
    const auto filename = r.string("filename");
    const auto img_id = filename.substr(0, filename.find('.'));
    std::string folder;
    if (img_id.find("train") != std::string::npos) folder = "train2014";
    else if (img_id.find("val") != std::string::npos) folder = "val2014";
    else r.fail("filename '" + filename + "' names neither train2014 nor val2014");
    const auto& sentences = r.field("sentences");
    if (!sentences.is_array() || sentences.empty()) r.fail("'sentences' must be a non-empty list");
    std::vector<std::string> captions;
    for (std::size_t k = 0; k < sentences.size(); ++k) {
      const Record sentence(sentences[k], r, "sentences", k);
      captions.push_back(strip(sentence.string("raw")));
    }
    add_captions(out, split == "train", img_id, path_in(spec, "COCO/images/" + folder + "/" + img_id + ".jpg"), captions);
  }
}

void read_media_captions(const DatasetSpec& spec, Dataset& out) {
  const auto file = path_in(spec, "annotation/" + spec.split + ".json");
  out.annotation_files.push_back(file);
  const bool audio = spec.task == "audiocaps";
  const char* media_key = audio ? "audio" : "video";
  const auto document = load_json(file);
  const auto& list = record_list(document, file);
  // Items keep the order of their first record; later records add captions.
  std::vector<std::string> order;
  std::unordered_map<std::string, std::pair<std::string, std::vector<std::string>>> items;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Record r(list[i], file, i);
    const auto name = r.string(media_key);
    if (name.empty()) r.fail(std::string("'") + media_key + "' is empty");
    const auto media = path_in(spec, (audio ? "audios/" : "videos/all/") + name);
    // The id: the path without its extension (audio paths may have folders).
    const auto dot = name.rfind('.');
    const auto media_id = dot == std::string::npos || name.find('/', dot) != std::string::npos ? name : name.substr(0, dot);
    auto [it, fresh] = items.try_emplace(media_id, media, std::vector<std::string>{});
    if (fresh) order.push_back(media_id);
    else if (it->second.first != media) r.fail("'" + name + "' and an earlier record share the id '" + media_id + "'");
    for (const auto& caption : r.strings("caption")) it->second.second.push_back(strip(caption));
  }
  const bool per_caption = spec.split.find("train") != std::string::npos;
  for (const auto& media_id : order) {
    const auto& [media, captions] = items.at(media_id);
    add_captions(out, per_caption, media_id, media, captions);
  }
}

}  // namespace epalm::data
