// `epalm bench data` (images) and `data-video` (clips): our DataLoader's
// throughput on generated COCO-sized JPEGs / MSR-VTT-sized H.264 clips with
// the reference's evaluation transforms, against a PyTorch DataLoader running
// the same transforms in Python (PIL, PyAV), and against what one training
// step consumes: the frozen encoder's forward pass on a batch (ViT-B/16 or
// TimeSformer-base, random weights), the least work a step does per batch.
#include <torch/torch.h>

#include <iomanip>
#include <sstream>

#include "epalm/experiments/bench/bench.h"
#include "epalm/core/data/data_loader.h"
#include "epalm/core/data/datasets.h"
#include "epalm/core/error.h"
#include "epalm/core/models/timesformer.h"
#include "epalm/core/models/vit.h"
#include "epalm/experiments/model_families.h"
#include "epalm/analysis/table.h"

namespace epalm::experiments {


namespace {

using analysis::fixed;

struct DataCase {
  std::string kind;       // the peer's --kind: image or video
  std::string task;       // read_dataset's task for the generated root
  std::string unit;       // images or clips
  int default_samples;
  int default_batch;
};

BenchResult run_data_case(const DataCase& c, const BenchSettings& s, Progress& progress) {
  if (s.tokens > 0 || s.new_tokens > 0) {
    throw UsageError(s.tokens > 0 ? "--tokens" : "--new-tokens", "data cases take --batch, --samples and --loader-threads");
  }
  const int samples = s.samples > 0 ? s.samples : c.default_samples;
  const int batch = s.batch > 0 ? s.batch : c.default_batch;
  ScratchDir scratch(s.work_dir);
  const auto root = scratch.path() + "/data";
  progress.say("making " + std::to_string(samples) + " " + c.unit + " with the peer script");
  run_peer(s, "data_peer.py", {"make", "--dir", root, "--kind", c.kind, "--count", std::to_string(samples)}, progress);

  const auto dataset = data::read_dataset({c.task, root, "bench"});
  auto media = media::MediaSettings::for_task(c.task, /*train=*/s.augment != "off");
  media.rand_augment = s.augment == "rand-augment";
  data::LoaderSettings settings;
  settings.batch_size = batch;
  settings.threads = s.loader_threads;
  settings.prefetch = 2;
  settings.pin_memory = s.device.is_cuda();
  data::DataLoader loader(dataset, media, settings);

  BenchResult r;
  r.unit = c.unit;
  r.tokens_per_run = static_cast<std::int64_t>(dataset.samples.size());
  r.peer_implementation = "PyTorch DataLoader (persistent workers) running the reference's transforms in Python";
  r.peer_label = "PyTorch DataLoader";
  std::int64_t seen = 0;
  at::Tensor first;
  r.ours = measure(
      [&] {
        seen = 0;
        loader.start_epoch(0);
        while (auto b = loader.next()) {
          seen += b->inputs.size(0);
          if (!first.defined()) first = b->inputs;
        }
      },
      s, progress, "epalm data loader");

  // What a training step consumes at least: the frozen encoder's forward on one batch.
  progress.say("timing the encoder's forward pass on one batch");
  const auto inputs = first.to(s.device, s.dtype);
  std::unique_ptr<models::Encoder> encoder;
  if (c.kind == "image") {
    encoder = std::make_unique<models::VitModel>(
        models::VitModel::random(models::VitConfig::preset("vit_base_patch16_224"), s.dtype, s.device, s.seed));
  } else {
    auto config = models::TimesformerConfig::preset("timesformer-base");
    config.num_frames = media.num_frames;
    encoder = std::make_unique<models::TimesformerModel>(models::TimesformerModel::random(config, s.dtype, s.device, s.seed));
  }
  BenchSettings step_settings = s;
  step_settings.repetitions = std::max(1, std::min(s.repetitions, 3));
  const auto step = measure(
      [&] {
        torch::NoGradGuard no_grad;
        encoder->forward(inputs);
      },
      step_settings, progress, "encoder forward");
  const double loader_rate = r.ours.median_s > 0 ? static_cast<double>(r.tokens_per_run) / r.ours.median_s : 0;
  const double step_rate = step.median_s > 0 ? static_cast<double>(batch) / step.median_s : 0;
  r.ours.extra = {{"encoder_forward_median_s", step.median_s},
                  {"encoder_" + c.unit + "_per_s", step_rate},
                  {"loader_over_encoder", step_rate > 0 ? loader_rate / step_rate : 0}};

  r.settings = {{"data", std::to_string(dataset.samples.size()) + " " + c.unit + " (" +
                             (c.kind == "image" ? "640 x 480 JPEG, quality 90" : "320 x 240 H.264 MP4, 150 frames") + ")"},
                {"transform", s.augment == "off"
                                  ? (c.kind == "image" ? "Resize((224,224), bicubic) + Normalize: [3, 224, 224]"
                                                       : std::to_string(media.num_frames) +
                                                             " middle frames, tensor Resize((224,224), bicubic): [" +
                                                             std::to_string(media.num_frames) + ", 3, 224, 224]")
                                  : std::string("training's: ") +
                                        (c.kind == "image" ? "RandomResizedCrop + flip" : "random frames, RandomResizedCrop + flip") +
                                        (media.rand_augment ? (c.kind == "image" ? " + ALBEF RandomAugment(2, 7)"
                                                                                 : " + torchvision RandAugment()")
                                                            : "") +
                                        " (the peer: evaluation's)"},
                {"batch", std::to_string(batch)},
                {"loader threads (peer workers)", std::to_string(s.loader_threads)},
                {"device", s.device.str() + (settings.pin_memory ? " (pinned batches)" : "")},
                {"encoder forward per batch", fixed(step.median_s * 1e3, 1) + " ms = " + fixed(step_rate, 1) + " " + c.unit +
                                                  "/s (" + (c.kind == "image" ? "ViT-B/16" : "TimeSformer-base") + ", " +
                                                  dtype_label(s.dtype) + ", the least one training step does)"},
                {"loader / encoder", fixed(step_rate > 0 ? loader_rate / step_rate : 0, 1) + " x"},
                {"warmup", std::to_string(s.warmup)},
                {"repetitions", std::to_string(s.repetitions)}};
  r.check = "every pass yields " + std::to_string(seen) + " " + c.unit;
  r.agree = seen == r.tokens_per_run;
  if (!s.peer) return r;
  r.peer = run_peer(s, "data_peer.py",
                    {"time", "--dir", root, "--kind", c.kind, "--batch", std::to_string(batch), "--workers",
                     std::to_string(s.loader_threads), "--frames", std::to_string(media.num_frames), "--warmup",
                     std::to_string(s.warmup), "--repetitions", std::to_string(s.repetitions)},
                    progress);
  const auto peer_seen = r.peer->extra["digest"].value("samples", -1);
  r.agree = r.agree && peer_seen == r.tokens_per_run;
  r.check += "; the peer's pass yields " + std::to_string(peer_seen);
  return r;
}

}  // namespace

std::vector<BenchCase> data_bench_cases() {
  const DataCase images{"image", "vqa", "images", 256, 32};
  const DataCase clips{"video", "msrvtt-qa", "clips", 32, 8};
  return {
      {"data", "data loading, images/s: JPEG decode + the reference's transform, vs PyTorch + PIL and the ViT",
       [images](const BenchSettings& s, Progress& p) { return run_data_case(images, s, p); }, "(none)"},
      {"data-video", "data loading, clips/s: H.264 decode of 8 frames + transform, vs PyTorch + PyAV and the TimeSformer",
       [clips](const BenchSettings& s, Progress& p) { return run_data_case(clips, s, p); }, "(none)"},
  };
}

}  // namespace epalm::experiments
