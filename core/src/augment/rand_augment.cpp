#include "epalm/core/augment/rand_augment.h"

namespace epalm::augment {

const char* albef_op_name(AlbefOp op) {
  switch (op) {
    case AlbefOp::kIdentity: return "Identity";
    case AlbefOp::kAutoContrast: return "AutoContrast";
    case AlbefOp::kEqualize: return "Equalize";
    case AlbefOp::kBrightness: return "Brightness";
    case AlbefOp::kSharpness: return "Sharpness";
    case AlbefOp::kShearX: return "ShearX";
    case AlbefOp::kShearY: return "ShearY";
    case AlbefOp::kTranslateX: return "TranslateX";
    case AlbefOp::kTranslateY: return "TranslateY";
    case AlbefOp::kRotate: return "Rotate";
  }
  return "?";
}

bool albef_op_signed(AlbefOp op) {
  return op == AlbefOp::kShearX || op == AlbefOp::kShearY || op == AlbefOp::kTranslateX ||
         op == AlbefOp::kTranslateY || op == AlbefOp::kRotate;
}

AlbefRandAugment sample_albef_rand_augment(Random& random, int num_ops, double level) {
  AlbefRandAugment draw;
  draw.level = level;
  draw.steps.resize(static_cast<std::size_t>(num_ops));
  for (auto& step : draw.steps) step.op = static_cast<AlbefOp>(random.integer(0, kAlbefOpCount - 1));
  for (auto& step : draw.steps) {
    step.applied = random.coin(0.5);
    if (step.applied && albef_op_signed(step.op)) step.negative = random.coin(0.5);
  }
  return draw;
}

double albef_op_argument(AlbefOp op, bool negative, double level) {
  // The expressions of ALBEF's level_to_args, in its order (bit-equal doubles).
  constexpr double kMaxLevel = 10;
  double value = 0;
  switch (op) {
    case AlbefOp::kBrightness:
    case AlbefOp::kSharpness: return (level / kMaxLevel) * 1.8 + 0.1;
    case AlbefOp::kShearX:
    case AlbefOp::kShearY: value = (level / kMaxLevel) * 0.3; break;
    case AlbefOp::kTranslateX:
    case AlbefOp::kTranslateY: value = (level / kMaxLevel) * 10.0; break;
    case AlbefOp::kRotate: value = (level / kMaxLevel) * 30; break;
    default: return 0;
  }
  return negative ? -value : value;
}

const char* torchvision_op_name(TorchvisionOp op) {
  switch (op) {
    case TorchvisionOp::kIdentity: return "Identity";
    case TorchvisionOp::kShearX: return "ShearX";
    case TorchvisionOp::kShearY: return "ShearY";
    case TorchvisionOp::kTranslateX: return "TranslateX";
    case TorchvisionOp::kTranslateY: return "TranslateY";
    case TorchvisionOp::kRotate: return "Rotate";
    case TorchvisionOp::kBrightness: return "Brightness";
    case TorchvisionOp::kColor: return "Color";
    case TorchvisionOp::kContrast: return "Contrast";
    case TorchvisionOp::kSharpness: return "Sharpness";
    case TorchvisionOp::kPosterize: return "Posterize";
    case TorchvisionOp::kSolarize: return "Solarize";
    case TorchvisionOp::kAutoContrast: return "AutoContrast";
    case TorchvisionOp::kEqualize: return "Equalize";
  }
  return "?";
}

bool torchvision_op_signed(TorchvisionOp op) {
  switch (op) {
    case TorchvisionOp::kShearX:
    case TorchvisionOp::kShearY:
    case TorchvisionOp::kTranslateX:
    case TorchvisionOp::kTranslateY:
    case TorchvisionOp::kRotate:
    case TorchvisionOp::kBrightness:
    case TorchvisionOp::kColor:
    case TorchvisionOp::kContrast:
    case TorchvisionOp::kSharpness: return true;
    default: return false;
  }
}

TorchvisionRandAugment sample_torchvision_rand_augment(Random& random, int num_ops, std::int64_t magnitude,
                                                       std::int64_t num_bins) {
  TorchvisionRandAugment draw;
  draw.magnitude = magnitude;
  draw.num_bins = num_bins;
  for (int i = 0; i < num_ops; ++i) {
    TorchvisionStep step;
    step.op = static_cast<TorchvisionOp>(random.integer(0, kTorchvisionOpCount - 1));
    if (torchvision_op_signed(step.op)) step.negative = random.coin(0.5);
    draw.steps.push_back(step);
  }
  return draw;
}

}  // namespace epalm::augment
