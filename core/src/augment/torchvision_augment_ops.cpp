// torchvision's RandAugment ops on tensors; see torchvision_augment_ops.h.
// Each function follows its torchvision namesake operation for operation, so
// LibTorch runs the same kernels on the same dtypes.
#include "epalm/core/augment/torchvision_augment_ops.h"

#include <torch/torch.h>

#include <array>
#include <cmath>
#include <string>

#include "epalm/core/error.h"

namespace epalm::augment {

namespace {

namespace nnf = torch::nn::functional;

// CPython's math.radians / math.degrees.
double radians(double degrees) { return degrees * (M_PI / 180.0); }
double degrees(double radians) { return radians * (180.0 / M_PI); }

// functional._get_inverse_affine_matrix (inverted=True).
std::array<double, 6> inverse_affine_matrix(std::array<double, 2> center, double angle, std::array<double, 2> translate,
                                            double scale, std::array<double, 2> shear) {
  const double rot = radians(angle), sx = radians(shear[0]), sy = radians(shear[1]);
  const double cx = center[0], cy = center[1], tx = translate[0], ty = translate[1];
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  std::array<double, 6> m = {d, -b, 0.0, -c, a, 0.0};
  for (auto& x : m) x = x / scale;
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
  return m;
}

// _functional_tensor._gen_affine_grid with the output size of the input.
at::Tensor affine_grid(const at::Tensor& theta, std::int64_t w, std::int64_t h) {
  const double half = 0.5;
  auto base = torch::empty({1, h, w, 3}, theta.options());
  const auto wd = static_cast<double>(w), hd = static_cast<double>(h);
  base.select(3, 0).copy_(torch::linspace(-wd * 0.5 + half, wd * 0.5 + half - 1, w, theta.options()));
  base.select(3, 1).copy_(torch::linspace(-hd * 0.5 + half, hd * 0.5 + half - 1, h, theta.options()).unsqueeze_(-1));
  base.select(3, 2).fill_(1);
  const auto rescaled = theta.transpose(1, 2) / torch::tensor({0.5 * wd, 0.5 * hd}, theta.options());
  return base.view({1, h * w, 3}).bmm(rescaled).view({1, h, w, 2});
}

// F_t.affine / F_t.rotate (expand=False) with nearest interpolation, fill=None.
at::Tensor grid_transform(const at::Tensor& images, const std::array<double, 6>& matrix) {
  const auto float_options = torch::TensorOptions().dtype(torch::kFloat).device(images.device());
  const auto theta = torch::tensor(std::vector<double>(matrix.begin(), matrix.end()), float_options).reshape({1, 2, 3});
  const auto shape = images.sizes().vec();
  const auto h = shape[shape.size() - 2], w = shape[shape.size() - 1];
  auto grid = affine_grid(theta, w, h);
  // _cast_squeeze_in: NCHW in the grid's dtype.
  auto batch = images.reshape({-1, shape[shape.size() - 3], h, w}).to(torch::kFloat);
  if (batch.size(0) > 1) grid = grid.expand({batch.size(0), grid.size(1), grid.size(2), grid.size(3)});
  auto out = nnf::grid_sample(batch, grid,
                              nnf::GridSampleFuncOptions().mode(torch::kNearest).padding_mode(torch::kZeros).align_corners(false));
  return torch::round(out).to(images.scalar_type()).reshape(shape);  // _cast_squeeze_out
}

at::Tensor affine(const at::Tensor& images, double angle, std::array<double, 2> translate, std::array<double, 2> shear,
                  const std::array<double, 2>* center_pixels) {
  std::array<double, 2> center = {0.0, 0.0};
  if (center_pixels != nullptr) {
    const auto h = static_cast<double>(images.size(-2)), w = static_cast<double>(images.size(-1));
    center = {1.0 * ((*center_pixels)[0] - w * 0.5), 1.0 * ((*center_pixels)[1] - h * 0.5)};
  }
  return grid_transform(images, inverse_affine_matrix(center, angle, translate, 1.0, shear));
}

at::Tensor blend(const at::Tensor& image1, const at::Tensor& image2, double ratio) {
  return (image1 * ratio + image2 * (1.0 - ratio)).clamp(0, 255).to(image1.scalar_type());
}

at::Tensor rgb_to_grayscale(const at::Tensor& images) {
  const auto r = images.select(-3, 0), g = images.select(-3, 1), b = images.select(-3, 2);
  return (r * 0.2989 + g * 0.587 + b * 0.114).to(images.scalar_type()).unsqueeze(-3);
}

at::Tensor blurred_degenerate(const at::Tensor& images) {
  auto kernel = torch::ones({3, 3}, torch::TensorOptions().dtype(torch::kFloat).device(images.device()));
  kernel[1][1] = 5.0;
  kernel /= kernel.sum();
  const auto channels = images.size(-3);
  kernel = kernel.expand({channels, 1, 3, 3});
  const auto shape = images.sizes().vec();
  const auto batch = images.reshape({-1, channels, shape[shape.size() - 2], shape[shape.size() - 1]});
  auto blurred = nnf::conv2d(batch.to(torch::kFloat), kernel, nnf::Conv2dFuncOptions().groups(channels));
  blurred = torch::round(blurred).to(images.scalar_type());
  auto result = batch.clone();
  result.slice(-2, 1, -1).slice(-1, 1, -1).copy_(blurred);
  return result.reshape(shape);
}

at::Tensor autocontrast(const at::Tensor& images) {
  auto minimum = images.amin({-2, -1}, true).to(torch::kFloat);
  const auto maximum = images.amax({-2, -1}, true).to(torch::kFloat);
  auto scale = (maximum - minimum).reciprocal() * 255;  // `bound / t` is t.reciprocal() * bound
  const auto flat = torch::isfinite(scale).logical_not();
  minimum.index_put_({flat}, 0);
  scale.index_put_({flat}, 1);
  return ((images - minimum) * scale).clamp(0, 255).to(images.scalar_type());
}

// _scale_channel on the CPU (bincount; histc on CUDA counts the same for uint8).
at::Tensor equalize_channel(const at::Tensor& channel) {
  const auto hist = torch::bincount(channel.reshape({-1}).to(torch::kCPU).to(torch::kLong), {}, 256);
  const auto nonzero = hist.index({hist != 0});
  const auto step = torch::div(nonzero.slice(0, 0, -1).sum(), 255, "floor");
  if (step.item<std::int64_t>() == 0) return channel;
  auto lut = torch::div(torch::cumsum(hist, 0) + torch::div(step, 2, "floor"), step, "floor");
  lut = nnf::pad(lut, nnf::PadFuncOptions({1, 0})).slice(0, 0, -1).clamp(0, 255);
  return lut.to(channel.device()).index({channel.to(torch::kLong)}).to(torch::kUInt8);
}

at::Tensor equalize(const at::Tensor& images) {
  const auto shape = images.sizes().vec();
  const auto batch = images.reshape({-1, shape[shape.size() - 3], shape[shape.size() - 2], shape[shape.size() - 1]});
  std::vector<at::Tensor> pictures;
  for (std::int64_t i = 0; i < batch.size(0); ++i) {
    std::vector<at::Tensor> channels;
    for (std::int64_t c = 0; c < batch.size(1); ++c) channels.push_back(equalize_channel(batch[i][c]));
    pictures.push_back(torch::stack(channels));
  }
  return torch::stack(pictures).reshape(shape);
}

}  // namespace

double torchvision_op_magnitude(TorchvisionOp op, std::int64_t bin, std::int64_t num_bins, std::int64_t height,
                                std::int64_t width) {
  const auto at_bin = [&](double start, double end) {
    return torch::linspace(start, end, num_bins, torch::kFloat)[bin].item<double>();
  };
  switch (op) {
    case TorchvisionOp::kShearX:
    case TorchvisionOp::kShearY: return at_bin(0.0, 0.3);
    case TorchvisionOp::kTranslateX: return at_bin(0.0, 150.0 / 331.0 * static_cast<double>(width));
    case TorchvisionOp::kTranslateY: return at_bin(0.0, 150.0 / 331.0 * static_cast<double>(height));
    case TorchvisionOp::kRotate: return at_bin(0.0, 30.0);
    case TorchvisionOp::kBrightness:
    case TorchvisionOp::kColor:
    case TorchvisionOp::kContrast:
    case TorchvisionOp::kSharpness: return at_bin(0.0, 0.9);
    case TorchvisionOp::kPosterize: {
      const auto bits = 8 - (torch::arange(num_bins) / ((static_cast<double>(num_bins) - 1) / 4)).round().to(torch::kInt);
      return bits[bin].item<double>();
    }
    case TorchvisionOp::kSolarize: return at_bin(255.0, 0.0);
    default: return 0.0;
  }
}

at::Tensor apply_torchvision_op(const at::Tensor& images, TorchvisionOp op, double magnitude, const char* where) {
  if (images.scalar_type() != torch::kUInt8 || images.dim() < 3 || images.size(-3) != 3) {
    throw Error(where, std::string("RandAugment takes uint8 [..., 3, H, W] pictures (") + torchvision_op_name(op) + ")");
  }
  switch (op) {
    case TorchvisionOp::kIdentity: return images;
    case TorchvisionOp::kShearX: {
      const std::array<double, 2> origin = {0, 0};
      return affine(images, 0.0, {0, 0}, {degrees(std::atan(magnitude)), 0.0}, &origin);
    }
    case TorchvisionOp::kShearY: {
      const std::array<double, 2> origin = {0, 0};
      return affine(images, 0.0, {0, 0}, {0.0, degrees(std::atan(magnitude))}, &origin);
    }
    case TorchvisionOp::kTranslateX:
      return affine(images, 0.0, {static_cast<double>(static_cast<std::int64_t>(magnitude)), 0}, {0.0, 0.0}, nullptr);
    case TorchvisionOp::kTranslateY:
      return affine(images, 0.0, {0, static_cast<double>(static_cast<std::int64_t>(magnitude))}, {0.0, 0.0}, nullptr);
    case TorchvisionOp::kRotate:
      // F.rotate: the inverse matrix of -angle about the centre.
      return grid_transform(images, inverse_affine_matrix({0.0, 0.0}, -magnitude, {0.0, 0.0}, 1.0, {0.0, 0.0}));
    case TorchvisionOp::kBrightness: return blend(images, torch::zeros_like(images), 1.0 + magnitude);
    case TorchvisionOp::kColor: return blend(images, rgb_to_grayscale(images), 1.0 + magnitude);
    case TorchvisionOp::kContrast: {
      const auto mean = torch::mean(rgb_to_grayscale(images).to(torch::kFloat), {-3, -2, -1}, true);
      return blend(images, mean, 1.0 + magnitude);
    }
    case TorchvisionOp::kSharpness:
      if (images.size(-1) <= 2 || images.size(-2) <= 2) return images;
      return blend(images, blurred_degenerate(images), 1.0 + magnitude);
    case TorchvisionOp::kPosterize: {
      const auto bits = static_cast<int>(magnitude);
      return images.bitwise_and(static_cast<std::int64_t>(-(1LL << (8 - bits))));
    }
    case TorchvisionOp::kSolarize: return torch::where(images >= magnitude, 255 - images, images);
    case TorchvisionOp::kAutoContrast: return autocontrast(images);
    case TorchvisionOp::kEqualize: return equalize(images);
  }
  return images;
}

at::Tensor apply_torchvision_rand_augment(const at::Tensor& images, const TorchvisionRandAugment& draw,
                                          const char* where) {
  auto out = images;
  for (const auto& step : draw.steps) {
    double magnitude = torchvision_op_magnitude(step.op, draw.magnitude, draw.num_bins, images.size(-2), images.size(-1));
    if (step.negative) magnitude *= -1.0;
    out = apply_torchvision_op(out, step.op, magnitude, where);
  }
  return out;
}

}  // namespace epalm::augment
