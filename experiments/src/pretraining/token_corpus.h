// Internal: text lines as the decoder learns them: each line's token ids
// (BOS first when the tokenizer prepends it, EOS appended, cut to the
// model's positions), padded batches, and the unigram baseline.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "epalm/core/text/tokenizer.h"

namespace epalm::experiments::pretraining {

struct TokenBatch {
  at::Tensor input_ids;       // [B, T], padding after each line
  at::Tensor attention_mask;  // [B, T], 1 = token
  at::Tensor labels;          // [B, T - 1]: the next token, -100 at padding
};

class TokenCorpus {
 public:
  // Lines that give no token to predict (nothing but BOS or EOS) are left out.
  TokenCorpus(const std::vector<std::string>& lines, const text::Tokenizer& tokenizer, text::TokenId eos, text::TokenId pad,
              std::int64_t max_length);

  std::size_t size() const { return sequences_.size(); }
  std::int64_t predicted_tokens() const;  // every token after the first, over all lines
  const std::vector<std::vector<text::TokenId>>& sequences() const { return sequences_; }
  // The lines at `indices`, padded to the longest.
  TokenBatch batch(const std::vector<std::size_t>& indices) const;
  // Natural-log probabilities of each token id < vocab under this corpus's
  // predicted tokens' frequencies, add-one smoothed.
  std::vector<double> unigram_log_probabilities(std::int64_t vocab) const;
  // exp(mean -log p) of this corpus's predicted tokens under `log_probabilities`.
  double unigram_perplexity(const std::vector<double>& log_probabilities) const;

 private:
  std::vector<std::vector<text::TokenId>> sequences_;
  text::TokenId pad_;
};

}  // namespace epalm::experiments::pretraining
