// Training augmentations' random parameters, drawn from a generator seeded by
// (seed, epoch, sample index) only, so a sample's augmentation does not depend
// on threads, ranks or the order samples are loaded in. The pixels are
// changed in media_inputs.cpp.
#pragma once

#include <cstdint>
#include <random>

namespace epalm::augment {

// SplitMix64-mixed seed for one sample's generator.
std::uint64_t sample_seed(std::uint64_t seed, std::int64_t epoch, std::uint64_t index);

// A small, portable generator: the same numbers with every standard library.
class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t next() { return engine_(); }
  double uniform();                                   // [0, 1)
  double uniform(double low, double high);            // [low, high)
  std::int64_t integer(std::int64_t low, std::int64_t high);  // [low, high], inclusive
  bool coin(double p = 0.5) { return uniform() < p; }

 private:
  std::mt19937_64 engine_;
};

// A crop of an image: rows [top, top + height), columns [left, left + width).
struct CropBox {
  std::int64_t top = 0, left = 0, height = 0, width = 0;
};

// torchvision's RandomResizedCrop.get_params: up to 10 tries of an area in
// `scale` of the image's and a log-uniform aspect ratio in `ratio`, else the
// largest centered crop with the ratio clamped to `ratio`.
CropBox random_resized_crop_box(std::int64_t height, std::int64_t width, Random& random, double scale_min = 0.5,
                                double scale_max = 1.0, double ratio_min = 3.0 / 4.0, double ratio_max = 4.0 / 3.0);

// torchaudio's FrequencyMasking / TimeMasking (iid_masks=False) on an axis of
// `size`: value = U(0, 1) * max_width, start = floor(U(0, 1) * (size - value)),
// the band [start, start + floor(value)) is zeroed.
struct MaskBand {
  std::int64_t start = 0, end = 0;
};
MaskBand spec_augment_band(std::int64_t size, std::int64_t max_width, Random& random);

}  // namespace epalm::augment
