// RandAugment's random draws (which ops, which signs), kept apart from the
// pixel work so both can be tested. Two variants, as the eP-ALM reference
// trains (docs/epalm.md, Inputs):
//   - images: ALBEF's RandomAugment(N=2, M=7, augs=[Identity, AutoContrast,
//     Equalize, Brightness, Sharpness, ShearX, ShearY, TranslateX,
//     TranslateY, Rotate]): N ops drawn with replacement, each applied with
//     probability 0.5, geometric ones with a random sign. Pixels:
//     albef_augment_ops.h.
//   - video: torchvision's RandAugment() defaults (2 ops with replacement out
//     of 14, magnitude bin 9 of 31, signed ops with a random sign), the same
//     draw for every frame of a clip. Pixels: torchvision_augment_ops.h.
// The draws come from the sample's augment::Random, after its crop and flip.
#pragma once

#include <cstdint>
#include <vector>

#include "epalm/core/augment/augmentations.h"

namespace epalm::augment {

// ALBEF's ops, in the order of the reference's `augs` list.
enum class AlbefOp { kIdentity, kAutoContrast, kEqualize, kBrightness, kSharpness, kShearX, kShearY, kTranslateX, kTranslateY, kRotate };
constexpr int kAlbefOpCount = 10;
const char* albef_op_name(AlbefOp op);

struct AlbefStep {
  AlbefOp op = AlbefOp::kIdentity;
  bool applied = false;   // the p = 0.5 coin; false: the op is skipped
  bool negative = false;  // ShearX/Y, TranslateX/Y, Rotate: the sign of the argument
};

struct AlbefRandAugment {
  double level = 7;  // M, out of ALBEF's MAX_LEVEL 10
  std::vector<AlbefStep> steps;
};

// ALBEF's RandomAugment.__call__'s draws: `num_ops` ops first, then each op's
// coin and, when applied and geometric, its sign.
AlbefRandAugment sample_albef_rand_augment(Random& random, int num_ops = 2, double level = 7);

// ALBEF's level_to_args at `level` of 10: the enhance factor (level/10*1.8+0.1),
// shear factor (level/10*0.3), translation in pixels (level/10*10), rotation
// in degrees (level/10*30), negated when `negative`; 0 for the ops without one.
double albef_op_argument(AlbefOp op, bool negative, double level);
bool albef_op_signed(AlbefOp op);

// torchvision's RandAugment ops, in its _augmentation_space order.
enum class TorchvisionOp {
  kIdentity, kShearX, kShearY, kTranslateX, kTranslateY, kRotate, kBrightness, kColor, kContrast, kSharpness,
  kPosterize, kSolarize, kAutoContrast, kEqualize
};
constexpr int kTorchvisionOpCount = 14;
const char* torchvision_op_name(TorchvisionOp op);
bool torchvision_op_signed(TorchvisionOp op);

struct TorchvisionStep {
  TorchvisionOp op = TorchvisionOp::kIdentity;
  bool negative = false;  // signed ops only
};

struct TorchvisionRandAugment {
  std::int64_t magnitude = 9;  // the magnitude bin
  std::int64_t num_bins = 31;
  std::vector<TorchvisionStep> steps;
};

// RandAugment.forward's draws: for each of `num_ops` ops, the op, then a sign
// when the op is signed.
TorchvisionRandAugment sample_torchvision_rand_augment(Random& random, int num_ops = 2, std::int64_t magnitude = 9,
                                                       std::int64_t num_bins = 31);

}  // namespace epalm::augment
