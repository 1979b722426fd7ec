// Writing a whole toy world into a directory: each modality's media and the
// real datasets' annotation files (image_datasets.cpp, video_datasets.cpp,
// audio_datasets.cpp), then the corpus and the tokenizer (world_writer.cpp).
// The cache (world_cache.cpp) decides where, and makes it atomic.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "epalm/experiments/toy_world.h"

namespace epalm::experiments::toy {

using Json = nlohmann::ordered_json;

// Compact JSON, creating the parent directories.
void write_json(const std::string& path, const Json& value);
void make_directories(const std::string& path);

struct SplitSize {
  std::string name;  // train, val, test
  int count;
};

// A training question's corpus line: the question and its answer after a
// description of the scene it asks about, reading comprehension from text
// alone, so that the decoder learns the answer token's row and to answer
// from what came before in the sequence (where eP-ALM puts the perceptual
// token), as a pretrained LM has learnt to. The corpus holds no bare
// question lines: beside them the toy decoder learnt to answer from the
// question's prior only (docs/toy-world.md).
std::string context_qa_corpus_line(const std::string& context, const std::string& question, const std::string& answer);

// The description that says the most (the most words): every attribute a question asks about.
const std::string& fullest_description(const std::vector<std::string>& descriptions);

// What a modality adds besides its files: corpus lines (train split only) and counts.
struct ModalityOutput {
  std::vector<std::string> corpus;
  std::map<std::string, int> counts;
};

ModalityOutput write_image_datasets(const WorldSpec& spec, const std::string& root);
ModalityOutput write_video_datasets(const WorldSpec& spec, const std::string& root);
ModalityOutput write_audio_datasets(const WorldSpec& spec, const std::string& root);

// Writes every file of the world into `root` (existing and empty) except the
// manifest world.json; returns the counts the manifest records.
std::map<std::string, int> write_world_files(const WorldSpec& spec, const std::string& root);

}  // namespace epalm::experiments::toy
