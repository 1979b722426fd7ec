#include "pretraining/token_corpus.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace epalm::experiments::pretraining {

TokenCorpus::TokenCorpus(const std::vector<std::string>& lines, const text::Tokenizer& tokenizer, text::TokenId eos, text::TokenId pad,
                         std::int64_t max_length)
    : pad_(pad) {
  for (const auto& line : lines) {
    auto ids = tokenizer.encode(line);
    ids.push_back(eos);
    if (static_cast<std::int64_t>(ids.size()) > max_length) ids.resize(static_cast<std::size_t>(max_length));
    if (ids.size() >= 2) sequences_.push_back(std::move(ids));
  }
}

std::int64_t TokenCorpus::predicted_tokens() const {
  std::int64_t n = 0;
  for (const auto& s : sequences_) n += static_cast<std::int64_t>(s.size()) - 1;
  return n;
}

TokenBatch TokenCorpus::batch(const std::vector<std::size_t>& indices) const {
  std::size_t longest = 0;
  for (auto i : indices) longest = std::max(longest, sequences_.at(i).size());
  const auto b = static_cast<std::int64_t>(indices.size());
  const auto t = static_cast<std::int64_t>(longest);
  auto ids = torch::full({b, t}, pad_, torch::kLong);
  auto mask = torch::zeros({b, t}, torch::kLong);
  auto id = ids.accessor<std::int64_t, 2>();
  auto m = mask.accessor<std::int64_t, 2>();
  for (std::int64_t r = 0; r < b; ++r) {
    const auto& s = sequences_[indices[static_cast<std::size_t>(r)]];
    for (std::size_t c = 0; c < s.size(); ++c) {
      id[r][static_cast<std::int64_t>(c)] = s[c];
      m[r][static_cast<std::int64_t>(c)] = 1;
    }
  }
  auto labels = ids.slice(1, 1).clone().masked_fill_(mask.slice(1, 1) == 0, -100);
  return {ids, mask, labels};
}

std::vector<double> TokenCorpus::unigram_log_probabilities(std::int64_t vocab) const {
  std::vector<double> counts(static_cast<std::size_t>(vocab), 1.0);  // add-one
  double total = static_cast<double>(vocab);
  for (const auto& s : sequences_) {
    for (std::size_t i = 1; i < s.size(); ++i) {
      if (s[i] >= 0 && s[i] < vocab) {
        counts[static_cast<std::size_t>(s[i])] += 1;
        total += 1;
      }
    }
  }
  for (auto& c : counts) c = std::log(c / total);
  return counts;
}

double TokenCorpus::unigram_perplexity(const std::vector<double>& log_probabilities) const {
  double nll = 0;
  std::int64_t n = 0;
  for (const auto& s : sequences_) {
    for (std::size_t i = 1; i < s.size(); ++i) {
      nll -= log_probabilities.at(static_cast<std::size_t>(s[i]));
      ++n;
    }
  }
  return n > 0 ? std::exp(nll / static_cast<double>(n)) : 0;
}

}  // namespace epalm::experiments::pretraining
