// `epalm bench opt-forward` and `opt-generate`: our OPT against transformers'
// OPTForCausalLM (eager attention) on the same weights, inputs and threads.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "epalm/experiments/bench/bench.h"
#include "epalm/core/models/rounding_bounds.h"
#include "epalm/core/error.h"
#include "epalm/core/models/generation.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "epalm/experiments/model_families.h"
#include "epalm/experiments/model_families/opt_family.h"
#include "bench/peer_checkpoints.h"

namespace epalm::experiments {


namespace {

namespace fs = std::filesystem;

struct Prepared {
  ModelSource source;
  models::OptModel model;
  at::Tensor ids, mask;
  std::string checkpoint;  // the directory the peer loads
  std::string inputs;      // the file the peer reads
};

// Our model, random inputs (no special tokens), and the same two on disk for
// the peer: the checkpoint directory itself, or our random weights written as
// a Hugging Face checkpoint (config.json + model.safetensors).
Prepared prepare(const BenchSettings& s, int batch, int tokens, const ScratchDir& scratch, Progress& progress) {
  auto source = resolve_model_source(s.model);
  if (source.model_type != "opt") throw UsageError("--model", "'" + s.model + "' is not an OPT model");
  progress.say(source.is_directory() ? "loading " + source.directory : "random weights: " + source.preset);
  auto model = load_opt(source, s.dtype, s.device, s.seed);
  const auto c = model.config();  // a copy: the model moves into the result
  if (tokens + s.new_tokens > c.max_positions) {
    throw UsageError("--tokens", "prompt and new tokens exceed max_position_embeddings " +
                                     std::to_string(c.max_positions));
  }
  auto generator = at::make_generator<at::CPUGeneratorImpl>(s.seed + 1);
  const std::int64_t low = std::min<std::int64_t>(3, c.vocab_size - 1);
  auto ids = torch::randint(low, c.vocab_size, {batch, tokens}, generator, torch::kLong);
  auto mask = torch::ones_like(ids);
  Prepared p{source, std::move(model), ids, mask, "", scratch.path() + "/inputs.safetensors"};
  safetensors::write_safetensors(p.inputs, {{"input_ids", ids}, {"attention_mask", mask}});
  if (!s.peer) return p;
  if (source.is_directory()) {
    p.checkpoint = source.directory;
  } else {
    progress.say("writing the random weights for the peer");
    p.checkpoint = scratch.path() + "/checkpoint";
    write_opt_checkpoint(p.model, p.checkpoint);
  }
  return p;
}

std::vector<std::string> peer_args(const BenchSettings& s, const Prepared& p, const std::string& mode, int new_tokens) {
  return {"--checkpoint", p.checkpoint,  "--inputs",      p.inputs,
          "--mode",       mode,          "--new-tokens",  std::to_string(new_tokens),
          "--warmup",     std::to_string(s.warmup), "--repetitions", std::to_string(s.repetitions),
          "--threads",    std::to_string(at::get_num_threads()),
          "--dtype",      dtype_label(s.dtype), "--device", s.device.str()};
}

std::vector<std::pair<std::string, std::string>> common_settings(const BenchSettings& s, const Prepared& p, int batch,
                                                                 int tokens) {
  const auto& c = p.model.config();
  return {{"model", s.model + (p.source.is_directory() ? "" : " (random weights, seed " + std::to_string(s.seed) + ")")},
          {"architecture", std::to_string(c.num_layers) + " layers, hidden " + std::to_string(c.hidden_size) +
                               ", vocab " + std::to_string(c.vocab_size)},
          {"batch", std::to_string(batch)},
          {"tokens", std::to_string(tokens)},
          {"dtype", dtype_label(s.dtype)},
          {"device", s.device.str()},
          {"threads", std::to_string(at::get_num_threads())},
          {"attention", attention_label(s.attention)},
          {"warmup", std::to_string(s.warmup)},
          {"repetitions", std::to_string(s.repetitions)}};
}

BenchResult forward_case(const BenchSettings& s, Progress& progress) {
  const int batch = s.batch > 0 ? s.batch : 8;
  const int tokens = s.tokens > 0 ? s.tokens : 64;
  ScratchDir scratch(s.work_dir);
  auto p = prepare(s, batch, tokens, scratch, progress);
  BenchResult r;
  r.settings = common_settings(s, p, batch, tokens);
  r.tokens_per_run = static_cast<std::int64_t>(batch) * tokens;
  models::OptForwardOptions options;
  options.attention_mask = p.mask;
  options.attention_kernel = s.attention;
  const auto ids = p.ids.to(s.device);
  options.attention_mask = p.mask.to(s.device);
  at::Tensor logits;
  r.ours = measure(
      [&] {
        torch::NoGradGuard no_grad;
        logits = p.model.forward(ids, options).logits;
      },
      s, progress, "epalm opt-forward");
  const auto last = logits.select(1, logits.size(1) - 1).to(torch::kFloat).cpu();
  const double ours_sum = last.sum().item<double>();
  const double ours_mean_abs = last.abs().mean().item<double>();
  r.ours.extra = {{"digest", {{"last_logits_sum", ours_sum}, {"last_logits_mean_abs", ours_mean_abs}}}};
  if (s.peer) {
    const auto peer_logits_path = scratch.path() + "/peer_last_logits.safetensors";
    auto args = peer_args(s, p, "forward", 0);
    args.insert(args.end(), {"--save-outputs", peer_logits_path});
    r.peer = run_peer(s, "opt_peer.py", args, progress);
    const auto& d = r.peer->extra["digest"];
    const double peer_sum = d.value("last_logits_sum", kNoValue);
    const double peer_mean_abs = d.value("last_logits_mean_abs", kNoValue);
    // Each logit of either side lies within its rounding chain
    // (models/rounding_bounds.h) of the exact value, relative to the largest
    // logit: every last-position logit is compared.
    const auto& c = p.model.config();
    const double depth = models::opt_depth(c, tokens, -1, s.attention != models::AttentionKernel::kEager);
    const auto peer_last = safetensors::SafetensorsFile(peer_logits_path).load("last_logits");
    const double scale = peer_last.abs().max().item<double>();
    const double bound = (s.dtype == c10::kFloat ? models::two_orders(depth)
                                                 : 2 * models::mixed_gamma(depth, models::opt_bf16_roundings(c, -1, false))) *
                         scale;
    const double worst = peer_last.sizes() == last.sizes() ? (last - peer_last).abs().max().item<double>() : INFINITY;
    r.agree = worst <= bound;
    std::ostringstream check;
    check << "last-position logits " << (r.agree ? "agree" : "DISAGREE") << ": largest difference " << worst
          << " over " << last.numel() << " logits, bound " << bound << " (the rounding chain of " << depth
          << " terms times the largest |logit| " << scale << "); mean |logit| " << ours_mean_abs << " vs "
          << peer_mean_abs << ", sum " << ours_sum << " vs " << peer_sum;
    r.check = check.str();
  }
  return r;
}

BenchResult generate_case(const BenchSettings& given, Progress& progress) {
  auto s = given;
  const int batch = s.batch > 0 ? s.batch : 4;
  const int tokens = s.tokens > 0 ? s.tokens : 16;
  s.new_tokens = s.new_tokens > 0 ? s.new_tokens : 32;
  ScratchDir scratch(s.work_dir);
  auto p = prepare(s, batch, tokens, scratch, progress);
  BenchResult r;
  r.generation = true;
  r.settings = common_settings(s, p, batch, tokens);
  r.settings.emplace_back("new tokens", std::to_string(s.new_tokens));
  r.settings.emplace_back("decoding", "greedy, KV cache, no EOS stop");
  r.tokens_per_run = static_cast<std::int64_t>(batch) * s.new_tokens;
  models::GenerationSettings g;
  g.max_new_tokens = s.new_tokens;
  g.num_beams = 1;
  g.eos_token_ids = {-1};  // never matches: every run makes exactly new_tokens per row, as the peer does
  g.pad_token_id = p.model.config().pad_token_id;
  const auto ids = p.ids.to(s.device);
  const auto mask = p.mask.to(s.device);
  at::Tensor sequences;
  r.ours = measure(
      [&] {
        torch::NoGradGuard no_grad;
        auto decoder = models::make_opt_step_decoder(p.model);
        sequences = generate(*decoder, ids, mask, g);
      },
      s, progress, "epalm opt-generate");
  sequences = sequences.cpu();
  if (s.peer) {
    r.peer = run_peer(s, "opt_peer.py", peer_args(s, p, "generate", s.new_tokens), progress);
    const auto& d = r.peer->extra["digest"];
    std::int64_t same_rows = 0;
    std::int64_t same_tokens = 0;
    if (d.contains("generated")) {
      const auto peer = d["generated"].get<std::vector<std::vector<std::int64_t>>>();
      for (std::int64_t row = 0; row < sequences.size(0) && row < static_cast<std::int64_t>(peer.size()); ++row) {
        bool equal = static_cast<std::int64_t>(peer[row].size()) == sequences.size(1);
        for (std::int64_t t = tokens; t < sequences.size(1) && t < static_cast<std::int64_t>(peer[row].size()); ++t) {
          const bool same = peer[row][t] == sequences[row][t].item<std::int64_t>();
          same_tokens += same;
          equal = equal && same;
        }
        same_rows += equal;
      }
    }
    r.agree = same_rows == batch;
    r.check = "generated tokens: " + std::to_string(same_rows) + "/" + std::to_string(batch) + " rows identical, " +
              std::to_string(same_tokens) + "/" + std::to_string(r.tokens_per_run) + " tokens" +
              (r.agree ? "" : " (greedy near-ties can differ in the last bits, then diverge)");
  }
  return r;
}

}  // namespace

std::vector<BenchCase> opt_bench_cases() {
  return {
      {"opt-forward",
       "OPT forward pass with logits (default: opt-125m random weights, batch 8 x 64 tokens)", forward_case,
       "opt-125m"},
      {"opt-generate",
       "OPT greedy generation with the KV cache, tokens/s (default: batch 4, prompt 16, 32 new tokens)",
       generate_case, "opt-125m"},
  };
}

}  // namespace epalm::experiments
