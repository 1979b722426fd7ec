// A whole world: the three modalities side by side (each item draws from its
// own random stream, so the threads cannot change the result), then the
// corpus of the training splits' language and the tokenizer trained on it.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>

#include "epalm/core/error.h"
#include "epalm/core/text/text_objective.h"
#include "epalm/experiments/bpe_trainer.h"
#include "world_writer.h"

namespace epalm::experiments::toy {

void make_directories(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throw Error(path, "cannot create the directory: " + ec.message());
}

void write_json(const std::string& path, const Json& value) {
  make_directories(std::filesystem::path(path).parent_path().string());
  std::ofstream file(path, std::ios::binary);
  file << value.dump();
  if (!file.flush()) throw Error(path, "cannot write");
}

namespace {

// A question and its answer as eP-ALM's question-answering text
// (TextObjective: question, the answer token "</a>", answer).
std::string qa_corpus_line(const std::string& question, const std::string& answer) {
  return text::TextObjective{}.generation_prompt(question) + answer;
}

// Descriptions end with a full stop or not (clips' captions do not).
std::string as_sentence(const std::string& text) {
  return !text.empty() && text.back() == '.' ? text : text + ".";
}

}  // namespace

std::string context_qa_corpus_line(const std::string& context, const std::string& question, const std::string& answer) {
  return as_sentence(context) + " " + qa_corpus_line(question, answer);
}

const std::string& fullest_description(const std::vector<std::string>& descriptions) {
  const auto words = [](const std::string& s) { return std::count(s.begin(), s.end(), ' '); };
  return *std::max_element(descriptions.begin(), descriptions.end(),
                           [&](const std::string& a, const std::string& b) { return words(a) < words(b); });
}

std::map<std::string, int> write_world_files(const WorldSpec& spec, const std::string& root) {
  auto images = std::async(std::launch::async, write_image_datasets, std::cref(spec), std::cref(root));
  auto video = std::async(std::launch::async, write_video_datasets, std::cref(spec), std::cref(root));
  auto audio = write_audio_datasets(spec, root);
  std::vector<ModalityOutput> parts;
  parts.push_back(images.get());
  parts.push_back(video.get());
  parts.push_back(std::move(audio));

  std::map<std::string, int> counts;
  std::vector<std::string> corpus;
  for (auto& part : parts) {
    counts.insert(part.counts.begin(), part.counts.end());
    corpus.insert(corpus.end(), part.corpus.begin(), part.corpus.end());
  }
  make_directories(root + "/corpus");
  {
    const auto path = root + "/corpus/train.txt";
    std::ofstream file(path, std::ios::binary);
    for (const auto& line : corpus) file << line << '\n';
    if (!file.flush()) throw Error(path, "cannot write");
  }
  BpeTrainerOptions options;
  options.vocab_size = static_cast<std::size_t>(spec.sizes.vocab_size);
  // The answer token is a special token, never split or merged: it leaves the BPE's text.
  const auto answer_token = text::TextObjective{}.answer_token;
  std::vector<std::string> bpe_text = corpus;
  for (auto& line : bpe_text) {
    for (auto at = line.find(answer_token); at != std::string::npos; at = line.find(answer_token, at)) {
      line.replace(at, answer_token.size(), " ");
    }
  }
  const auto vocabulary = train_bpe(bpe_text, options);
  write_opt_tokenizer(vocabulary, root + "/tokenizer");
  counts["corpus lines"] = static_cast<int>(corpus.size());
  counts["tokenizer vocabulary"] = static_cast<int>(vocabulary.tokens.size());
  return counts;
}

}  // namespace epalm::experiments::toy
