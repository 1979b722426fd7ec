// `epalm bench vit-forward`: our ViT against transformers' ViTModel (eager
// attention) on the same weights, images and threads.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "epalm/experiments/bench/bench.h"
#include "epalm/core/models/rounding_bounds.h"
#include "epalm/core/error.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "epalm/experiments/model_families.h"
#include "bench/peer_checkpoints.h"
#include "epalm/experiments/model_families/vit_family.h"

namespace epalm::experiments {


namespace {

BenchResult forward_case(const BenchSettings& s, Progress& progress) {
  if (s.tokens > 0 || s.new_tokens > 0) {
    throw UsageError(s.tokens > 0 ? "--tokens" : "--new-tokens",
                     "vit-forward takes images of the model's size: set --batch only");
  }
  const int batch = s.batch > 0 ? s.batch : 8;
  const auto source = resolve_model_source(s.model);
  if (source.model_type != "vit") throw UsageError("--model", "'" + s.model + "' is not a ViT model");
  const auto config = vit_config_of(source);
  ScratchDir scratch(s.work_dir);
  std::string checkpoint;
  std::optional<models::VitModel> model;
  if (source.is_directory()) {
    progress.say("loading " + source.directory);
    model.emplace(models::VitModel::from_pretrained(source.directory, s.dtype, s.device));
    checkpoint = source.directory;
  } else {
    progress.say("random weights: " + source.preset);
    const auto weights = vit_random_weights(config, s.seed);
    std::map<std::string, at::Tensor> ours;
    for (const auto& [name, t] : weights) ours[name] = t.to(s.device, s.dtype);
    model.emplace(config, ours);
    if (s.peer) {
      progress.say("writing the random weights for the peer");
      checkpoint = scratch.path() + "/checkpoint";
      write_vit_checkpoint(config, weights, s.dtype, checkpoint);
    }
  }
  auto generator = at::make_generator<at::CPUGeneratorImpl>(s.seed + 1);
  const auto pixels_cpu =
      torch::randn({batch, config.num_channels, config.image_size, config.image_size}, generator, torch::kFloat);
  const auto inputs = scratch.path() + "/inputs.safetensors";
  safetensors::write_safetensors(inputs, {{"pixel_values", pixels_cpu}});
  const auto pixels = pixels_cpu.to(s.device, s.dtype);

  BenchResult r;
  r.unit = "images";
  r.tokens_per_run = batch;
  r.peer_implementation = "PyTorch + transformers ViTModel (no pooler), eager attention, no_grad";
  r.settings = {
      {"model", s.model + (source.is_directory() ? "" : " (random weights, seed " + std::to_string(s.seed) + ")")},
      {"architecture", std::to_string(config.num_layers) + " layers, hidden " + std::to_string(config.hidden_size) +
                           ", patch " + std::to_string(config.patch_size) + ", " +
                           std::to_string(config.num_positions()) + " tokens per image"},
      {"batch", std::to_string(batch)},
      {"image", std::to_string(config.image_size) + " x " + std::to_string(config.image_size)},
      {"dtype", dtype_label(s.dtype)},
      {"device", s.device.str()},
      {"threads", std::to_string(at::get_num_threads())},
      {"attention", attention_label(s.attention)},
      {"warmup", std::to_string(s.warmup)},
      {"repetitions", std::to_string(s.repetitions)}};
  models::VitForwardOptions options;
  options.attention_kernel = s.attention;
  at::Tensor last;
  r.ours = measure(
      [&] {
        torch::NoGradGuard no_grad;
        last = model->forward(pixels, options).last_hidden_state;
      },
      s, progress, "epalm vit-forward");
  const auto cls = last.select(1, 0).to(torch::kFloat).cpu();
  const double ours_mean_abs = last.to(torch::kFloat).abs().mean().item<double>();
  r.ours.extra = {{"digest", {{"last_hidden_state_mean_abs", ours_mean_abs}}}};
  if (!s.peer) return r;
  r.peer = run_peer(s, "vit_peer.py",
                    {"--checkpoint", checkpoint, "--inputs", inputs, "--warmup", std::to_string(s.warmup),
                     "--repetitions", std::to_string(s.repetitions), "--threads", std::to_string(at::get_num_threads()),
                     "--dtype", dtype_label(s.dtype), "--device", s.device.str()},
                    progress);
  auto& d = r.peer->extra["digest"];
  const double peer_mean_abs = d.value("last_hidden_state_mean_abs", kNoValue);
  double cls_error = INFINITY;
  if (d.contains("cls")) {
    const auto rows = d["cls"].get<std::vector<std::vector<float>>>();
    at::Tensor peer_cls = torch::empty({static_cast<std::int64_t>(rows.size()),
                                        rows.empty() ? 0 : static_cast<std::int64_t>(rows[0].size())});
    for (std::size_t i = 0; i < rows.size(); ++i) {
      peer_cls[static_cast<std::int64_t>(i)] = torch::tensor(rows[i]);
    }
    if (peer_cls.sizes() == cls.sizes()) cls_error = (peer_cls - cls).abs().max().item<double>();
    d.erase("cls");  // the record keeps the summary, not every value
  }
  // Each output of either side lies within its rounding chain
  // (models/rounding_bounds.h) of the exact value, relative to the largest
  // |output|; the mean |output| adds its own fp32 sum's rounding.
  const double depth = models::vit_depth(config, config.num_positions(), -1, s.attention != models::AttentionKernel::kEager);
  const double scale = last.to(torch::kFloat).abs().max().item<double>();
  const double element =
      (s.dtype == c10::kFloat
           ? models::two_orders(depth)
           : 2 * models::mixed_gamma(depth, models::kBlockBf16Roundings * static_cast<double>(config.num_layers) + 4)) *
      scale;
  const double mean_bound = element + models::two_orders(static_cast<double>(last.numel())) * ours_mean_abs;
  const double mean_error = std::abs(ours_mean_abs - peer_mean_abs);
  d["cls_max_abs_error"] = cls_error;
  r.agree = cls_error <= element && mean_error <= mean_bound;
  std::ostringstream check;
  check << "[CLS] outputs " << (r.agree ? "agree" : "DISAGREE") << ": max |difference| " << cls_error << " (bound "
        << element << ") over " << cls.numel() << " values, mean |output| " << ours_mean_abs << " vs " << peer_mean_abs
        << " (difference " << mean_error << ", bound " << mean_bound << "; the rounding chain of " << depth
        << " terms)";
  r.check = check.str();
  return r;
}

}  // namespace

std::vector<BenchCase> vit_bench_cases() {
  return {
      {"vit-forward",
       "ViT forward pass to last_hidden_state, images/s (default: vit-base-patch16-224 random weights, batch 8 of "
       "224 x 224)",
       forward_case, "vit-base-patch16-224"},
  };
}

}  // namespace epalm::experiments
