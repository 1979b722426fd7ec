// Byte-level BPE training (GPT-2's byte alphabet and pre-tokenizer) and the
// OPT tokenizer files it is written as.
#include "epalm/experiments/bpe_trainer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <unordered_map>

#include "epalm/core/error.h"

namespace epalm::experiments {

namespace {

namespace fs = std::filesystem;

constexpr const char* kSpecials[] = {"<s>", "<pad>", "</s>", "<unk>"};  // OPT's ids 0..3

std::string utf8(unsigned code_point) {
  std::string out;
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
  return out;
}

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves,
// the others take the code points from 256 on, in byte order.
const std::vector<std::string>& byte_symbols() {
  static const std::vector<std::string> symbols = [] {
    std::vector<std::string> out(256);
    unsigned next = 256;
    for (unsigned b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      out[b] = utf8(printable ? b : next++);
    }
    return out;
  }();
  return symbols;
}

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
// Oniguruma's \s on ASCII: space, \t, \n, \v, \f, \r.
bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
bool is_other(char c) { return !is_space(c) && !is_letter(c) && !is_digit(c); }

}  // namespace

std::vector<std::string> pretokenize_ascii(const std::string& text) {
  std::vector<std::string> out;
  const std::size_t n = text.size();
  std::size_t i = 0;
  auto run = [&](std::size_t from, bool (*in_class)(char)) {
    while (from < n && in_class(text[from])) ++from;
    return from;
  };
  while (i < n) {
    const char c = text[i];
    std::size_t end = i;
    if (c == '\'') {
      for (const char* suffix : {"s", "t", "re", "ve", "m", "ll", "d"}) {
        const std::string s(suffix);
        if (text.compare(i + 1, s.size(), s) == 0) {
          end = i + 1 + s.size();
          break;
        }
      }
    }
    if (end == i) {
      // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': an optional space, then a run of one class.
      const std::size_t start = (c == ' ' && i + 1 < n) ? i + 1 : i;
      for (auto in_class : {is_letter, is_digit, is_other}) {
        if (start < n && in_class(text[start])) {
          end = run(start, in_class);
          break;
        }
      }
    }
    if (end == i) {
      // '\s+(?!\S)' leaves the last space of a run to the word after it; '\s+' otherwise.
      end = run(i, is_space);
      if (end < n && end - i > 1) --end;
    }
    out.push_back(text.substr(i, end - i));
    i = end;
  }
  return out;
}

BpeVocabulary train_bpe(const std::vector<std::string>& texts, const BpeTrainerOptions& options) {
  const std::size_t base = std::size(kSpecials) + 256;
  if (options.vocab_size < base) {
    throw UsageError("vocab-size", "must be at least " + std::to_string(base) + " (4 special tokens and 256 bytes), not " +
                                       std::to_string(options.vocab_size));
  }
  // Distinct pieces and how often each occurs (an ordered map: a fixed order).
  std::map<std::string, std::size_t> piece_counts;
  for (std::size_t t = 0; t < texts.size(); ++t) {
    for (std::size_t k = 0; k < texts[t].size(); ++k) {
      if (static_cast<unsigned char>(texts[t][k]) >= 0x80) {
 const auto where = options.source.empty() ? "text " + std::to_string(t) : options.source + ":" + std::to_string(t + 1);
        throw Error(where, "byte " + std::to_string(k) +
                                                     " is not ASCII (the trainer's pre-tokenizer handles ASCII only)");
      }
    }
    for (auto& piece : pretokenize_ascii(texts[t])) ++piece_counts[piece];
  }

  BpeVocabulary out;
  std::unordered_map<std::string, std::size_t> ids;
  auto add_token = [&](const std::string& token) {
    if (ids.emplace(token, out.tokens.size()).second) out.tokens.push_back(token);
  };
  for (const char* special : kSpecials) add_token(special);
  for (const auto& symbol : byte_symbols()) add_token(symbol);

  struct Word {
    std::vector<std::string> symbols;
    std::size_t count;
  };
  std::vector<Word> words;
  for (const auto& [piece, count] : piece_counts) {
    Word w{{}, count};
    for (const char c : piece) w.symbols.push_back(byte_symbols()[static_cast<unsigned char>(c)]);
    words.push_back(std::move(w));
  }

  using Pair = std::pair<std::string, std::string>;
  while (out.tokens.size() < options.vocab_size) {
    std::map<Pair, std::size_t> pair_counts;
    for (const auto& w : words) {
      for (std::size_t k = 0; k + 1 < w.symbols.size(); ++k) pair_counts[{w.symbols[k], w.symbols[k + 1]}] += w.count;
    }
    // The most frequent pair; among equals the first in the map's order.
    const Pair* best = nullptr;
    std::size_t best_count = 0;
    for (const auto& [pair, count] : pair_counts) {
      if (count > best_count) {
        best = &pair;
        best_count = count;
      }
    }
    if (best == nullptr || best_count < std::max<std::size_t>(1, options.min_frequency)) break;
    const Pair merge = *best;
    const std::string joined = merge.first + merge.second;
    out.merges.push_back(merge);
    add_token(joined);
    for (auto& w : words) {
      std::vector<std::string> merged;
      merged.reserve(w.symbols.size());
      for (std::size_t k = 0; k < w.symbols.size(); ++k) {
        if (k + 1 < w.symbols.size() && w.symbols[k] == merge.first && w.symbols[k + 1] == merge.second) {
          merged.push_back(joined);
          ++k;
        } else {
          merged.push_back(w.symbols[k]);
        }
      }
      w.symbols = std::move(merged);
    }
  }
  return out;
}

void write_opt_tokenizer(const BpeVocabulary& vocabulary, const std::string& directory) {
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec) throw Error(directory, "cannot create the tokenizer directory: " + ec.message());
  auto write = [&](const std::string& name, const std::string& content) {
    const auto path = directory + "/" + name;
    std::ofstream file(path, std::ios::binary);
    file << content;
    if (!file.flush()) throw Error(path, "cannot write");
  };
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (std::size_t id = 0; id < vocabulary.tokens.size(); ++id) vocab[vocabulary.tokens[id]] = id;
  write("vocab.json", vocab.dump());
  std::string merges = "#version: 0.2\n";
  for (const auto& [left, right] : vocabulary.merges) merges += left + " " + right + "\n";
  write("merges.txt", merges);

  // What transformers' GPT2Tokenizer(..., OPT's settings).save_pretrained() writes.
  auto added = [](const char* content, bool special) {
    nlohmann::ordered_json t = {{"content", content}, {"lstrip", false}, {"normalized", true},
                                {"rstrip", false},    {"single_word", false}};
    if (special) t["special"] = true;
    return t;
  };
  nlohmann::ordered_json config = {
      {"add_bos_token", true},
      {"add_prefix_space", false},
      {"added_tokens_decoder", {{"1", added("<pad>", true)}, {"2", added("</s>", true)}}},
      {"bos_token", "</s>"},
      {"clean_up_tokenization_spaces", false},
      {"eos_token", "</s>"},
      {"errors", "replace"},
      {"pad_token", "<pad>"},
      {"tokenizer_class", "GPT2Tokenizer"},
      {"unk_token", "</s>"}};
  write("tokenizer_config.json", config.dump(2) + "\n");
  nlohmann::ordered_json special = {{"bos_token", added("</s>", false)},
                                    {"eos_token", added("</s>", false)},
                                    {"pad_token", added("<pad>", false)},
                                    {"unk_token", added("</s>", false)}};
  write("special_tokens_map.json", special.dump(2) + "\n");
}

}  // namespace epalm::experiments
