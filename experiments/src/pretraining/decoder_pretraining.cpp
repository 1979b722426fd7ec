// pretrain_decoder: an OPT decoder trained on text lines alone (causal
// language modelling), through OptModel's own forward, saved as
// OPTForCausalLM with its tokenizer beside it.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "epalm/core/error.h"
#include "epalm/core/text/tokenizer.h"
#include "epalm/experiments/pretraining.h"
#include "pretraining/batch_order.h"
#include "pretraining/checkpoint_directory.h"
#include "pretraining/initial_weights.h"
#include "pretraining/report_json.h"
#include "pretraining/token_corpus.h"
#include "pretraining/training_loop.h"

namespace epalm::experiments {

namespace {

using pretraining::TokenBatch;
using pretraining::TokenCorpus;

const char* const kWhere = "decoder pretraining";

// The tokenizer files a checkpoint directory carries (those present are copied).
const char* const kTokenizerFiles[] = {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json",
                                       "added_tokens.json", "tokenizer.json"};

text::TokenId required_id(const std::optional<text::TokenId>& id, const char* what, const std::string& directory) {
  if (!id) throw Error(directory, std::string("the tokenizer defines no ") + what + " token (write_opt_tokenizer_config)");
  return *id;
}

// The architecture with the tokenizer's vocabulary and special ids.
models::OptConfig decoder_config(models::OptConfig c, const text::Tokenizer& tokenizer, const std::string& directory) {
  const auto size = static_cast<std::int64_t>(tokenizer.size());  // added tokens included
  if (c.vocab_size == 0) {
    const auto vocabulary = static_cast<std::int64_t>(tokenizer.vocab_size());
    // A spare row for eP-ALM's "</a>" (whether or not these lines use it), OPT's multiple of 8.
    c.vocab_size = (std::max(vocabulary + 1, size) + 7) / 8 * 8;
  } else if (c.vocab_size < size) {
    throw UsageError(kWhere, "vocab_size " + std::to_string(c.vocab_size) + " is smaller than the tokenizer's " +
                                 std::to_string(size) + " tokens (" + directory + ")");
  }
  c.bos_token_id = required_id(tokenizer.bos_id(), "BOS", directory);
  c.eos_token_id = required_id(tokenizer.eos_id(), "EOS", directory);
  c.pad_token_id = required_id(tokenizer.pad_id(), "padding", directory);
  c.validate(kWhere);
  return c;
}

// The cross-entropy of each of a batch's next-token predictions, [B * (T - 1)]
// (0 where the label is padding), and the count of real ones.
std::pair<at::Tensor, std::int64_t> next_token_losses(const models::OptModel& model, const TokenBatch& b) {
  models::OptForwardOptions options;
  options.attention_mask = b.attention_mask;
  const auto logits = model.forward(b.input_ids, options).logits;  // [B, T, V]
  const auto v = logits.size(-1);
  const auto predicted = logits.slice(1, 0, logits.size(1) - 1).reshape({-1, v});
  const auto losses = torch::nn::functional::cross_entropy(
      predicted, b.labels.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100).reduction(torch::kNone));
  return {losses, (b.labels != -100).sum().item<std::int64_t>()};
}

// Summed cross-entropy of a batch's next-token predictions and their count.
std::pair<at::Tensor, std::int64_t> next_token_loss(const models::OptModel& model, const TokenBatch& b) {
  const auto [losses, count] = next_token_losses(model, b);
  return {losses.sum(), count};
}

// The training loss: the mean of the next-token cross-entropies, each token
// after `answer` in its line weighted `weight` times (answer < 0: none).
at::Tensor weighted_next_token_loss(const models::OptModel& model, const TokenBatch& b, std::int64_t answer,
                                    double weight) {
  const auto [losses, count] = next_token_losses(model, b);
  if (answer < 0 || weight == 1) return losses.sum() / static_cast<double>(count);
  // Position t predicts token t + 1, which follows the answer token when
  // that token is at t or before.
  const auto ids = b.input_ids.slice(1, 0, b.input_ids.size(1) - 1);
  const auto after = (ids == answer).cumsum(1).gt(0).reshape({-1});
  const auto counted = (b.labels.reshape({-1}) != -100).to(torch::kFloat);
  const auto weights = counted * (1 + (weight - 1) * after.to(torch::kFloat));
  return (losses * weights).sum() / weights.sum();
}

double perplexity(const models::OptModel& model, const TokenCorpus& corpus, std::int64_t batch_size) {
  torch::NoGradGuard no_grad;
  // Lines of like length together, so little padding is computed.
  std::vector<std::size_t> order(corpus.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return corpus.sequences()[a].size() < corpus.sequences()[b].size();
  });
  double nll = 0;
  std::int64_t tokens = 0;
  for (std::size_t start = 0; start < order.size(); start += static_cast<std::size_t>(batch_size)) {
    const auto end = std::min(order.size(), start + static_cast<std::size_t>(batch_size));
    const auto [loss, count] = next_token_loss(model, corpus.batch({order.begin() + start, order.begin() + end}));
    nll += loss.item<double>();
    tokens += count;
  }
  return std::exp(nll / static_cast<double>(tokens));
}

}  // namespace

DecoderPretrainingReport pretrain_decoder(const DecoderPretraining& s) {
  s.schedule.validate(kWhere);
  if (s.train_lines.empty()) throw UsageError(kWhere, "no training lines");
  if (s.heldout_lines.empty()) throw UsageError(kWhere, "no held-out lines (the perplexity needs some)");
  const auto start = std::chrono::steady_clock::now();
  text::TokenizerOverrides added;
  added.additional_special_tokens = s.added_special_tokens;
  const auto tokenizer = text::Tokenizer::from_directory(s.tokenizer_directory, added);
  const auto config = decoder_config(s.config, tokenizer, s.tokenizer_directory);

  pretraining::ProgressMeter preparing("decoder", "preparing", 2, s.progress);
  const TokenCorpus train(s.train_lines, tokenizer, config.eos_token_id, config.pad_token_id, config.max_positions);
  preparing.report(1);
  const TokenCorpus heldout(s.heldout_lines, tokenizer, config.eos_token_id, config.pad_token_id, config.max_positions);
  preparing.report(2);
  if (train.size() == 0 || heldout.size() == 0) {
    throw UsageError(kWhere, "every training or every held-out line is empty");
  }

  auto weights = pretraining::initial_weights(models::opt_tensor_shapes(config), s.schedule.seed);
  {
    torch::NoGradGuard no_grad;  // nn.Embedding(padding_idx): the padding row starts at zero
    weights.at("decoder.embed_tokens.weight")[config.pad_token_id].zero_();
  }
  const models::OptModel model(config, weights);

  if (!(s.answer_weight > 0)) throw UsageError(kWhere, "answer weight must be > 0");
  std::int64_t answer = -1;
  if (!s.answer_token.empty()) {
    const auto id = tokenizer.token_to_id(s.answer_token);
    if (!id) throw UsageError(kWhere, "the answer token '" + s.answer_token + "' is not one of the tokenizer's");
    answer = static_cast<std::int64_t>(*id);
  }
  pretraining::BatchOrder order(train.size(), s.schedule.seed);
  const double final_loss = pretraining::train(
      "decoder", s.schedule, weights,
      [&](std::int64_t) {
        return weighted_next_token_loss(model, train.batch(order.next(s.schedule.batch_size)), answer,
                                        s.answer_weight);
      },
      s.progress);

  DecoderPretrainingReport r;
  r.output_directory = s.output_directory;
  r.parameters = models::opt_parameter_count(config);
  r.train_lines = static_cast<std::int64_t>(train.size());
  r.train_tokens = train.predicted_tokens();
  r.heldout_lines = static_cast<std::int64_t>(heldout.size());
  r.heldout_tokens = heldout.predicted_tokens();
  r.heldout_perplexity = perplexity(model, heldout, std::max<std::int64_t>(s.schedule.batch_size, 64));
  r.unigram_perplexity =
      heldout.unigram_perplexity(train.unigram_log_probabilities(static_cast<std::int64_t>(tokenizer.size())));
  r.final_train_loss = final_loss;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  pretraining::CheckpointDirectory out(s.output_directory);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, t] : weights) tensors.emplace_back("model." + name, t);  // OPTForCausalLM, lm_head tied
  out.write_weights(tensors);
  out.write_text("config.json", config.to_json());
  for (const char* name : kTokenizerFiles) {
    const auto path = std::filesystem::path(s.tokenizer_directory) / name;
    if (std::filesystem::exists(path)) out.copy_in(path.string());
  }
  const nlohmann::json report = {
      {"model", "decoder"},
      {"architecture", "opt"},
      {"trained_on", "text lines only"},
      {"parameters", r.parameters},
      {"train_lines", r.train_lines},
      {"train_tokens", r.train_tokens},
      {"heldout_lines", r.heldout_lines},
      {"heldout_tokens", r.heldout_tokens},
      {"heldout_perplexity", r.heldout_perplexity},
      {"unigram_perplexity", r.unigram_perplexity},
      {"final_train_loss", r.final_train_loss},
      {"schedule", pretraining::schedule_json(s.schedule)},
      {"seconds", r.seconds}};
  out.write_text("pretraining.json", report.dump(2) + "\n");
  out.commit();
  return r;
}

}  // namespace epalm::experiments
