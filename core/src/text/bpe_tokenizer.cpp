// Encoding and decoding as GPT2TokenizerFast does: added tokens are matched first,
// the rest is pre-tokenized, mapped to the byte alphabet and merged by BPE.
#include <algorithm>

#include "text/byte_unicode.h"
#include "epalm/core/error.h"
#include "epalm/core/text/tokenizer.h"
#include "text/pretokenizer.h"
#include "text/tokenizer_impl.h"

namespace epalm::text {

namespace detail {

std::vector<std::string> special_token_names(const TokenizerConfig& config) {
  std::vector<std::string> names;
  for (const auto* name : {&config.bos_token, &config.eos_token, &config.unk_token, &config.pad_token}) {
    if (*name) names.push_back(**name);
  }
  names.insert(names.end(), config.additional_special_tokens.begin(), config.additional_special_tokens.end());
  return names;
}

std::shared_ptr<const Tokenizer::Impl> build_tokenizer(BpeModel model, TokenizerConfig config,
                                                       const std::vector<DeclaredToken>& declared,
                                                       const std::string& vocab_path) {
  auto impl = std::make_shared<Tokenizer::Impl>(std::move(model), std::move(config));
  std::unordered_map<std::string, TokenId> added_ids;
  auto add = [&](const AddedToken& token, const std::string& source) {
    if (token.content.empty()) throw Error(source, "added token " + std::to_string(token.id) + " is empty");
    const std::string* in_vocab = impl->model.token_of(token.id);
    if (in_vocab && *in_vocab != token.content) {
      throw Error(source, "added token \"" + token.content + "\" has id " + std::to_string(token.id) + ", which " +
                              vocab_path + " gives to \"" + *in_vocab + "\"");
    }
    if (auto it = added_ids.find(token.content); it != added_ids.end()) {
      if (it->second == token.id) return;  // declared twice alike (legacy files overlap)
      throw Error(source, "added token \"" + token.content + "\" has two ids, " + std::to_string(it->second) +
                              " and " + std::to_string(token.id));
    }
    if (const AddedToken* other = impl->added_token(token.id)) {
      throw Error(source, "tokens \"" + other->content + "\" and \"" + token.content + "\" share id " +
                              std::to_string(token.id));
    }
    impl->added_at[token.id] = impl->added.size();
    impl->added.push_back(token);
    added_ids[token.content] = token.id;
  };
  for (const auto& d : declared) {
    if (d.single_word) {
      throw Error(d.source, "added token \"" + d.token.content + "\": single_word tokens are not supported");
    }
    add(d.token, d.source);
  }

  // Special tokens named by the config and not yet added keep their vocab.json id,
  // or take the next one (len(tokenizer)), in HF's order.
  auto distinct_tokens = [&] {
    std::size_t n = impl->model.vocab().size();
    for (const auto& token : impl->added) n += impl->model.id_of(token.content) ? 0 : 1;
    return n;
  };
  const TokenizerConfig& c = impl->config;
  for (const auto& name : special_token_names(c)) {
    if (added_ids.count(name)) {
      impl->added[impl->added_at[added_ids[name]]].special = true;
      continue;
    }
    AddedToken token;
    token.content = name;
    token.special = true;
    token.id = impl->model.id_of(name).value_or(static_cast<TokenId>(distinct_tokens()));
    add(token, "tokenizer config");
  }
  std::sort(impl->added.begin(), impl->added.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  impl->added_at.clear();
  for (std::size_t i = 0; i < impl->added.size(); ++i) {
    impl->added_at[impl->added[i].id] = i;
    impl->match_order.push_back(i);
  }
  std::stable_sort(impl->match_order.begin(), impl->match_order.end(), [&](std::size_t a, std::size_t b) {
    return impl->added[a].content.size() > impl->added[b].content.size();
  });
  auto id_of = [&](const std::optional<std::string>& name) -> std::optional<TokenId> {
    if (!name) return std::nullopt;
    if (auto it = added_ids.find(*name); it != added_ids.end()) return it->second;
    return impl->model.id_of(*name);
  };
  impl->bos = id_of(c.bos_token);
  impl->eos = id_of(c.eos_token);
  impl->pad = id_of(c.pad_token);
  impl->unk = id_of(c.unk_token);
  impl->size = distinct_tokens();
  return impl;
}

}  // namespace detail

namespace {

using detail::code_point_at;
using detail::code_point_before;
using detail::is_white_space;

// A stretch of text, or an added token matched in it.
struct Segment {
  std::string_view text;
  const AddedToken* token = nullptr;
};

const AddedToken* added_token_at(const Tokenizer::Impl& impl, std::string_view text, std::size_t at) {
  for (std::size_t i : impl.match_order) {
    const AddedToken& token = impl.added[i];
    if (text.compare(at, token.content.size(), token.content) == 0) return &token;
  }
  return nullptr;
}

// Leftmost-longest matches of the added tokens (HF's trie / Aho-Corasick). Valid
// UTF-8 cannot match in the middle of a character, so the scan goes byte by byte.
std::vector<Segment> split_on_added_tokens(const Tokenizer::Impl& impl, std::string_view text) {
  std::vector<Segment> segments;
  std::size_t plain = 0;  // start of the text not yet emitted
  for (std::size_t at = 0; at < text.size();) {
    const AddedToken* token = impl.match_order.empty() ? nullptr : added_token_at(impl, text, at);
    if (!token) {
      ++at;
      continue;
    }
    std::size_t start = at, end = at + token->content.size(), step = 0;
    while (token->lstrip && start > plain && is_white_space(code_point_before(text, start, step))) start = step;
    while (token->rstrip && end < text.size() && is_white_space(code_point_at(text, end, step))) end += step;
    if (start > plain) segments.push_back({text.substr(plain, start - plain)});
    segments.push_back({text.substr(start, end - start), token});
    plain = at = end;
  }
  if (plain < text.size()) segments.push_back({text.substr(plain)});
  return segments;
}

void encode_text(const Tokenizer::Impl& impl, std::string_view text, std::vector<TokenId>& ids) {
  std::string prefixed;
  // The fast tokenizer's ByteLevel(add_prefix_space): each stretch between added
  // tokens gets one space unless it starts with one (the slow one prefixes the
  // whole text, always).
  if (impl.config.add_prefix_space && !text.empty() && text.front() != ' ') {
    prefixed = " " + std::string(text);
    text = prefixed;
  }
  std::string symbols;
  detail::pretokenize(text, [&](std::string_view piece) {
    symbols.clear();
    detail::append_byte_symbols(piece, symbols);
    impl.model.encode_word(symbols, impl.unk, ids);
  });
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  std::string out;
  std::size_t start = 0;
  for (std::size_t at; (at = text.find(from, start)) != std::string::npos; start = at + from.size()) {
    out.append(text, start, at - start).append(to);
  }
  if (start == 0) return;
  out.append(text, start, std::string::npos);
  text.swap(out);
}

}  // namespace

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  if (auto bad = detail::find_invalid_utf8(text); bad != std::string_view::npos) {
    throw Error("tokenizer input", "not valid UTF-8 at byte " + std::to_string(bad));
  }
  std::vector<TokenId> ids;
  if (add_special_tokens && impl_->config.add_bos_token && impl_->bos) ids.push_back(*impl_->bos);
  for (const Segment& segment : split_on_added_tokens(*impl_, text)) {
    if (segment.token) {
      ids.push_back(segment.token->id);
    } else {
      encode_text(*impl_, segment.text, ids);
    }
  }
  return ids;
}

std::vector<std::string> Tokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> tokens;
  for (TokenId id : encode(text, /*add_special_tokens=*/false)) tokens.push_back(*id_to_token(id));
  return tokens;
}

std::string Tokenizer::decode(const std::vector<TokenId>& ids, const DecodeOptions& options) const {
  std::string bytes;
  for (TokenId id : ids) {
    const AddedToken* added = impl_->added_token(id);
    if (added && added->special && options.skip_special_tokens) continue;
    const std::string* token = added ? &added->content : impl_->model.token_of(id);
    if (token) detail::append_symbol_bytes(*token, bytes);
  }
  std::string text = detail::decode_utf8_lossy(bytes);
  const bool clean = options.clean_up_tokenization_spaces.value_or(impl_->config.clean_up_tokenization_spaces);
  return clean ? clean_up_tokenization(std::move(text)) : text;
}

std::string Tokenizer::clean_up_tokenization(std::string text) {
  // PreTrainedTokenizerBase.clean_up_tokenization, in its order.
  static const std::pair<std::string_view, std::string_view> kReplacements[] = {
      {" .", "."},    {" ?", "?"},    {" !", "!"},    {" ,", ","},      {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kReplacements) replace_all(text, from, to);
  return text;
}

EncodedBatch Tokenizer::encode_batch(const std::vector<std::string>& texts, const BatchOptions& options) const {
  const bool bos = options.add_special_tokens && impl_->config.add_bos_token && impl_->bos;
  if (options.max_length != 0 && options.max_length <= (bos ? 1u : 0u)) {
    throw Error("tokenizer batch", "max_length " + std::to_string(options.max_length) + " leaves no room for text");
  }
  if (options.pad_to_max_length && options.max_length == 0) {
    throw Error("tokenizer batch", "padding to max_length needs a max_length");
  }
  EncodedBatch batch;
  std::size_t longest = options.pad_to_max_length ? options.max_length : 0;
  for (const std::string& text : texts) {
    std::vector<TokenId> ids = encode(text, /*add_special_tokens=*/false);
    const std::size_t room = options.max_length - (bos ? 1 : 0);
    if (options.max_length != 0 && ids.size() > room) {
      if (options.truncation_side == Side::kRight) {
        ids.resize(room);
      } else {
        ids.erase(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(room));
      }
    }
    if (bos) ids.insert(ids.begin(), *impl_->bos);
    longest = std::max(longest, ids.size());
    batch.input_ids.push_back(std::move(ids));
  }
  for (auto& ids : batch.input_ids) {
    const std::size_t pads = longest - ids.size();
    std::vector<TokenId> mask(ids.size(), 1);
    if (pads != 0) {
      if (!impl_->pad) throw Error("tokenizer batch", "padding needs a pad token and this tokenizer has none");
      const auto at_ids = options.padding_side == Side::kLeft ? ids.begin() : ids.end();
      const auto at_mask = options.padding_side == Side::kLeft ? mask.begin() : mask.end();
      ids.insert(at_ids, pads, *impl_->pad);
      mask.insert(at_mask, pads, 0);
    }
    batch.attention_mask.push_back(std::move(mask));
  }
  return batch;
}

std::optional<TokenId> Tokenizer::token_to_id(std::string_view token) const {
  for (const auto& added : impl_->added) {
    if (added.content == token) return added.id;
  }
  return impl_->model.id_of(token);
}

std::optional<std::string> Tokenizer::id_to_token(TokenId id) const {
  if (const AddedToken* added = impl_->added_token(id)) return added->content;
  if (const std::string* token = impl_->model.token_of(id)) return *token;
  return std::nullopt;
}

std::size_t Tokenizer::vocab_size() const { return impl_->model.vocab().size(); }
std::size_t Tokenizer::size() const { return impl_->size; }
std::optional<TokenId> Tokenizer::bos_id() const { return impl_->bos; }
std::optional<TokenId> Tokenizer::eos_id() const { return impl_->eos; }
std::optional<TokenId> Tokenizer::pad_id() const { return impl_->pad; }
std::optional<TokenId> Tokenizer::unk_id() const { return impl_->unk; }
const std::vector<AddedToken>& Tokenizer::added_tokens() const { return impl_->added; }
const TokenizerConfig& Tokenizer::config() const { return impl_->config; }

}  // namespace epalm::text
