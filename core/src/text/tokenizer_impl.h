// What a loaded Tokenizer holds; shared by the loader and the encoder/decoder.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "text/bpe_model.h"
#include "epalm/core/text/tokenizer.h"

namespace epalm::text {

struct Tokenizer::Impl {
  Impl(detail::BpeModel bpe_model, TokenizerConfig tokenizer_config)
      : model(std::move(bpe_model)), config(std::move(tokenizer_config)) {}

  detail::BpeModel model;
  TokenizerConfig config;
  std::vector<AddedToken> added;                     // by id
  std::unordered_map<TokenId, std::size_t> added_at;  // id -> index in `added`
  std::vector<std::size_t> match_order;              // longest content first (leftmost-longest matching)
  std::optional<TokenId> bos, eos, pad, unk;
  std::size_t size = 0;

  const AddedToken* added_token(TokenId id) const {
    auto it = added_at.find(id);
    return it == added_at.end() ? nullptr : &added[it->second];
  }
};

namespace detail {

// An added token as a file declares it, with the file for error messages.
struct DeclaredToken {
  AddedToken token;
  bool single_word = false;
  std::string source;
};

// The special tokens a config names, in HF's order: bos, eos, unk, pad, additional.
std::vector<std::string> special_token_names(const TokenizerConfig& config);

// Registers the declared added tokens, then the config's special tokens that are
// not among them (their vocab.json id, or the next free one, as HF does).
std::shared_ptr<const Tokenizer::Impl> build_tokenizer(BpeModel model, TokenizerConfig config,
                                                       const std::vector<DeclaredToken>& declared,
                                                       const std::string& vocab_path);

}  // namespace detail
}  // namespace epalm::text
