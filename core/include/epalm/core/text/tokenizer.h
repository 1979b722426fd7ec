// The OPT tokenizer: GPT-2 byte-level BPE, matching Hugging Face's GPT2TokenizerFast
// (and GPT2Tokenizer, where the two agree) loaded from a facebook/opt-* directory.
//
//   auto tok = epalm::Tokenizer::from_directory("opt-125m");
//   tok.encode("I like you.")        -> {2, 100, 101, 47, 4}   (BOS "</s>" first, no EOS)
//   tok.decode(ids)                   -> "</s>I like you."
//
// Thread-safe: a Tokenizer is immutable apart from its word cache, which is locked;
// copies share one loaded vocabulary.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace epalm::text {

using TokenId = std::int64_t;

// A token matched in the text before BPE (HF's AddedToken).
struct AddedToken {
  std::string content;
  TokenId id = 0;
  bool special = false;  // dropped by decode(skip_special_tokens)
  bool lstrip = false;   // also swallows the whitespace before it
  bool rstrip = false;   // also swallows the whitespace after it
};

// Settings that tokenizer_config.json / special_tokens_map.json hold. from_files()
// starts from OPT's (TokenizerConfig::opt()); from_directory() starts from
// GPT2Tokenizer's constructor defaults, as HF does, and reads the files over them.
struct TokenizerConfig {
  std::optional<std::string> bos_token = "<|endoftext|>";
  std::optional<std::string> eos_token = "<|endoftext|>";
  std::optional<std::string> unk_token = "<|endoftext|>";
  std::optional<std::string> pad_token;
  std::vector<std::string> additional_special_tokens;
  bool add_bos_token = false;
  bool add_prefix_space = false;
  // transformers 4.57 defaults to false when tokenizer_config.json does not say.
  bool clean_up_tokenization_spaces = false;

  // facebook/opt-*: bos = eos = unk = "</s>", pad = "<pad>", BOS prepended.
  static TokenizerConfig opt();
};

// Caller overrides applied after the files are read (HF's from_pretrained kwargs).
struct TokenizerOverrides {
  std::optional<bool> add_bos_token;
  std::optional<bool> add_prefix_space;
  std::optional<bool> clean_up_tokenization_spaces;
  // Special tokens to add after the files' own, each taking the next free id
  // unless the vocabulary has it: HF's
  // tokenizer.add_special_tokens({"additional_special_tokens": [...]}) on a
  // tokenizer without additional special tokens (eP-ALM's "</a>" -> 50265 for OPT).
  std::vector<std::string> additional_special_tokens;
};

struct DecodeOptions {
  bool skip_special_tokens = false;
  std::optional<bool> clean_up_tokenization_spaces;  // unset: the tokenizer's setting
};

enum class Side { kLeft, kRight };

struct BatchOptions {
  bool add_special_tokens = true;
  Side padding_side = Side::kRight;  // kLeft for batched generation
  // 0: no truncation. Otherwise every row is cut to at most max_length ids,
  // special tokens included, from truncation_side.
  std::size_t max_length = 0;
  Side truncation_side = Side::kRight;
  bool pad_to_max_length = false;  // HF padding="max_length"; otherwise pad to the longest row
};

// Rectangular rows: pads carry the pad id and attention mask 0.
struct EncodedBatch {
  std::vector<std::vector<TokenId>> input_ids;
  std::vector<std::vector<TokenId>> attention_mask;
};

class Tokenizer {
 public:
  // A Hugging Face tokenizer directory: vocab.json and merges.txt, and when present
  // tokenizer_config.json, special_tokens_map.json, added_tokens.json, tokenizer.json
  // (for its added tokens). Throws epalm::Error naming the file at fault.
  static Tokenizer from_directory(const std::string& directory, const TokenizerOverrides& overrides = {});
  // The two vocabulary files alone (GPT-2's encoder.json / vocab.bpe work too).
  static Tokenizer from_files(const std::string& vocab_json, const std::string& merges_txt,
                              const TokenizerConfig& config = TokenizerConfig::opt());

  // Token ids of UTF-8 text; with add_special_tokens, BOS first when the config says
  // add_bos_token. Throws epalm::Error on invalid UTF-8.
  std::vector<TokenId> encode(std::string_view text, bool add_special_tokens = true) const;
  // The token strings encode() maps to ids (byte-level alphabet, "Ġ" for a space).
  std::vector<std::string> tokenize(std::string_view text) const;
  // Text of the ids; bytes that are not valid UTF-8 become U+FFFD (Python's
  // errors="replace"). Ids the tokenizer does not know (OPT's logits have 7 more
  // columns than its vocabulary) are dropped, as the fast tokenizer does.
  std::string decode(const std::vector<TokenId>& ids, const DecodeOptions& options = {}) const;
  EncodedBatch encode_batch(const std::vector<std::string>& texts, const BatchOptions& options = {}) const;

  std::optional<TokenId> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(TokenId id) const;

  std::size_t vocab_size() const;  // vocab.json entries (HF tokenizer.vocab_size)
  std::size_t size() const;        // with added tokens (HF len(tokenizer))
  std::optional<TokenId> bos_id() const;
  std::optional<TokenId> eos_id() const;
  std::optional<TokenId> pad_id() const;
  std::optional<TokenId> unk_id() const;
  const std::vector<AddedToken>& added_tokens() const;  // by id
  const TokenizerConfig& config() const;

  // Decode's clean-up of English tokenization spaces (" ." -> ".", " n't" -> "n't", ...).
  static std::string clean_up_tokenization(std::string text);

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace epalm::text
