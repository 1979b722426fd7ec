// `epalm bench sweep-fused`: an ablation grid of eP-ALM variants trained for a
// fixed number of steps, as a fused job (one encoder pass per batch for all
// variants and packed decoder passes over up to train::kVariantsPerJointPass variants' rows, each variant's
// own trainer over the shared frozen models: fused_batches.h and
// train::step_together, what `epalm train --fuse` runs) against the same cells one
// after another, by us and by PyTorch + transformers
// (tests/bench/epalm_sweep_peer.py). Training as the reference does:
// augmentation on, so every cell alone runs the encoder on every batch (no
// feature cache applies).
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <iomanip>
#include <map>
#include <set>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/epalm_bench_models.h"
#include "epalm/core/data/feature_cache.h"
#include "epalm/core/error.h"
#include "epalm/core/models/rounding_bounds.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "epalm/core/scratch_dir.h"
#include "epalm/core/train/trainer.h"
#include "epalm/experiments/bench/bench.h"
#include "epalm/experiments/model_families.h"
#include "fused_batches.h"

namespace epalm::experiments {

namespace {

constexpr std::int64_t kBatches = 2;  // the data cycles over this many batches (their features differ)

// The grid: 4 = connector sharing x levels (3, 6); 8 = connector sharing x
// prompt length (0, 1, 5, 10); the rest as the paper's layout.
std::vector<models::EpalmConfig> grid(int variants, std::int64_t decoder_layers) {
  std::vector<models::EpalmConfig> out;
  for (const bool shared : {false, true}) {
    if (variants == 4) {
      for (const int levels : {3, 6}) {
        auto c = paper_layout(decoder_layers);
        c.shared_connector = shared;
        c.levels = levels;
        out.push_back(c);
      }
    } else {
      for (const int prompt : {0, 1, 5, 10}) {
        auto c = paper_layout(decoder_layers);
        c.shared_connector = shared;
        c.prompt_length = prompt;
        out.push_back(c);
      }
    }
  }
  return out;
}

// Batch `position % kBatches` of the images and text. Its features (for
// `levels`): computed now from the pixels, as a training step with
// augmentation computes them; or, with a frozen-feature cache, read from it
// (computed on an image's first visit), as training without augmentation does.
class EncodedBatches : public train::BatchSource {
 public:
  EncodedBatches(const models::VitModel& encoder, int levels, const at::Tensor& pixels, const train::Batch& text,
                 std::int64_t batch, data::FeatureCache* cache)
      : encoder_(encoder), levels_(levels), pixels_(pixels), text_(text), batch_(batch), cache_(cache) {}
  train::Batch batch_at(std::int64_t position) override {
    const auto rows = (position % kBatches) * batch_;
    auto slice = [&](const at::Tensor& t) { return t.slice(0, rows, rows + batch_); };
    return {features(rows), slice(text_.input_ids), slice(text_.attention_mask), slice(text_.labels)};
  }

 private:
  at::Tensor features(std::int64_t rows) const {
    if (cache_ == nullptr) return models::EpalmModel::select_features(encoder_, pixels_.slice(0, rows, rows + batch_), levels_);
    std::vector<std::string> ids;
    for (std::int64_t i = rows; i < rows + batch_; ++i) ids.push_back("image-" + std::to_string(i));
    return cache_->features(ids, [&](const std::vector<std::size_t>& missing) {
      std::vector<std::int64_t> wanted;
      for (auto m : missing) wanted.push_back(rows + static_cast<std::int64_t>(m));
      return models::EpalmModel::select_features(
          encoder_, pixels_.index_select(0, torch::tensor(wanted).to(pixels_.device())), levels_);
    }).to(pixels_.device());
  }

  const models::VitModel& encoder_;
  int levels_;
  const at::Tensor& pixels_;
  const train::Batch& text_;
  std::int64_t batch_;
  data::FeatureCache* cache_;
};

train::OptimizerSettings optimizer_settings() {
  train::OptimizerSettings o;
  o.lr = o.prompt_lr = 1e-4;
  return o;
}

train::ScheduleSettings constant_schedule() {
  train::ScheduleSettings schedule;
  schedule.warmup_steps = 0;
  schedule.total_steps = std::int64_t{1} << 50;
  return schedule;
}

BenchResult sweep_fused_case(const BenchSettings& s, Progress& progress) {
  check_training_bench(s, "sweep-fused");
  const int batch = s.batch > 0 ? s.batch : 4;
  const int tokens = s.tokens > 0 ? s.tokens : 16;
  // Without augmentation the frozen-feature cache applies (to us: the
  // reference has none): the encoder then runs on an image's first visit only.
  const bool cached = s.augment == "off";
  const std::int64_t steps = 6;  // per variant: three passes over the batches
  ScratchDir scratch(s.work_dir);
  const auto bench_models = make_epalm_bench_models(s, progress);
  const auto& decoder = bench_models->decoder;
  const auto& vit = bench_models->vit_config;
  const auto& encoder = bench_models->encoder;
  const auto& oc = decoder.config();
  const auto variants = grid(s.variants, oc.num_layers);
  int deepest = 1;
  for (const auto& v : variants) deepest = std::max(deepest, v.levels);

  auto generator = at::make_generator<at::CPUGeneratorImpl>(s.seed + 1);
  const auto rows = batch * kBatches;
  auto ids = torch::randint(3, oc.vocab_size, {rows, tokens}, generator, torch::kLong);
  ids.select(1, 0).fill_(2);
  auto mask = torch::ones_like(ids);
  for (std::int64_t i = 1; i < rows; i += 2) mask[i].slice(0, tokens - tokens / 4).zero_();
  ids.masked_fill_(mask == 0, 1);
  const auto labels = ids.masked_fill(mask == 0, -100);
  const auto pixels_cpu = torch::randn({rows, 3, vit.image_size, vit.image_size}, generator);
  const auto pixels = pixels_cpu.to(s.device, s.dtype);
  const train::Batch text{{}, ids.to(s.device), mask.to(s.device), labels.to(s.device)};

  // Every variant starts from the same trainables on every side (its seed's).
  auto fresh_models = [&] {
    std::vector<std::unique_ptr<models::EpalmModel>> out;
    for (std::size_t k = 0; k < variants.size(); ++k) {
      out.push_back(std::make_unique<models::EpalmModel>(variants[k], decoder, vit.hidden_size, vit.num_layers,
                                                         s.seed + 3 + k));
    }
    return out;
  };
  std::vector<std::vector<double>> fused_losses, alone_losses;
  int run = 0;  // a fresh cache per timed run: its first computations are part of the sweep
  auto cache_for = [&](int levels) -> std::unique_ptr<data::FeatureCache> {
    if (!cached) return nullptr;
    return std::make_unique<data::FeatureCache>(scratch.path() + "/cache-" + std::to_string(run),
                                                data::FeatureKey{encoder.fingerprint(), levels, "bench random pixels"});
  };
  auto fused = [&] {
    ++run;
    const auto cache = cache_for(deepest);
    auto trained = fresh_models();
    std::vector<std::unique_ptr<train::Trainer>> trainers;
    for (auto& m : trained) {
      trainers.push_back(std::make_unique<train::Trainer>(*m, optimizer_settings(), constant_schedule(), train::TrainSettings{}));
    }
    EncodedBatches source(encoder, deepest, pixels, text, batch, cache.get());
    SharedBatches shared(source);
    std::vector<VariantBatches> views;
    for (const auto& v : variants) views.emplace_back(shared, deepest, v.levels);
    std::vector<train::Trainer*> stepping;
    std::vector<train::BatchSource*> sources;
    for (std::size_t k = 0; k < variants.size(); ++k) {
      stepping.push_back(trainers[k].get());
      sources.push_back(&views[k]);
    }
    fused_losses.assign(variants.size(), {});
    for (std::int64_t step = 0; step < steps; ++step) {
      progress.say("fused: step " + std::to_string(step + 1) + "/" + std::to_string(steps));
      // Packed decoder passes over the variants' rows (what `epalm train --fuse` runs).
      const auto results = train::step_together(stepping, sources);
      for (std::size_t k = 0; k < variants.size(); ++k) fused_losses[k].push_back(results[k].loss);
      shared.forget_before(step + 1);
    }
  };
  auto one_after_another = [&] {
    ++run;
    auto trained = fresh_models();
    alone_losses.assign(variants.size(), {});
    // One cache directory for the sweep, as its cells share one; keyed by each cell's levels.
    std::map<int, std::unique_ptr<data::FeatureCache>> caches;
    for (std::size_t k = 0; k < variants.size(); ++k) {
      auto& cache = caches[variants[k].levels];
      if (!cache) cache = cache_for(variants[k].levels);
      train::Trainer trainer(*trained[k], optimizer_settings(), constant_schedule(), train::TrainSettings{});
      EncodedBatches source(encoder, variants[k].levels, pixels, text, batch, cache.get());
      for (std::int64_t step = 0; step < steps; ++step) {
        progress.say("one after another: variant " + std::to_string(k + 1) + ", step " + std::to_string(step + 1));
        alone_losses[k].push_back(trainer.step(source).loss);
      }
    }
  };

  BenchResult r;
  r.unit = "samples";
  r.tokens_per_run = static_cast<std::int64_t>(variants.size()) * steps * batch;
  r.ours_label = "epalm, fused job";
  r.peer_implementation =
      "PyTorch + transformers ViTModel and OPTForCausalLM (eager attention), eP-ALM injection by hand "
      "(tests/bench/epalm_torch.py), torch.optim.AdamW; the cells one after another in one process";
  // One after another first: RSS retained from it counts against the fused job's peak, not for it.
  const auto alone = measure(one_after_another, s, progress, "epalm sweep-fused (one after another)");
  r.ours = measure(fused, s, progress, "epalm sweep-fused (fused)");

  // Matrix-multiply work per sample and variant (2·m·n·k), as in
  // epalm-train-step: the ViT to the [CLS] tokens, the decoder forward and its
  // input-gradient backward, the LM head on the targets (ours) or every
  // position (the peer).
  // Ours: the packed pass (real tokens, the prompt once below the first
  // injection; fused, the frozen text once for the variants without a prompt
  // or adapters), a mean over the batches.
  const auto targets = static_cast<double>((labels.slice(1, 1) != -100).sum().item<std::int64_t>()) / kBatches;
  const auto encoder_work = vit_cls_flops(vit, batch);
  double decoder_work = 0, alone_decoder_work = 0, peer_decoder_work = 0;
  for (std::int64_t i = 0; i < kBatches; ++i) {
    const auto real_tokens = real_tokens_per_row(mask.slice(0, i * batch, (i + 1) * batch));
    decoder_work += fused_decoder_train_flops(oc, variants, real_tokens, targets) / kBatches;
    for (const auto& v : variants) alone_decoder_work += packed_decoder_train_flops(oc, v, real_tokens, targets) / kBatches;
  }
  for (const auto& v : variants) {
    const double t = tokens + v.prompt_length + 1, b = batch;  // text, prompt and the perceptual token
    peer_decoder_work += decoder_train_flops(oc, b, t, b * t);
  }
  // Over the whole sweep: the encoder runs per batch and step (fused: once
  // for all variants; alone: per variant), or with the cache on each batch's
  // first visit (fused: once; alone: once per distinct levels).
  std::set<int> distinct_levels;
  for (const auto& v : variants) distinct_levels.insert(v.levels);
  const double count = static_cast<double>(variants.size()), n = static_cast<double>(steps);
  const double fused_encoder_runs = cached ? kBatches : n;
  const double alone_encoder_runs = cached ? kBatches * static_cast<double>(distinct_levels.size()) : n * count;
  const double ours_step = (fused_encoder_runs * encoder_work.ours + n * decoder_work) / n;
  const double alone_step = (alone_encoder_runs * encoder_work.ours + n * alone_decoder_work) / n;
  const double peer_step = encoder_work.peer * count + peer_decoder_work;
  progress.say("GEMM rate (1024^3 products)");
  const double gemm_rate = measure_gemm_rate(s);

  std::ostringstream described;
  for (std::size_t k = 0; k < variants.size(); ++k) {
    const auto& v = variants[k];
    described << (k ? "; " : "") << (v.shared_connector ? "shared" : "per-level") << " " << v.levels << " levels, prompt "
              << v.prompt_length;
  }
  auto fixed = [](double value, int digits) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(digits) << value;
    return out.str();
  };
  r.settings = {
      {"decoder", s.model + " (random weights, seed " + std::to_string(s.seed) + ")"},
      {"encoder", s.encoder + " (random weights)"},
      {"grid", std::to_string(variants.size()) + " variants: " + described.str()},
      {"encoder passes", std::string(cached ? "frozen-feature cache (--augment off): the encoder on each image's first visit "
                                       "(ours; the peer, as the reference, every step)"
                                     : "every step (--augment " + s.augment + ": no cache applies)")},
      {"steps", std::to_string(steps) + " per variant, batches of " + std::to_string(batch) + " images and " +
                    std::to_string(tokens) + " tokens (every other row right-padded by a quarter), cycling over " +
                    std::to_string(kBatches)},
      {"one after another (ours)",
       fixed(alone.median_s * 1e3, 0) + " ms median (" + fixed(alone.median_s / r.ours.median_s, 2) +
           "x the fused job's time); peak " + alone.memory_kind + " " + fixed(alone.peak_bytes / 1048576.0, 0) +
           " MiB (one cell at a time, the frozen models included), the fused job " + fixed(r.ours.peak_bytes / 1048576.0, 0) +
           " MiB (" + fixed(static_cast<double>(r.ours.peak_bytes) / std::max<double>(1.0, alone.peak_bytes), 2) +
           "x one cell's)"},
      {"matmul work", fixed(ours_step / 1e9, 1) + " GFLOP per grid step (mean over the sweep) fused, " + fixed(alone_step / 1e9, 1) +
                          " one after another, the peer " + fixed(peer_step / 1e9, 1) + " (" +
                          fixed(peer_step / ours_step, 2) + "x the fused job's); the encoder is " +
                          fixed(encoder_work.ours / 1e9, 1) + " GFLOP of it once per batch fused, once per variant "
                          "and batch otherwise" + (cached ? " (uncached; the cache runs it on the first pass only)" : "")},
      {"bound", "GEMM " + fixed(gemm_rate / 1e9, 1) + " GFLOP/s (1024^3 products, " +
                    std::to_string(at::get_num_threads()) + " threads): the fused job's matmuls take >= " +
                    fixed(ours_step * steps / gemm_rate * 1e3, 0) + " ms of the " + fixed(r.ours.median_s * 1e3, 0) +
                    " ms measured; at equal efficiency the FLOP ratio " + fixed(peer_step / ours_step, 2) +
                    "x is the speed-up over the peer"},
      {"dtype", dtype_label(s.dtype)},
      {"device", s.device.str()},
      {"threads", std::to_string(at::get_num_threads())},
      {"warmup", std::to_string(s.warmup)},
      {"repetitions", std::to_string(s.repetitions)}};
  r.ours.extra = {{"one_after_another_median_s", alone.median_s}, {"one_after_another_delta_bytes", alone.delta_bytes}};
  // The fused job's first losses against ours one after another: the same
  // trainables and batch, the frozen layers' products over more rows at once
  // (fp32 rounding apart, within the eP-ALM chain's bound); later steps follow
  // trajectories that rounding moves apart (not judged).
  auto loss_depth = [&](const models::EpalmConfig& v) {
    return models::epalm_loss_depth(oc, static_cast<std::int64_t>(targets), tokens + v.prompt_length + 1,
                                    vit.hidden_size, 0, /*fused=*/true);
  };
  double worst_alone = 0, alone_bound = INFINITY;
  bool same = true;
  for (std::size_t k = 0; k < variants.size(); ++k) {
    const double relative =
        std::abs(fused_losses[k].front() - alone_losses[k].front()) / std::max(1e-12, std::abs(alone_losses[k].front()));
    worst_alone = std::max(worst_alone, relative);
    alone_bound = std::min(alone_bound, models::two_orders(loss_depth(variants[k])));
    same = same && relative <= models::two_orders(loss_depth(variants[k]));
  }
  std::ostringstream check;
  check << "fused and one-after-another first losses " << (same ? "agree" : "DISAGREE") << " (largest relative "
        << "difference " << worst_alone << ", smallest bound " << alone_bound << ")";
  r.agree = same;
  if (s.peer) {
    progress.say("writing the weights, trainables and inputs for the peer");
    bench_models->write_for_peer(scratch.path(), s.dtype);
    nlohmann::json layouts = nlohmann::json::array();
    const auto initial = fresh_models();
    for (std::size_t k = 0; k < variants.size(); ++k) {
      layouts.push_back(peer_variant(variants[k]));
      std::vector<std::pair<std::string, at::Tensor>> values;
      for (const auto& [name, p] : initial[k]->named_parameters()) values.emplace_back(name, p.detach().cpu());
      safetensors::write_safetensors(scratch.path() + "/trainables-" + std::to_string(k) + ".safetensors", values);
    }
    const auto inputs = scratch.path() + "/inputs.safetensors";
    safetensors::write_safetensors(
        inputs, {{"pixel_values", pixels_cpu}, {"input_ids", ids}, {"attention_mask", mask}, {"labels", labels}});
    const auto o = optimizer_settings();
    r.peer = run_peer(s, "epalm_sweep_peer.py",
                      {"--checkpoint", scratch.path() + "/decoder", "--encoder", scratch.path() + "/encoder", "--inputs",
                       inputs, "--trainables", scratch.path() + "/trainables-{k}.safetensors", "--variant",
                       layouts.dump(), "--batch", std::to_string(batch), "--batches", std::to_string(kBatches),
                       "--steps", std::to_string(steps), "--lr", std::to_string(o.lr), "--weight-decay",
                       std::to_string(o.weight_decay), "--warmup", std::to_string(s.warmup), "--repetitions",
                       std::to_string(s.repetitions), "--threads", std::to_string(at::get_num_threads()), "--dtype",
                       dtype_label(s.dtype), "--device", s.device.str()},
                      progress);
    // Each variant's first loss: the same weights, trainables and batch on
    // both sides, within the rounding of the ViT and eP-ALM chains
    // (models/rounding_bounds.h, as epalm-train-step bounds it); later steps
    // follow trajectories that rounding moves apart (reported, not judged).
    const auto peer_first = r.peer->extra["digest"].value("first_losses", std::vector<double>{});
    double worst = 0, bound = INFINITY;
    bool first_agree = peer_first.size() == variants.size();
    // Our encoder runs the auto kernel: fused attention (attention_kernel.h).
    const double encoder_depth = models::vit_depth(vit, vit.num_patches() + 1, -1,
                                                   models::unmasked_attention_is_fused(models::AttentionKernel::kAuto));
    for (std::size_t k = 0; first_agree && k < variants.size(); ++k) {
      const double depth = encoder_depth + loss_depth(variants[k]);
      const double relative = std::abs(fused_losses[k].front() - peer_first[k]) / std::max(1e-12, std::abs(peer_first[k]));
      worst = std::max(worst, relative);
      bound = std::min(bound, models::two_orders(depth));
      first_agree = relative <= models::two_orders(depth);
    }
    r.agree = r.agree && first_agree;
    check << "; first-step losses " << (first_agree ? "agree" : "DISAGREE") << " with the peer's (largest relative "
          << "difference " << worst << ", bound " << bound << ")";
  }
  r.check = check.str();
  return r;
}

}  // namespace

std::vector<BenchCase> sweep_fused_bench_cases() {
  return {{"sweep-fused",
           "an ablation grid (--variants 4: connector sharing x levels 3/6; 8: connector sharing x prompt 0/1/5/10) "
           "trained 6 steps a variant "
           "as one fused job vs one after another (ours, and the peer's), samples/s (default: opt-125m + "
           "vit-base-patch16-224, batches of 4 images and 16 tokens; --augment off: the frozen-feature cache serves, "
           "crop-flip: the encoder runs every step)",
           sweep_fused_case, "opt-125m"}};
}

}  // namespace epalm::experiments
