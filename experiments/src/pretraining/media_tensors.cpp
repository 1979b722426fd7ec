#include "pretraining/media_tensors.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <mutex>

namespace epalm::experiments::pretraining {

at::Tensor prepare_media(const std::vector<LabelledMedia>& items, const media::MediaSettings& settings,
                         const ProgressMeter& meter, std::int64_t done_before) {
  auto shape = settings.input_shape();
  const auto n = static_cast<std::int64_t>(items.size());
  shape.insert(shape.begin(), n);
  auto out = torch::empty(shape, torch::kFloat);
  std::int64_t done = 0;
  std::mutex report;
  const std::int64_t every = std::max<std::int64_t>(1, n / 20);
  at::parallel_for(0, n, 1, [&](std::int64_t begin, std::int64_t end) {
    for (auto i = begin; i < end; ++i) {
      data::Sample sample;
      sample.id = std::to_string(i);
      sample.media_id = sample.id;
      sample.media = items[static_cast<std::size_t>(i)].path;
      out[i].copy_(media::media_input(sample, settings, /*sample_seed=*/0));  // no augmentation: the seed is unused
      std::lock_guard<std::mutex> lock(report);  // reports in order
      const auto finished = ++done;
      if (finished % every == 0 || finished == n) meter.report(done_before + finished);
    }
  });
  return out;
}

}  // namespace epalm::experiments::pretraining
