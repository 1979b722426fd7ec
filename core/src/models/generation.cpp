#include "epalm/core/models/generation.h"

#include <torch/torch.h>

#include <cmath>

#include "epalm/core/error.h"
#include "epalm/core/models/opt.h"

namespace epalm::models {

namespace {

// HF's "very large negative" used to rule candidates out.
constexpr double kRuledOut = -1.0e9;

at::Tensor ends_with_eos(const at::Tensor& last_tokens, const std::vector<std::int64_t>& eos) {
  auto hit = torch::zeros_like(last_tokens, torch::kBool);
  for (auto id : eos) hit |= last_tokens == id;
  return hit;
}

at::Tensor greedy(StepDecoder& decoder, const at::Tensor& input_ids, const at::Tensor& mask_in,
                  const GenerationSettings& s) {
  auto sequences = input_ids;
  auto mask = mask_in;
  auto unfinished = torch::ones({input_ids.size(0)}, input_ids.options());
  // Rows the decoder still runs, in cache order: a finished row only gains
  // padding, so it leaves the work.
  auto active = torch::arange(input_ids.size(0), input_ids.options());
  auto logits = decoder.step(input_ids, mask);
  for (int i = 0; i < s.max_new_tokens; ++i) {
    auto next = torch::full({input_ids.size(0)}, s.pad_token_id, input_ids.options());
    next.index_copy_(0, active, logits.to(torch::kFloat32).argmax(-1).to(next.device()));
    sequences = torch::cat({sequences, next.unsqueeze(1)}, 1);
    mask = torch::cat({mask, torch::ones({mask.size(0), 1}, mask.options())}, 1);
    unfinished = unfinished * ends_with_eos(next, s.eos_token_ids).logical_not().to(unfinished.scalar_type());
    if (unfinished.max().item<std::int64_t>() == 0 || i + 1 == s.max_new_tokens) break;
    const auto still = unfinished.index_select(0, active).nonzero().view({-1});
    if (still.size(0) < active.size(0)) {
      active = active.index_select(0, still);
      decoder.reorder(still);
    }
    logits = decoder.step(next.index_select(0, active).unsqueeze(1), mask.index_select(0, active));
  }
  return sequences;
}

// Gathers along dim 1 (the beam dim) of a [B, beams, ...] tensor.
at::Tensor gather_beams(const at::Tensor& t, at::Tensor indices) {
  auto shape = t.sizes().vec();
  shape[1] = indices.size(1);
  while (indices.dim() < t.dim()) indices = indices.unsqueeze(-1);
  return torch::take_along_dim(t, indices.expand(shape), 1);
}

// HF's vectorised beam search (generation/utils.py `_beam_search`, v4.57).
at::Tensor beam_search(StepDecoder& decoder, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                       const GenerationSettings& s) {
  const std::int64_t batch = input_ids.size(0);
  const std::int64_t beams = s.num_beams;
  const std::int64_t prompt = input_ids.size(1);
  const std::int64_t max_length = prompt + s.max_new_tokens;
  const std::int64_t keep = std::max<std::int64_t>(2, 1 + static_cast<std::int64_t>(s.eos_token_ids.size())) * beams;
  auto long_opts = input_ids.options().dtype(torch::kLong);
  auto float_opts = input_ids.options().dtype(torch::kFloat32);

  auto running = torch::full({batch, beams, max_length}, s.pad_token_id, long_opts);
  running.slice(2, 0, prompt).copy_(input_ids.unsqueeze(1).expand({batch, beams, prompt}));
  auto finished_sequences = running.clone();
  auto running_scores = torch::zeros({batch, beams}, float_opts);
  running_scores.slice(1, 1).fill_(kRuledOut);  // only beam 0 expands on the first step
  auto finished_scores = torch::full({batch, beams}, kRuledOut, float_opts);
  auto is_finished = torch::zeros({batch, beams}, long_opts.dtype(torch::kBool));
  auto improvable = torch::ones({batch, 1}, long_opts.dtype(torch::kBool));
  // Generated length per hypothesis, to crop the output as HF does.
  auto running_lengths = torch::zeros({batch, beams}, long_opts);
  auto finished_lengths = torch::zeros({batch, beams}, long_opts);
  auto top_beams = torch::cat({torch::ones({beams}, long_opts.dtype(torch::kBool)),
                               torch::zeros({keep - beams}, long_opts.dtype(torch::kBool))});

  // Every beam of a sample starts from the same prompt: its rows are computed
  // once and the cache is then repeated for the beams (transformers computes
  // the same rows once per beam).
  auto mask = attention_mask.repeat_interleave(beams, 0);
  auto logits = decoder.step(input_ids, attention_mask);
  const auto each_beam = torch::arange(batch, long_opts).repeat_interleave(beams);
  decoder.reorder(each_beam);
  logits = logits.index_select(0, each_beam.to(logits.device()));
  // Samples the decoder still runs, in cache order: one that can no longer
  // improve (HF keeps computing its rows and then ignores them) leaves the work.
  auto active = torch::arange(batch, long_opts);
  for (std::int64_t length = prompt;; ++length) {
    const std::int64_t vocab = logits.size(-1);
    auto log_probs = torch::log_softmax(logits.to(torch::kFloat32), -1).view({batch, beams, vocab});
    log_probs = (log_probs + running_scores.unsqueeze(-1)).view({batch, beams * vocab});

    // Top `keep` continuations over all beams.
    auto [top_scores, top_index] = torch::topk(log_probs, keep);
    auto source_beam = top_index.div(vocab, "floor");
    auto tokens = top_index.remainder(vocab);
    auto candidates = gather_beams(running, source_beam).clone();
    candidates.select(2, length).copy_(tokens);
    auto candidate_lengths = gather_beams(running_lengths, source_beam) + 1;
    auto hits_stop = ends_with_eos(tokens, s.eos_token_ids) | (length + 1 >= max_length);

    // Running beams: the best `beams` candidates that did not stop.
    auto running_candidates = top_scores + hits_stop.to(torch::kFloat32) * kRuledOut;
    auto next = std::get<1>(torch::topk(running_candidates, beams));
    running = gather_beams(candidates, next);
    running_scores = gather_beams(running_candidates, next);
    running_lengths = gather_beams(candidate_lengths, next);
    auto parent = gather_beams(source_beam, next);

    // Finished hypotheses: stopping candidates among the top `beams`, scored
    // with the length penalty over generated tokens (EOS included).
    auto just_finished = hits_stop & top_beams.unsqueeze(0);
    auto scored = top_scores / std::pow(static_cast<double>(length + 1 - prompt), s.length_penalty);
    auto full = is_finished.all(1, true) & (s.early_stopping == EarlyStopping::kWhenFull);
    scored = scored + full.to(torch::kFloat32) * kRuledOut + improvable.logical_not().to(torch::kFloat32) * kRuledOut +
             just_finished.logical_not().to(torch::kFloat32) * kRuledOut;
    auto merged_scores = torch::cat({finished_scores, scored}, 1);
    auto best = std::get<1>(torch::topk(merged_scores, beams));
    finished_sequences = gather_beams(torch::cat({finished_sequences, candidates}, 1), best);
    finished_scores = gather_beams(merged_scores, best);
    finished_lengths = gather_beams(torch::cat({finished_lengths, candidate_lengths}, 1), best);
    is_finished = gather_beams(torch::cat({is_finished, just_finished}, 1), best);

    // Stop when nothing can improve, all are full (early stopping), or every
    // candidate hit a stop (max length).
    const std::int64_t current = length + 1;
    const double hypothetical = (s.early_stopping == EarlyStopping::kNever && s.length_penalty > 0.0)
                                    ? static_cast<double>(max_length - prompt)
                                    : static_cast<double>(current - prompt);
    auto best_running = running_scores.slice(1, 0, 1) / std::pow(hypothetical, s.length_penalty);
    auto worst_finished = torch::where(is_finished, std::get<0>(finished_scores.min(1, true)),
                                       torch::full_like(finished_scores, kRuledOut));
    improvable = improvable & (best_running > worst_finished).any(-1, true);
    const bool can_improve = improvable.any().item<bool>();
    const bool open = !(is_finished.all().item<bool>() && s.early_stopping == EarlyStopping::kWhenFull);
    const bool continues = !hits_stop.all().item<bool>();
    if (!(can_improve && open && continues)) break;

    auto flat_parent = (parent + torch::arange(batch, long_opts).unsqueeze(1) * beams).view({-1});
    mask = torch::cat({mask.index_select(0, flat_parent), torch::ones({batch * beams, 1}, mask.options())}, 1);
    // The cache holds `active`'s rows; keep those of the samples still improvable.
    const auto still = improvable.view({-1}).index_select(0, active).nonzero().view({-1});
    const auto next_active = active.index_select(0, still);
    decoder.reorder((still.unsqueeze(1) * beams + parent.index_select(0, next_active)).view({-1}));
    active = next_active;
    const auto rows = (active.unsqueeze(1) * beams + torch::arange(beams, long_opts).unsqueeze(0)).view({-1});
    const auto step_logits =
        decoder.step(running.select(2, length).reshape({batch * beams, 1}).index_select(0, rows), mask.index_select(0, rows));
    if (active.size(0) == batch) {
      logits = step_logits;
    } else {  // the rest's scores are ruled out: any logits do
      logits = torch::zeros({batch * beams, step_logits.size(-1)}, step_logits.options());
      logits.index_copy_(0, rows.to(logits.device()), step_logits);
    }
  }
  const std::int64_t generated = finished_lengths.select(1, 0).max().item<std::int64_t>();
  return finished_sequences.select(1, 0).slice(1, 0, prompt + generated);
}

class OptStepDecoder : public StepDecoder {
 public:
  OptStepDecoder(const models::OptModel& model, models::OptForwardOptions options)
      : model_(model), options_(std::move(options)) {}

  at::Tensor step(const at::Tensor& new_tokens, const at::Tensor& attention_mask) override {
    auto o = options_;
    o.attention_mask = attention_mask;
    o.cache = &cache_;
    o.last_position_logits_only = true;
    // The prefix enters once, with the prompt (one row per sample; a shared
    // prefix of one row is repeated for every sample).
    if (!cache_.empty()) {
      o.prefix_embeds = at::Tensor();
    } else if (o.prefix_embeds.defined()) {
      o.prefix_embeds = o.prefix_embeds.repeat_interleave(new_tokens.size(0) / o.prefix_embeds.size(0), 0);
    }
    return model_.forward(new_tokens, o).logits.select(1, 0);
  }

  void reorder(const at::Tensor& rows) override { cache_.reorder(rows); }

 private:
  const models::OptModel& model_;
  models::OptForwardOptions options_;
  models::KvCache cache_;
};

}  // namespace

void GenerationSettings::validate() const {
  if (max_new_tokens < 1) throw UsageError("generation", "max_new_tokens must be >= 1");
  if (num_beams < 1) throw UsageError("generation", "num_beams must be >= 1");
  if (eos_token_ids.empty()) throw UsageError("generation", "at least one EOS token id is needed");
}

std::unique_ptr<StepDecoder> make_opt_step_decoder(const models::OptModel& model, at::Tensor prefix_embeds,
                                                   models::LayerHook hook) {
  models::OptForwardOptions options;
  options.prefix_embeds = std::move(prefix_embeds);
  options.hook = std::move(hook);
  return make_opt_step_decoder(model, options);
}

std::unique_ptr<StepDecoder> make_opt_step_decoder(const models::OptModel& model,
                                                   const models::OptForwardOptions& options) {
  return std::make_unique<OptStepDecoder>(model, options);
}

at::Tensor generate(StepDecoder& decoder, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                    const GenerationSettings& settings) {
  settings.validate();
  torch::NoGradGuard no_grad;
  if (input_ids.dim() != 2 || attention_mask.sizes() != input_ids.sizes()) {
    throw Error("generation", "input_ids and attention_mask must both be [batch, tokens]");
  }
  const auto ids = input_ids.to(torch::kLong);
  const auto mask = attention_mask.to(torch::kLong);
  return settings.num_beams == 1 ? greedy(decoder, ids, mask, settings) : beam_search(decoder, ids, mask, settings);
}

}  // namespace epalm::models
