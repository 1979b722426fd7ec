// `epalm bench epalm-eval`: eP-ALM's evaluation decoding as `epalm eval` runs
// it per batch (the frozen [CLS] features, then beam search with the KV cache,
// the prompt run once per sample, samples that are done out of the work)
// against the reference's generation path (tests/bench/epalm_eval_peer.py:
// transformers' generate with the injection by hand and no cache, so every
// step re-runs the whole sequence) on the same weights, trainables, questions
// and images. The predictions must be identical, token for token.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/epalm_bench_models.h"
#include "epalm/core/error.h"
#include "epalm/core/models/generation.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "epalm/experiments/bench/bench.h"
#include "epalm/experiments/model_families.h"

namespace epalm::experiments {

namespace {

// The reference's decoding (docs/epalm.md, Decoding): beam 3, max_length 30
// counting the question's tokens, HF's default length penalty and stopping.
constexpr int kBeams = 3;
constexpr int kMaxLength = 30;

// Rows of every decoder call, to count the work done.
class CountingDecoder : public models::StepDecoder {
 public:
  explicit CountingDecoder(std::unique_ptr<models::StepDecoder> inner) : inner_(std::move(inner)) {}
  at::Tensor step(const at::Tensor& new_tokens, const at::Tensor& mask) override {
    calls.push_back({new_tokens.size(0), new_tokens.size(1), mask.size(1)});
    return inner_->step(new_tokens, mask);
  }
  void reorder(const at::Tensor& rows) override { inner_->reorder(rows); }

  struct Call {
    std::int64_t rows, new_tokens, text_length;  // text_length: the mask's columns
  };
  std::vector<Call> calls;

 private:
  std::unique_ptr<models::StepDecoder> inner_;
};

// Matrix-multiply FLOPs (2·m·n·k) of one decoder pass over `rows` rows of
// `queries` new positions each with `context` keys: projections and MLP per
// position, attention scores and mixing per query and key, and the LM head on
// `head_positions` per row.
double decoder_flops(const models::OptConfig& o, double rows, double queries, double context, double head_positions) {
  const double d = o.hidden_size, f = o.ffn_dim;
  const double per_layer = queries * 2 * (4 * d * d + 2 * d * f) + 2 * 2 * queries * context * d;
  return rows * (o.num_layers * per_layer + head_positions * 2.0 * o.word_embed_proj_dim * o.vocab_size);
}

std::vector<std::vector<std::int64_t>> rows_of(const at::Tensor& sequences) {
  std::vector<std::vector<std::int64_t>> out;
  const auto cpu = sequences.cpu().contiguous();
  for (std::int64_t i = 0; i < cpu.size(0); ++i) {
    const auto* row = cpu[i].data_ptr<std::int64_t>();
    out.emplace_back(row, row + cpu.size(1));
  }
  return out;
}

BenchResult eval_case(const BenchSettings& s, Progress& progress) {
  if (s.dtype != c10::kFloat && s.device.is_cpu()) {
    throw UsageError("--dtype", "eP-ALM evaluates in fp32 on the CPU (bf16/fp16 frozen weights are for GPUs)");
  }
  const int batch = s.batch > 0 ? s.batch : 8;
  const int tokens = s.tokens > 0 ? s.tokens : 12;
  const int new_tokens = s.new_tokens > 0 ? s.new_tokens : kMaxLength - tokens;
  if (new_tokens < 1) {
    throw UsageError("--tokens", std::to_string(tokens) + " question tokens leave nothing to generate within max_length " +
                                     std::to_string(kMaxLength) + " (give --new-tokens)");
  }
  ScratchDir scratch(s.work_dir);
  const auto models = make_epalm_bench_models(s, progress);
  const auto& oc = models->decoder.config();
  const auto& vit = models->vit_config;
  const auto& model = models->model;
  const int levels = models->layout.levels;

  // Questions of varied length, left-padded as `epalm eval` batches them:
  // BOS, then random tokens; every other row a quarter shorter.
  auto generator = at::make_generator<at::CPUGeneratorImpl>(s.seed + 1);
  auto ids = torch::randint(3, oc.vocab_size, {batch, tokens}, generator, torch::kLong);
  auto mask = torch::ones_like(ids);
  for (int i = 1; i < batch; i += 2) mask[i].slice(0, 0, tokens / 4).zero_();
  ids.masked_fill_(mask == 0, 1);
  const auto first_real = tokens - mask.sum(1);
  for (int i = 0; i < batch; ++i) ids[i][first_real[i].item<std::int64_t>()] = 2;
  const auto pixels = torch::randn({batch, 3, vit.image_size, vit.image_size}, generator);

  models::GenerationSettings settings;
  settings.num_beams = kBeams;
  settings.max_new_tokens = new_tokens;
  settings.eos_token_ids = {2};
  settings.pad_token_id = 1;

  const std::string inputs = scratch.path() + "/inputs.safetensors";
  if (s.peer) {
    progress.say("writing the weights, trainables and inputs for the peer");
    models->write_for_peer(scratch.path(), s.dtype);
    safetensors::write_safetensors(inputs, {{"pixel_values", pixels}, {"input_ids", ids}, {"attention_mask", mask}});
  }

  const auto device_pixels = pixels.to(s.device, s.dtype);
  const auto device_ids = ids.to(s.device), device_mask = mask.to(s.device);
  at::Tensor sequences;
  std::vector<CountingDecoder::Call> calls;
  BenchResult r;
  r.unit = "questions";
  r.tokens_per_run = batch;
  r.peer_implementation =
      "PyTorch + transformers ViTModel and OPTForCausalLM (eager attention): generate(num_beams=3, max_length=" +
      std::to_string(tokens + new_tokens) + ", use_cache=False) with eP-ALM's injection by hand (tests/bench/epalm_torch.py)";
  r.ours_label = "epalm eval (KV cache)";
  r.peer_label = "reference generate (no cache)";
  r.ours = measure(
      [&] {
        torch::NoGradGuard no_grad;
        const auto features = models::EpalmModel::select_features(models->encoder, device_pixels, levels);
        CountingDecoder decoder(model.step_decoder(features));
        sequences = generate(decoder, device_ids, device_mask, settings);
        calls = decoder.calls;
      },
      s, progress, "epalm epalm-eval");

  // The work both sides did for the same tokens.
  const auto encoder = vit_cls_flops(vit, batch);
  const double prefix = models->layout.prompt_length + 1;  // the soft prompt and the perceptual token
  double ours = encoder.ours, peer = encoder.peer;
  for (const auto& c : calls) {
    const double context = prefix + static_cast<double>(c.text_length);
    ours += decoder_flops(oc, static_cast<double>(c.rows), c.new_tokens == 1 ? 1 : context, context, 1);
    // The peer: every beam of every sample, the whole sequence, the head on every position.
    peer += decoder_flops(oc, batch * kBeams, context, context, context);
  }
  std::int64_t decoder_bytes = 0;
  for (const auto& [name, t] : models->decoder.weights()) decoder_bytes += t.numel() * static_cast<std::int64_t>(t.element_size());
  progress.say("GEMM and memory rates");
  const double gemm_rate = measure_gemm_rate(s);
  const double memory_rate = measure_memory_rate(s);
  const double flops_s = ours / gemm_rate;
  // Each decoder call streams every frozen weight once (the step's products
  // have a few dozen rows: too few to reuse a weight from cache).
  const double bytes_s = static_cast<double>(calls.size()) * static_cast<double>(decoder_bytes) / memory_rate;

  std::int64_t most_rows = 0, fewest_rows = batch * kBeams;
  for (std::size_t i = 1; i < calls.size(); ++i) {
    most_rows = std::max(most_rows, calls[i].rows);
    fewest_rows = std::min(fewest_rows, calls[i].rows);
  }
  std::ostringstream work, bound, rows_text;
  work << std::fixed << std::setprecision(1) << ours / 1e9 << " GFLOP per batch, the peer " << peer / 1e9 << " ("
       << std::setprecision(2) << peer / ours << "x: the cache, one prompt pass per sample and the head on the last "
       << "position only); per question " << std::setprecision(2) << ours / batch / 1e9 << " GFLOP, the peer "
       << peer / batch / 1e9;
  bound << std::fixed << std::setprecision(1) << "GEMM " << gemm_rate / 1e9 << " GFLOP/s, memory " << memory_rate / 1e9
        << " GB/s (" << at::get_num_threads() << " threads): our matmuls take >= " << std::setprecision(2)
        << flops_s * 1e3 << " ms, streaming the decoder's " << std::setprecision(1) << decoder_bytes / 1e6 << " MB "
        << calls.size() << " times >= " << std::setprecision(2) << bytes_s * 1e3 << " ms, of the "
        << r.ours.median_s * 1e3 << " ms measured (the larger bound is " << std::setprecision(0)
        << 100 * std::max(flops_s, bytes_s) / r.ours.median_s << "% of it)";
  rows_text << calls.size() << " decoder calls: the prompt on " << (calls.empty() ? 0 : calls.front().rows)
            << " rows, then " << most_rows;
  if (fewest_rows < most_rows) rows_text << " down to " << fewest_rows << " (samples that are done leave)";
  else rows_text << " (no sample was done before the last token)";
  const auto generated = sequences.size(1) - tokens;
  r.settings = {
      {"decoder", s.model + " (random weights, seed " + std::to_string(s.seed) + ")"},
      {"encoder", s.encoder + " (random weights)"},
      {"eP-ALM", std::to_string(levels) + " per-level connectors into layers [" +
                     std::to_string(models->layout.start_layer) + ", " + std::to_string(models->layout.end_layer) +
                     "), prompt " + std::to_string(models->layout.prompt_length) + " with MLP"},
      {"batch", std::to_string(batch) + " questions of " + std::to_string(tokens) +
                    " tokens (every other row left-padded by a quarter)"},
      {"decoding", "beam " + std::to_string(kBeams) + ", max_length " + std::to_string(tokens + new_tokens) + " (" +
                       std::to_string(generated) + " tokens generated)"},
      {"decoder calls", rows_text.str()},
      {"dtype", dtype_label(s.dtype)},
      {"device", s.device.str()},
      {"threads", std::to_string(at::get_num_threads())},
      {"matmul work", work.str()},
      {"bound", bound.str()},
      {"warmup", std::to_string(s.warmup)},
      {"repetitions", std::to_string(s.repetitions)}};
  const auto ours_rows = rows_of(sequences);
  r.ours.extra = {{"digest", {{"sequences", ours_rows}}}};
  if (!s.peer) return r;
  r.peer = run_peer(s, "epalm_eval_peer.py",
                    {"--checkpoint", scratch.path() + "/decoder", "--encoder", scratch.path() + "/encoder", "--inputs",
                     inputs, "--trainables", scratch.path() + "/trainables.safetensors", "--variant",
                     peer_variant(models->layout).dump(), "--num-beams", std::to_string(kBeams), "--max-length",
                     std::to_string(tokens + new_tokens), "--warmup", std::to_string(s.warmup), "--repetitions",
                     std::to_string(s.repetitions), "--threads", std::to_string(at::get_num_threads()), "--dtype",
                     dtype_label(s.dtype), "--device", s.device.str()},
                    progress);
  const auto peer_rows =
      r.peer->extra.value("digest", nlohmann::json::object()).value("sequences", std::vector<std::vector<std::int64_t>>{});
  std::size_t same = 0;
  for (std::size_t i = 0; i < ours_rows.size() && i < peer_rows.size(); ++i) same += ours_rows[i] == peer_rows[i];
  r.agree = peer_rows.size() == ours_rows.size() && same == ours_rows.size();
  std::ostringstream check;
  check << "predictions " << (r.agree ? "identical" : "DIFFER") << ": " << same << " of " << ours_rows.size()
        << " questions token for token";
  if (!r.agree) {
    for (std::size_t i = 0; i < ours_rows.size(); ++i) {
      if (i < peer_rows.size() && ours_rows[i] == peer_rows[i]) continue;
      check << " (first difference: question " << i << ")";
      break;
    }
  }
  r.check = check.str();
  return r;
}

}  // namespace

std::vector<BenchCase> epalm_eval_bench_cases() {
  return {{"epalm-eval",
           "eP-ALM evaluation decoding (beam 3, max_length 30) with the KV cache vs the reference's generate without "
           "it, questions/s; the predictions must be identical (default: opt-125m + vit-base-patch16-224 random "
           "weights, 8 questions of 12 tokens)",
           eval_case, "opt-125m"}};
}

}  // namespace epalm::experiments
