// The pixel side of torchvision's RandAugment on uint8 tensors [..., 3, H, W]
// (a clip [T, 3, H, W] gets the same op and magnitude on every frame), the
// operations of torchvision's tensor path (transforms/autoaugment.py
// _apply_op and _functional_tensor.py, torchvision 0.27) in the same order
// and dtypes: affine ops by an inverse affine grid and grid_sample (nearest,
// zero fill), colour ops by float32 blends truncated back to uint8, per-image
// statistics (contrast mean, autocontrast range, equalize histogram) per frame.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "epalm/core/augment/rand_augment.h"

namespace epalm::augment {

// RandAugment._augmentation_space's magnitude of `op` in bin `bin` of
// `num_bins` (unsigned) for a picture of height x width.
double torchvision_op_magnitude(TorchvisionOp op, std::int64_t bin, std::int64_t num_bins, std::int64_t height,
                                std::int64_t width);

// _apply_op(images, op, magnitude, NEAREST, fill=None). Throws epalm::Error
// naming `where` for anything but uint8 [..., 3, H, W].
at::Tensor apply_torchvision_op(const at::Tensor& images, TorchvisionOp op, double magnitude,
                                const char* where = "video");

// RandAugment.forward with the drawn steps.
at::Tensor apply_torchvision_rand_augment(const at::Tensor& images, const TorchvisionRandAugment& draw,
                                          const char* where = "video");

}  // namespace epalm::augment
