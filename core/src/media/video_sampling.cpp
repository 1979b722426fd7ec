#include <algorithm>
#include <numeric>
#include <random>

#include "epalm/core/error.h"
#include "epalm/core/media/video_preprocessing.h"

namespace epalm::media {

FrameSampling parse_frame_sampling(const std::string& name) {
  if (name == "middle") return FrameSampling::kMiddle;
  if (name == "rand" || name == "random") return FrameSampling::kRandom;
  throw UsageError("frame sampling", "unknown sampling '" + name + "' (use middle or rand)");
}

std::vector<std::int64_t> sample_frame_indices(std::int64_t num_frames, std::int64_t video_length,
                                               FrameSampling sampling, std::uint64_t seed) {
  if (num_frames < 1) throw Error("frame sampling", "num_frames must be positive, not " + std::to_string(num_frames));
  if (video_length < 1) throw Error("frame sampling", "the video has no frames");
  const std::int64_t samples = std::min(num_frames, video_length);
  // np.linspace(0, length, samples + 1).astype(int): i * (length / samples), the last exactly length.
  const double step = static_cast<double>(video_length) / static_cast<double>(samples);
  std::vector<std::int64_t> bounds(samples + 1);
  for (std::int64_t i = 0; i < samples; ++i) bounds[i] = static_cast<std::int64_t>(static_cast<double>(i) * step);
  bounds[samples] = video_length;
  std::vector<std::int64_t> indices;
  indices.reserve(num_frames);
  if (sampling == FrameSampling::kMiddle) {
    for (std::int64_t i = 0; i < samples; ++i) indices.push_back((bounds[i] + bounds[i + 1] - 1) / 2);
  } else {
    std::mt19937_64 rng(seed);
    bool fits = true;
    for (std::int64_t i = 0; i < samples; ++i) fits = fits && bounds[i + 1] - 1 > bounds[i];
    if (fits) {
      // random.choice(range(start, end - 1)) per interval
      for (std::int64_t i = 0; i < samples; ++i) {
        std::uniform_int_distribution<std::int64_t> pick(bounds[i], bounds[i + 1] - 2);
        indices.push_back(pick(rng));
      }
    } else {
      // np.random.permutation(length)[:samples], sorted
      std::vector<std::int64_t> all(video_length);
      std::iota(all.begin(), all.end(), 0);
      std::shuffle(all.begin(), all.end(), rng);
      indices.assign(all.begin(), all.begin() + samples);
      std::sort(indices.begin(), indices.end());
    }
  }
  while (static_cast<std::int64_t>(indices.size()) < num_frames) indices.push_back(indices.back());
  return indices;
}

}  // namespace epalm::media
