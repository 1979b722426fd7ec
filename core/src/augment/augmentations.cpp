#include "epalm/core/augment/augmentations.h"

#include <algorithm>
#include <cmath>

namespace epalm::augment {

namespace {

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::uint64_t sample_seed(std::uint64_t seed, std::int64_t epoch, std::uint64_t index) {
  return splitmix(splitmix(splitmix(seed) ^ static_cast<std::uint64_t>(epoch)) ^ index);
}

double Random::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Random::uniform(double low, double high) { return low + (high - low) * uniform(); }

std::int64_t Random::integer(std::int64_t low, std::int64_t high) {
  const auto span = static_cast<std::uint64_t>(high - low) + 1;
  return low + static_cast<std::int64_t>(next() % span);  // bias < span / 2^64
}

CropBox random_resized_crop_box(std::int64_t height, std::int64_t width, Random& random, double scale_min,
                                double scale_max, double ratio_min, double ratio_max) {
  const double area = static_cast<double>(height * width);
  const double log_min = std::log(ratio_min), log_max = std::log(ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * random.uniform(scale_min, scale_max);
    const double aspect = std::exp(random.uniform(log_min, log_max));
    const auto w = static_cast<std::int64_t>(std::nearbyint(std::sqrt(target * aspect)));  // Python round(): half to even
    const auto h = static_cast<std::int64_t>(std::nearbyint(std::sqrt(target / aspect)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      CropBox box;
      box.height = h;
      box.width = w;
      box.top = random.integer(0, height - h);
      box.left = random.integer(0, width - w);
      return box;
    }
  }
  // Fallback: the whole image's largest centered crop within the ratio range.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  CropBox box;
  if (in_ratio < ratio_min) {
    box.width = width;
    box.height = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(width) / ratio_min));
  } else if (in_ratio > ratio_max) {
    box.height = height;
    box.width = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(height) * ratio_max));
  } else {
    box.width = width;
    box.height = height;
  }
  box.top = (height - box.height) / 2;
  box.left = (width - box.width) / 2;
  return box;
}

MaskBand spec_augment_band(std::int64_t size, std::int64_t max_width, Random& random) {
  const double value = random.uniform() * static_cast<double>(max_width);
  const double start = random.uniform() * (static_cast<double>(size) - value);
  MaskBand band;
  band.start = std::max<std::int64_t>(0, static_cast<std::int64_t>(start));
  band.end = std::min<std::int64_t>(size, band.start + static_cast<std::int64_t>(value));
  return band;
}

}  // namespace epalm::augment
