#include "text/bpe_model.h"

#include <algorithm>
#include <limits>

#include "text/byte_unicode.h"
#include "epalm/core/error.h"

namespace epalm::text::detail {

namespace {

constexpr std::size_t kCacheLimit = 1 << 17;  // words; cleared when full
constexpr TokenId kUnknownSymbol = -1;       // never part of a merge

}  // namespace

BpeModel::BpeModel(Vocab vocab, const std::vector<Merge>& merges, const std::string& vocab_path,
                   const std::string& merges_path)
    : ids_(std::move(vocab)) {
  for (const auto& [token, id] : ids_) {
    if (id < 0 || id > std::numeric_limits<std::int32_t>::max()) {
      throw Error(vocab_path, "token \"" + token + "\" has id " + std::to_string(id) + ", outside 0.." +
                                  std::to_string(std::numeric_limits<std::int32_t>::max()));
    }
    auto [it, inserted] = tokens_.emplace(id, token);
    if (!inserted) {
      throw Error(vocab_path, "tokens \"" + it->second + "\" and \"" + token + "\" share id " + std::to_string(id));
    }
  }
  auto require = [&](const std::string& symbol, const Merge& m) {
    auto it = ids_.find(symbol);
    if (it == ids_.end()) {
      throw Error(merges_path + ":" + std::to_string(m.line),
                  "merge \"" + m.left + " " + m.right + "\" needs \"" + symbol + "\", which is not in " + vocab_path);
    }
    return it->second;
  };
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const Merge& m = merges[rank];
    const TokenId left = require(m.left, m), right = require(m.right, m);
    pairs_[key(left, right)] = Pair{static_cast<std::uint32_t>(rank), require(m.left + m.right, m)};
  }
}

std::optional<TokenId> BpeModel::id_of(std::string_view token) const {
  auto it = ids_.find(std::string(token));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::token_of(TokenId id) const {
  auto it = tokens_.find(id);
  return it == tokens_.end() ? nullptr : &it->second;
}

// GPT2Tokenizer.bpe: start from single characters; repeatedly take the adjacent
// pair of lowest rank and merge all its non-overlapping occurrences, left to right.
std::vector<TokenId> BpeModel::merge(std::string_view symbols, std::optional<TokenId> unk) const {
  std::vector<TokenId> word;
  for (std::size_t i = 0; i < symbols.size();) {
    const std::size_t length = std::max<std::size_t>(1, utf8_sequence_length(symbols, i));
    auto it = ids_.find(std::string(symbols.substr(i, length)));
    word.push_back(it == ids_.end() ? kUnknownSymbol : it->second);
    i += length;
  }
  std::vector<TokenId> next;
  while (word.size() > 1) {
    const Pair* best = nullptr;
    std::size_t best_at = 0;
    for (std::size_t i = 0; i + 1 < word.size(); ++i) {
      auto it = pairs_.find(key(word[i], word[i + 1]));
      if (it != pairs_.end() && (!best || it->second.rank < best->rank)) {
        best = &it->second;
        best_at = i;
      }
    }
    if (!best) break;
    const TokenId left = word[best_at], right = word[best_at + 1];
    next.clear();
    for (std::size_t i = 0; i < word.size(); ++i) {
      if (i + 1 < word.size() && word[i] == left && word[i + 1] == right) {
        next.push_back(best->merged);
        ++i;
      } else {
        next.push_back(word[i]);
      }
    }
    word.swap(next);
  }
  for (TokenId& id : word) {
    if (id != kUnknownSymbol) continue;
    if (!unk) throw Error("tokenizer", "the vocabulary lacks a byte symbol of \"" + std::string(symbols) +
                                           "\" and there is no unk token");
    id = *unk;
  }
  return word;
}

void BpeModel::encode_word(std::string_view symbols, std::optional<TokenId> unk, std::vector<TokenId>& out) const {
  std::string word(symbols);
  {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    auto it = cache_->ids.find(word);
    if (it != cache_->ids.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<TokenId> ids = merge(symbols, unk);
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(cache_->mutex);
  if (cache_->ids.size() >= kCacheLimit) cache_->ids.clear();
  cache_->ids.emplace(std::move(word), std::move(ids));
}

}  // namespace epalm::text::detail
