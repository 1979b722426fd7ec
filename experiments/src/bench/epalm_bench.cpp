// `epalm bench epalm-train-step`: one eP-ALM training step (frozen ViT
// features, injected OPT forward, loss, backward, AdamW) against the same step
// in PyTorch + transformers (tests/bench/epalm_train_peer.py) on the same
// weights, trainables, inputs and threads.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

#include "epalm/experiments/bench/bench.h"
#include "epalm/core/error.h"
#include "epalm/core/data/feature_cache.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/vit.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "epalm/core/train/trainer.h"
#include "epalm/experiments/model_families.h"
#include "epalm/experiments/model_families/opt_family.h"
#include "bench/epalm_bench_models.h"
#include "epalm/core/models/rounding_bounds.h"
#include "epalm/experiments/model_families/vit_family.h"

namespace epalm::experiments {


namespace {

// The batch every step trains on; its features are computed anew each step,
// as a training step without the feature cache does. Each encoder pass's time
// is kept: the step's ratio is bounded by it (on a GPU the pass is waited for,
// so the time is its own; the peer script does the same).
class EncodedImages : public train::BatchSource {
 public:
  EncodedImages(const models::VitModel& encoder, int levels, train::Batch text, at::Tensor pixels)
      : encoder_(encoder), levels_(levels), text_(std::move(text)), pixels_(std::move(pixels)) {}
  train::Batch batch_at(std::int64_t) override {
    train::Batch b = text_;
    const auto start = std::chrono::steady_clock::now();
    b.features = models::EpalmModel::select_features(encoder_, pixels_, levels_);
    synchronize(b.features.device());
    encoder_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return b;
  }
  std::vector<double> encoder_s;

 private:
  const models::VitModel& encoder_;
  int levels_;
  train::Batch text_;
  at::Tensor pixels_;
};

// The speed-up over the peer this benchmark is held to (samples/s).
constexpr double kTargetSpeedup = 1.5;

// Matrix-multiply work of one training step in FLOPs (2·m·n·k), counted as
// both sides run it: the encoder forward, the decoder forward, its backward
// for the inputs' gradients (every layer: the soft prompt enters at the
// embeddings) and the LM head. The peer runs the encoder's last block on every
// token, the decoder on every padded position and the prompt per sample, the
// LM head on every position; we run that block's queries, MLP and output for
// [CLS] only, the decoder on real tokens with the prompt once below the first
// injection (the packed pass) and the head on the target positions only. The
// ratio bounds the speed-up the same kernels can give: the rest is the same.
struct StepWork {
  double ours = 0, peer = 0;
  double our_encoder = 0;  // of `ours`: the frozen encoder's forward
};

StepWork train_step_work(const models::VitConfig& v, const models::OptConfig& o, const models::EpalmConfig& layout,
                         const at::Tensor& attention_mask, std::int64_t targets) {
  const double b = static_cast<double>(attention_mask.size(0));
  const double t = static_cast<double>(attention_mask.size(1) + layout.prompt_length);
  const auto encoder = vit_cls_flops(v, b);
  return {encoder.ours + packed_decoder_train_flops(o, layout, real_tokens_per_row(attention_mask),
                                                    static_cast<double>(targets)),
          encoder.peer + decoder_train_flops(o, b, t, b * t), encoder.ours};
}

BenchResult train_step_case(const BenchSettings& s, Progress& progress) {
  check_training_bench(s, "epalm-train-step");
  const int batch = s.batch > 0 ? s.batch : 8;
  const int tokens = s.tokens > 0 ? s.tokens : 24;
  ScratchDir scratch(s.work_dir);
  const auto models = make_epalm_bench_models(s, progress);
  const auto& decoder = models->decoder;
  const auto& vit_config = models->vit_config;
  const auto& encoder = models->encoder;
  const auto& layout = models->layout;
  auto& model = models->model;
  const auto& oc = decoder.config();

  // Questions of varied length, right-padded as the reference batches them.
  auto generator = at::make_generator<at::CPUGeneratorImpl>(s.seed + 1);
  auto ids = torch::randint(3, oc.vocab_size, {batch, tokens}, generator, torch::kLong);
  ids.select(1, 0).fill_(2);
  auto mask = torch::ones_like(ids);
  for (int i = 1; i < batch; i += 2) mask[i].slice(0, tokens - tokens / 4).zero_();
  ids.masked_fill_(mask == 0, 1);
  const auto labels = ids.masked_fill(mask == 0, -100);
  const auto pixels = torch::randn({batch, 3, vit_config.image_size, vit_config.image_size}, generator);

  const std::string inputs = scratch.path() + "/inputs.safetensors";
  if (s.peer) {
    progress.say("writing the weights, trainables and inputs for the peer");
    models->write_for_peer(scratch.path(), s.dtype);
    safetensors::write_safetensors(
        inputs, {{"pixel_values", pixels}, {"input_ids", ids}, {"attention_mask", mask}, {"labels", labels}});
  }

  // The logits both sides start from (before any step), compared logit by logit below.
  at::Tensor initial_logits;
  {
    torch::NoGradGuard no_grad;
    const auto features = models::EpalmModel::select_features(encoder, pixels.to(s.device, s.dtype), layout.levels);
    initial_logits = model.forward(features, ids.to(s.device), mask.to(s.device)).logits.to(torch::kFloat).cpu();
  }
  train::OptimizerSettings optimizer;
  optimizer.lr = optimizer.prompt_lr = 1e-4;
  train::ScheduleSettings schedule;  // constant learning rate over the benchmark's steps
  schedule.warmup_steps = 0;
  schedule.total_steps = std::int64_t{1} << 50;
  train::Trainer trainer(model, optimizer, schedule, train::TrainSettings{});
  EncodedImages source(encoder, layout.levels, train::Batch{{}, ids.to(s.device), mask.to(s.device), labels.to(s.device)},
                       pixels.to(s.device, s.dtype));
  std::vector<double> losses;
  BenchResult r;
  r.unit = "samples";
  r.tokens_per_run = batch;
  r.peer_implementation =
      "PyTorch + transformers ViTModel and OPTForCausalLM (eager attention), eP-ALM injection by hand "
      "(tests/bench/epalm_torch.py), torch.optim.AdamW";
  r.ours = measure([&] { losses.push_back(trainer.step(source).loss); }, s, progress, "epalm epalm-train-step");
  r.ours.extra = {{"digest", {{"first_loss", losses.front()}, {"last_loss", losses.back()}}}};
  const auto targets = (labels.slice(1, 1) != -100).sum().item<std::int64_t>();
  const auto work = train_step_work(vit_config, oc, layout, mask, targets);
  progress.say("GEMM rate (1024^3 products)");
  const double gemm_rate = measure_gemm_rate(s);
  // At the machine's own GEMM rate the step's matmuls alone take this long;
  // the rest of the measured time is everything that is not a large GEMM
  // (attention's small products, element-wise work, the optimizer).
  const double matmul_floor_s = work.ours / gemm_rate;
  r.settings = {
      {"decoder", s.model + " (random weights, seed " + std::to_string(s.seed) + ")"},
      {"encoder", s.encoder + " (random weights)"},
      {"eP-ALM", std::to_string(layout.levels) + " per-level connectors into layers [" +
                     std::to_string(layout.start_layer) + ", " + std::to_string(layout.end_layer) + "), prompt " +
                     std::to_string(layout.prompt_length) + " with MLP; " +
                     std::to_string(model.trainable_parameter_count()) + " trainables"},
      {"batch", std::to_string(batch)},
      {"tokens", std::to_string(tokens) + " (every other row right-padded by a quarter)"},
      {"dtype", dtype_label(s.dtype)},
      {"device", s.device.str()},
      {"threads", std::to_string(at::get_num_threads())},
      {"matmul work", [&] {
         std::ostringstream text;
         text << std::fixed << std::setprecision(1) << work.ours / 1e9 << " GFLOP per step, the peer " << work.peer / 1e9
              << " (" << std::setprecision(3) << work.peer / work.ours
              << "x: the speed-up the same kernels would give; the peer's last encoder block on every token and LM "
                 "head on every position are the difference); per sample " << std::setprecision(2)
              << work.ours / batch / 1e9 << " GFLOP, the peer " << work.peer / batch / 1e9;
         return text.str();
       }()},
      {"bound", [&] {
         std::ostringstream text;
         text << std::fixed << std::setprecision(1) << "GEMM " << gemm_rate / 1e9 << " GFLOP/s (1024^3 products, "
              << at::get_num_threads() << " threads): our matmuls take >= " << std::setprecision(2)
              << matmul_floor_s * 1e3 << " ms of the " << r.ours.median_s * 1e3 << " ms step (" << std::setprecision(0)
              << 100 * matmul_floor_s / r.ours.median_s << "% of the GEMM rate)";
         return text.str();
       }()},
      {"warmup", std::to_string(s.warmup)},
      {"repetitions", std::to_string(s.repetitions)}};
  if (!s.peer) return r;
  r.peer = run_peer(s, "epalm_train_peer.py",
                    {"--checkpoint", scratch.path() + "/decoder", "--encoder", scratch.path() + "/encoder", "--inputs",
                     inputs, "--trainables", scratch.path() + "/trainables.safetensors", "--variant",
                     peer_variant(layout).dump(), "--save-outputs", scratch.path() + "/peer_logits.safetensors", "--lr", std::to_string(optimizer.lr), "--weight-decay",
                     std::to_string(optimizer.weight_decay), "--warmup", std::to_string(s.warmup), "--repetitions",
                     std::to_string(s.repetitions), "--threads", std::to_string(at::get_num_threads()), "--dtype",
                     dtype_label(s.dtype), "--device", s.device.str()},
                    progress);
  const auto& d = r.peer->extra["digest"];
  const double peer_first = d.value("first_loss", kNoValue), peer_last = d.value("last_loss", kNoValue);
  r.settings.push_back({"encoder share", [&] {
    // The encoder's forward runs the same products on both sides (ours skips
    // the last block's other tokens): what the rest of our step must fit in
    // for the target ratio, against what its matmuls alone need.
    const auto kept = std::min<std::ptrdiff_t>(s.repetitions, static_cast<std::ptrdiff_t>(source.encoder_s.size()));
    const std::vector<double> timed(source.encoder_s.end() - kept, source.encoder_s.end());  // the timed steps
    const double ours_encoder = median(timed), ours_step = r.ours.median_s;
    const double peer_encoder = d.value("encoder_s", kNoValue), peer_step = r.peer->median_s;
    const double allowed = peer_step / kTargetSpeedup - ours_encoder;
    const double rest_floor = (work.ours - work.our_encoder) / gemm_rate;
    std::ostringstream text;
    text << std::fixed << std::setprecision(0) << "our encoder forward " << ours_encoder * 1e3 << " ms of the "
         << ours_step * 1e3 << " ms step, the peer's " << peer_encoder * 1e3 << " of " << peer_step * 1e3 << "; "
         << std::setprecision(1) << kTargetSpeedup << std::setprecision(0) << "x needs our step <= "
         << peer_step / kTargetSpeedup * 1e3 << " ms, leaving " << allowed * 1e3 << " ms for the decoder's forward, backward and update, whose matmuls ("
         << std::setprecision(1) << (work.ours - work.our_encoder) / 1e9 << " GFLOP) take >= " << std::setprecision(0)
         << rest_floor * 1e3 << " ms at the GEMM rate; they took " << (ours_step - ours_encoder) * 1e3 << " ms";
    return text.str();
  }()});
  r.settings.push_back({"ceiling", [&] {
    // The whole step against the same floor: the best ratio any schedule of
    // these products at this machine's GEMM rate could reach against the peer's
    // measured step, and the share of that rate the target asks of everything
    // our step does (attention, LayerNorm, GELU, softmax, the loss, AdamW included).
    const double peer_step = r.peer->median_s;
    std::ostringstream text;
    text << std::fixed << std::setprecision(1) << "our " << work.ours / 1e9
         << " GFLOP at the GEMM rate and nothing else take >= " << std::setprecision(0) << matmul_floor_s * 1e3
         << " ms: against the peer's " << peer_step * 1e3 << " ms step at most " << std::setprecision(3)
         << peer_step / matmul_floor_s << "x; " << std::setprecision(1) << kTargetSpeedup
         << "x needs the whole step at >= " << 100 * kTargetSpeedup * matmul_floor_s / peer_step
         << "% of the GEMM rate; it ran at " << 100 * matmul_floor_s / r.ours.median_s << "%";
    return text.str();
  }()});
  const double first_error = std::abs(losses.front() - peer_first) / std::max(1e-12, std::abs(peer_first));
  const double last_error = std::abs(losses.back() - peer_last) / std::max(1e-12, std::abs(peer_last));
  // From the same weights and inputs, each logit of either side lies within
  // the rounding of its chain (models/rounding_bounds.h): the ViT to the
  // [CLS] features, then eP-ALM's logits; relative to the largest |logit|.
  // The first step's loss adds the log-softmax over the vocabulary and the
  // sum over the target rows (non-negative terms: relative to the loss).
  // bf16: the same chains with each op's output rounded once. Later steps
  // follow trajectories that rounding moves apart (AdamW amplifies a
  // last-bit gradient difference near zero): reported, not judged.
  const auto text_tokens = tokens + layout.prompt_length + 1;
  // Our encoder runs the auto kernel: fused attention (attention_kernel.h).
  const double encoder_depth = models::vit_depth(vit_config, vit_config.num_patches() + 1, -1,
                                                 models::unmasked_attention_is_fused(models::AttentionKernel::kAuto));
  const double logits_depth =
      encoder_depth + models::epalm_logits_depth(oc, text_tokens, vit_config.hidden_size, 0);
  // The step's loss comes from the packed pass, whose attention is a fused kernel.
  const double loss_depth =
      encoder_depth + models::epalm_loss_depth(oc, targets, text_tokens, vit_config.hidden_size, 0, /*fused=*/true);
  const double bf16_roundings =
      models::kBlockBf16Roundings * static_cast<double>(vit_config.num_layers + oc.num_layers) + 10;
  auto relative_bound = [&](double depth) {
    return s.dtype == c10::kFloat ? models::two_orders(depth) : 2 * models::mixed_gamma(depth, bf16_roundings);
  };
  const auto peer_logits = safetensors::SafetensorsFile(scratch.path() + "/peer_logits.safetensors").load("logits");
  const double logit_bound = relative_bound(logits_depth) * peer_logits.abs().max().item<double>();
  const double worst_logit =
      peer_logits.sizes() == initial_logits.sizes() ? (initial_logits - peer_logits).abs().max().item<double>() : INFINITY;
  const double loss_bound = relative_bound(loss_depth);
  r.agree = worst_logit <= logit_bound && first_error <= loss_bound;
  std::ostringstream check;
  check << "logits and losses " << (r.agree ? "agree" : "DISAGREE") << ": largest logit difference " << worst_logit
        << " over " << initial_logits.numel() << " (bound " << logit_bound << "); first step loss " << losses.front()
        << " vs " << peer_first << " (relative " << first_error << ", bound " << loss_bound << "), after "
        << losses.size() << " steps " << losses.back() << " vs " << peer_last << " (relative " << last_error
        << ": trajectories, not judged)";
  r.check = check.str();
  return r;
}

// A small image dataset trained on by several eP-ALM variants that share the
// encoder (a sweep): every batch's features come from `features(batch)`.
class SweepBatches : public train::BatchSource {
 public:
  using Features = std::function<at::Tensor(std::int64_t batch)>;
  SweepBatches(Features features, std::int64_t batches, train::Batch text) : features_(std::move(features)), batches_(batches),
                                                                       text_(std::move(text)) {}
  train::Batch batch_at(std::int64_t position) override {
    const auto index = position % batches_;
    const auto size = text_.input_ids.size(0) / batches_;
    train::Batch b{features_(index), text_.input_ids.slice(0, index * size, (index + 1) * size),
            text_.attention_mask.slice(0, index * size, (index + 1) * size),
            text_.labels.slice(0, index * size, (index + 1) * size)};
    return b;
  }

 private:
  Features features_;
  std::int64_t batches_;
  train::Batch text_;
};

// The sweep's variants: what the paper ablates, all reading the same six levels.
std::vector<models::EpalmConfig> sweep_variants(std::int64_t decoder_layers) {
  std::vector<models::EpalmConfig> variants(4, paper_layout(decoder_layers));
  variants[1].shared_connector = true;
  variants[1].prompt_mlp = false;
  variants[2].prompt_length = 0;
  variants[3].shared_connector = true;
  variants[3].prompt_length = 0;
  return variants;
}

BenchResult feature_cache_case(const BenchSettings& given, Progress& progress) {
  BenchSettings s = given;
  s.warmup = 0;  // a cache's first computation is part of what is measured
  if (s.new_tokens > 0) throw UsageError("--new-tokens", "feature-cache-sweep does not generate");
  if (!s.device.is_cpu() && s.dtype == c10::kFloat) progress.say("note: fp32 on " + s.device.str());
  const int batch = s.batch > 0 ? s.batch : 4;
  const int tokens = s.tokens > 0 ? s.tokens : 16;
  constexpr std::int64_t kBatches = 2, kEpochs = 2;
  const auto decoder_source = resolve_model_source(s.model);
  const auto encoder_source = resolve_model_source(s.encoder);
  if (decoder_source.model_type != "opt") throw UsageError("--model", "'" + s.model + "' is not an OPT model");
  if (encoder_source.model_type != "vit") throw UsageError("--encoder", "'" + s.encoder + "' is not a ViT model");
  progress.say("weights: " + s.model + " and " + s.encoder);
  auto decoder = load_opt(decoder_source, s.dtype, s.device, s.seed);
  const auto encoder = load_vit(encoder_source, s.dtype, s.device, s.seed + 2);
  const auto& vit = encoder.config();
  const auto variants = sweep_variants(decoder.config().num_layers);
  const auto images = batch * kBatches;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(s.seed + 1);
  auto ids = torch::randint(3, decoder.config().vocab_size, {images, tokens}, generator, torch::kLong);
  ids.select(1, 0).fill_(2);
  const train::Batch text{{}, ids.to(s.device), torch::ones_like(ids).to(s.device), ids.to(s.device)};
  const auto pixels = torch::randn({images, 3, vit.image_size, vit.image_size}, generator).to(s.device, s.dtype);
  std::vector<std::string> sample_ids;
  for (std::int64_t i = 0; i < images; ++i) sample_ids.push_back("image-" + std::to_string(i));
  auto rows_of = [&](std::int64_t index) { return pixels.slice(0, index * batch, (index + 1) * batch); };

  ScratchDir scratch(s.work_dir);
  std::vector<double> losses;
  auto sweep = [&](const SweepBatches::Features& features) {
    losses.clear();
    for (std::size_t v = 0; v < variants.size(); ++v) {
      models::EpalmModel model(variants[v], decoder, vit.hidden_size, vit.num_layers, s.seed + 3);
      train::Trainer trainer(model, train::OptimizerSettings{}, train::ScheduleSettings{}, train::TrainSettings{});
      SweepBatches data(features, kBatches, text);
      for (std::int64_t step = 0; step < kBatches * kEpochs; ++step) {
        progress.say("variant " + std::to_string(v + 1) + "/" + std::to_string(variants.size()) + ", step " +
                     std::to_string(step + 1));
        losses.push_back(trainer.step(data).loss);
      }
    }
  };
  const int levels = variants.front().levels;
  std::vector<double> uncached_losses;
  BenchResult r;
  r.unit = "samples";
  r.tokens_per_run = static_cast<std::int64_t>(variants.size()) * kEpochs * images;
  r.peer_implementation = "epalm without the feature cache (the encoder runs every step)";
  r.ours_label = "epalm, feature cache";
  r.peer_label = "epalm, no cache";
  int run = 0;
  std::int64_t hits = 0, misses = 0;
  r.ours = measure(
      [&] {
        data::FeatureCache cache(scratch.path() + "/cache-" + std::to_string(run++),
                           data::FeatureKey{encoder.fingerprint(), levels, "bench random pixels"});
        sweep([&](std::int64_t index) {
          const std::vector<std::string> wanted(sample_ids.begin() + index * batch,
                                                sample_ids.begin() + (index + 1) * batch);
          return cache.features(wanted, [&](const std::vector<std::size_t>& missing) {
            std::vector<std::int64_t> rows;
            for (auto m : missing) rows.push_back(index * batch + static_cast<std::int64_t>(m));
            return models::EpalmModel::select_features(encoder, pixels.index_select(0, torch::tensor(rows).to(s.device)),
                                               levels);
          }).to(s.device);
        });
        hits = cache.hits();
        misses = cache.misses();
      },
      s, progress, "with the feature cache");
  const auto cached_losses = losses;
  r.peer = measure([&] { sweep([&](std::int64_t index) { return models::EpalmModel::select_features(encoder, rows_of(index), levels); }); },
                   s, progress, "without the cache");
  r.agree = cached_losses == losses;
  r.check = std::string("per-step losses of the ") + std::to_string(losses.size()) + " steps " +
            (r.agree ? "identical" : "DIFFER") + " with and without the cache; cache hits " + std::to_string(hits) +
            ", misses " + std::to_string(misses) + " per sweep";
  r.settings = {{"decoder", s.model},
                {"encoder", s.encoder},
                {"sweep", std::to_string(variants.size()) +
                              " variants (per-level + prompt MLP, shared + prompt, per-level, shared; 6 levels), " +
                              std::to_string(kEpochs) + " epochs of " + std::to_string(kBatches) + " batches"},
                {"batch", std::to_string(batch) + " images, " + std::to_string(tokens) + " tokens"},
                {"dtype", dtype_label(s.dtype)},
                {"device", s.device.str()},
                {"threads", std::to_string(at::get_num_threads())},
                {"repetitions", std::to_string(s.repetitions) + " (no warmup: a fresh cache each run)"}};
  return r;
}

}  // namespace

std::vector<BenchCase> epalm_bench_cases() {
  return {
      {"epalm-train-step",
       "one eP-ALM training step, samples/s (default: opt-125m + vit-base-patch16-224 random weights, batch 8 of 24 "
       "tokens, 6 per-level connectors, 10-token prompt)",
       train_step_case, "opt-125m"},
      {"feature-cache-sweep",
       "a sweep of 4 eP-ALM variants sharing an encoder, with the frozen-feature cache vs without, samples/s "
       "(default: opt-125m + vit-base-patch16-224, 2 epochs of 2 batches of 4 images)",
       feature_cache_case, "opt-125m"},
  };
}

}  // namespace epalm::experiments
