// The BPE model: vocabulary, merge ranks, and the merge loop of GPT2Tokenizer.bpe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "epalm/core/text/tokenizer.h"

namespace epalm::text::detail {

using Vocab = std::unordered_map<std::string, TokenId>;

// One merge line of merges.txt, with where it came from for error messages.
struct Merge {
  std::string left;
  std::string right;
  std::size_t line = 0;
};

class BpeModel {
 public:
  // Merge k has rank k; a pair listed twice keeps its later rank (HF builds a
  // dict). Throws epalm::Error naming `merges_path` when a merge names a symbol,
  // or makes one, that the vocabulary lacks (the fast tokenizer refuses those too).
  BpeModel(Vocab vocab, const std::vector<Merge>& merges, const std::string& vocab_path,
           const std::string& merges_path);

  // Appends the ids of one pre-token already in the byte alphabet. A character the
  // vocabulary lacks becomes `unk` (std::nullopt: an error).
  void encode_word(std::string_view symbols, std::optional<TokenId> unk, std::vector<TokenId>& out) const;

  std::optional<TokenId> id_of(std::string_view token) const;
  const std::string* token_of(TokenId id) const;
  const Vocab& vocab() const { return ids_; }

 private:
  struct Pair {
    std::uint32_t rank;
    TokenId merged;
  };
  static std::uint64_t key(TokenId left, TokenId right) {
    return (static_cast<std::uint64_t>(left) << 32) | static_cast<std::uint32_t>(right);
  }
  std::vector<TokenId> merge(std::string_view symbols, std::optional<TokenId> unk) const;

  Vocab ids_;
  std::unordered_map<TokenId, std::string> tokens_;
  std::unordered_map<std::uint64_t, Pair> pairs_;

  // Words repeat (" the", " of"), so their ids are cached, as HF does; held by
  // pointer so the model stays movable.
  struct WordCache {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<TokenId>> ids;
  };
  std::unique_ptr<WordCache> cache_ = std::make_unique<WordCache>();
};

}  // namespace epalm::text::detail
