// A byte-level BPE vocabulary trainer whose output is an OPT tokenizer
// directory (GPT-2 vocab.json + merges.txt, and OPT's special tokens in
// tokenizer_config.json / special_tokens_map.json) that epalm::Tokenizer and
// Hugging Face's GPT2TokenizerFast load alike.
//
// Training: texts are split by GPT-2's pre-tokenizer pattern (ASCII text
// only), each piece mapped to GPT-2's byte alphabet; then, until the target
// size, the most frequent adjacent pair of symbols inside a piece is merged
// (ties: the smaller pair in byte order), skipping pairs seen fewer than
// min_frequency times. Deterministic: the same texts give the same files.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace epalm::experiments {

struct BpeTrainerOptions {
  std::size_t vocab_size = 1024;  // ids in vocab.json, OPT's 4 specials and the 256 bytes included
  std::size_t min_frequency = 2;
  std::string source;  // names the texts in errors ("corpus.txt:12"); empty: "text 11" (0-based)
};

struct BpeVocabulary {
  std::vector<std::string> tokens;  // by id: "<s>", "<pad>", "</s>", "<unk>", the 256 byte symbols, merges
  std::vector<std::pair<std::string, std::string>> merges;  // by rank
};

// Throws epalm::Error naming the text (options.source) when it holds a non-ASCII
// byte, UsageError("vocab-size", ...) when the size is below 260.
BpeVocabulary train_bpe(const std::vector<std::string>& texts, const BpeTrainerOptions& options = {});

// GPT-2's pre-tokenization of ASCII text ('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+|
// ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+), as byte strings.
std::vector<std::string> pretokenize_ascii(const std::string& text);

// Writes vocab.json, merges.txt, tokenizer_config.json and
// special_tokens_map.json (OPT's: bos = eos = unk = "</s>", pad = "<pad>",
// BOS prepended) into `directory`, creating it.
void write_opt_tokenizer(const BpeVocabulary& vocabulary, const std::string& directory);

}  // namespace epalm::experiments
