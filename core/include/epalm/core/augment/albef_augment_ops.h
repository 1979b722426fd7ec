// The pixel side of ALBEF's RandomAugment (dataset/randaugment.py), on an
// 8-bit RGB picture as ALBEF's numpy array (height x width x 3, rows top to
// bottom, changed in place), with the OpenCV calls ALBEF makes:
//   AutoContrast  per channel, min/max stretch by a lookup table. ALBEF
//                 negates the uint8 minimum, which wraps (-low is 256 - low):
//                 a channel whose minimum is above 0 saturates to 255. Kept.
//   Equalize      per channel, PIL's equalize rule on cv::calcHist's histogram
//   Brightness    table (float32(v) * factor), cut to [0, 255], truncated
//   Sharpness     cv::filter2D with the 3x3 kernel [1 1 1; 1 5 1; 1 1 1] / 13,
//                 then degenerate + factor * (image - degenerate) in float32 on
//                 the inner pixels, cast to uint8 as numpy does (truncated,
//                 wrapping modulo 256 outside [0, 256): no clipping)
//   ShearX/Y, TranslateX/Y, Rotate
//                 cv::warpAffine (bilinear, constant border 128) with ALBEF's
//                 float32 matrices; Rotate by cv::getRotationMatrix2D about
//                 (width / 2, height / 2), counter-clockwise for positive degrees
// Torch-free; media_inputs.cpp calls it on the resized training picture.
#pragma once

#include <cstdint>

#include "epalm/core/augment/rand_augment.h"

namespace epalm::augment {

// One op with its argument (albef_op_argument's value). Throws epalm::Error
// naming `where` for an empty picture.
void apply_albef_op(std::uint8_t* pixels, std::int64_t height, std::int64_t width, AlbefOp op, double argument,
                    const char* where = "image");

// Every applied step of `draw`, in order.
void apply_albef_rand_augment(std::uint8_t* pixels, std::int64_t height, std::int64_t width,
                              const AlbefRandAugment& draw, const char* where = "image");

}  // namespace epalm::augment
