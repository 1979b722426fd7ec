#include "epalm/core/media/video_preprocessing.h"

#include <torch/torch.h>

#include <cmath>

#include "epalm/core/error.h"
#include "models/config_json.h"

namespace epalm::media {

namespace {

std::array<double, 3> read_triple(const nlohmann::json& j, const char* key, std::array<double, 3> fallback,
                                  const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    if (it->is_number()) {
      const double v = it->get<double>();
      return {v, v, v};
    }
    const auto values = it->get<std::vector<double>>();
    if (values.size() == 3) return {values[0], values[1], values[2]};
  } catch (const nlohmann::json::exception&) {
  }
  throw Error(path, std::string("field '") + key + "' must be a number or a list of 3 numbers, not " + it->dump());
}

// PIL's bilinear resampling weights (Resample.c precompute_coeffs with the
// triangle filter, support scaled by the shrink factor, then
// normalize_coeffs_8bpc's 22-bit fixed point) as a dense [out, in] matrix of
// integer-valued doubles.
at::Tensor pil_bilinear_coefficients(std::int64_t in_size, std::int64_t out_size) {
  constexpr double kOne = static_cast<double>(1 << 22);
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;
  auto k = torch::zeros({out_size, in_size}, torch::kDouble);
  auto a = k.accessor<double, 2>();
  std::vector<double> w;
  for (std::int64_t xx = 0; xx < out_size; ++xx) {
    const double center = (static_cast<double>(xx) + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    auto xmin = static_cast<std::int64_t>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    auto xmax = static_cast<std::int64_t>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    w.assign(static_cast<size_t>(std::max<std::int64_t>(xmax, 0)), 0.0);
    double ww = 0.0;
    for (std::int64_t x = 0; x < xmax; ++x) {
      double t = std::abs((static_cast<double>(x + xmin) - center + 0.5) * ss);
      w[x] = t < 1.0 ? 1.0 - t : 0.0;
      ww += w[x];
    }
    for (std::int64_t x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[x] / ww : w[x];
      a[xx][x + xmin] = static_cast<double>(static_cast<std::int32_t>(v < 0 ? -0.5 + v * kOne : 0.5 + v * kOne));
    }
  }
  return k;
}

// One PIL pass on integer-valued doubles: sum in fixed point (exact in
// double: every term and sum is an integer below 2^53), round by adding half
// and shifting, clip to [0, 255] like clip8.
at::Tensor pil_pass(const at::Tensor& x, const at::Tensor& coefficients, std::int64_t dim) {
  constexpr double kOne = static_cast<double>(1 << 22);
  auto y = dim == 3 ? torch::matmul(x, coefficients.t()) : torch::matmul(coefficients, x);
  return torch::floor((y + kOne / 2) / kOne).clamp(0, 255);
}

// PIL Image.resize(resample=BILINEAR) on uint8 RGB, bit for bit: the
// horizontal pass first, rounded to uint8, then the vertical one.
at::Tensor pil_bilinear_resize(const at::Tensor& frames, std::int64_t height, std::int64_t width) {
  auto x = frames.to(torch::kDouble);
  if (width != x.size(3)) x = pil_pass(x, pil_bilinear_coefficients(x.size(3), width).to(x.device()), 3);
  if (height != x.size(2)) x = pil_pass(x, pil_bilinear_coefficients(x.size(2), height).to(x.device()), 2);
  return x.to(torch::kByte);
}

}  // namespace

VideoPreprocessConfig VideoPreprocessConfig::from_json_file(const std::string& path) {
  using models::config_json::read;
  const auto j = models::config_json::load_object(path);
  VideoPreprocessConfig c;
  read(j, "do_resize", c.do_resize, path);
  read(j, "do_center_crop", c.do_center_crop, path);
  read(j, "do_rescale", c.do_rescale, path);
  read(j, "rescale_factor", c.rescale_factor, path);
  read(j, "do_normalize", c.do_normalize, path);
  c.image_mean = read_triple(j, "image_mean", c.image_mean, path);
  c.image_std = read_triple(j, "image_std", c.image_std, path);
  std::int64_t resample = 2;
  read(j, "resample", resample, path);
  if (resample != 2) {
    throw Error(path, "resample " + std::to_string(resample) + " is not supported (only 2, PIL bilinear)");
  }
  if (auto it = j.find("size"); it != j.end() && !it->is_null()) {
    if (it->is_number_integer()) {
      c.shortest_edge = it->get<std::int64_t>();  // legacy int: shortest edge (default_to_square=False)
    } else if (it->is_object() && it->contains("shortest_edge")) {
      read(*it, "shortest_edge", c.shortest_edge, path);
    } else if (it->is_object() && it->contains("height") && it->contains("width")) {
      read(*it, "height", c.resize_height, path);
      read(*it, "width", c.resize_width, path);
    } else {
      throw Error(path, "size must hold shortest_edge or height and width, not " + it->dump());
    }
  }
  if (auto it = j.find("crop_size"); it != j.end() && !it->is_null()) {
    if (it->is_number_integer()) {
      c.crop_height = c.crop_width = it->get<std::int64_t>();
    } else if (it->is_object() && it->contains("height") && it->contains("width")) {
      read(*it, "height", c.crop_height, path);
      read(*it, "width", c.crop_width, path);
    } else {
      throw Error(path, "crop_size must hold height and width, not " + it->dump());
    }
  }
  c.validate(path);
  return c;
}

void VideoPreprocessConfig::validate(const std::string& where) const {
  if (do_resize && resize_height <= 0 && shortest_edge <= 0) throw Error(where, "resize size must be positive");
  if (do_resize && (resize_height < 0 || resize_width < 0 || (resize_height > 0) != (resize_width > 0))) {
    throw Error(where, "resize height and width must both be positive");
  }
  if (do_center_crop && (crop_height <= 0 || crop_width <= 0)) throw Error(where, "crop_size must be positive");
  for (double s : image_std) {
    if (do_normalize && !(s != 0.0)) throw Error(where, "image_std must be non-zero");
  }
}

std::array<std::int64_t, 2> resized_size(std::int64_t height, std::int64_t width, const VideoPreprocessConfig& c) {
  if (c.resize_height > 0) return {c.resize_height, c.resize_width};
  // get_resize_output_image_size(default_to_square=False)
  const bool portrait = width <= height;
  const std::int64_t short_side = portrait ? width : height;
  const std::int64_t long_side = portrait ? height : width;
  const auto new_long = static_cast<std::int64_t>(static_cast<double>(c.shortest_edge) *
                                                  static_cast<double>(long_side) / static_cast<double>(short_side));
  return portrait ? std::array<std::int64_t, 2>{new_long, c.shortest_edge}
                  : std::array<std::int64_t, 2>{c.shortest_edge, new_long};
}

at::Tensor preprocess_video(const at::Tensor& frames, const VideoPreprocessConfig& c) {
  c.validate("video preprocessing");
  if (!frames.defined() || frames.dim() != 4 || frames.size(3) != 3 || frames.scalar_type() != torch::kByte) {
    throw Error("video preprocessing",
                "frames must be a uint8 [frames, height, width, 3] tensor, got " +
                    (frames.defined() ? std::string(c10::toString(frames.scalar_type())) + " " + c10::str(frames.sizes())
                                      : std::string("none")));
  }
  if (frames.size(0) == 0 || frames.size(1) == 0 || frames.size(2) == 0) {
    throw Error("video preprocessing", "no pixels: " + c10::str(frames.sizes()));
  }
  auto x = frames.permute({0, 3, 1, 2});  // [T, 3, H, W], channels-last in memory
  if (c.do_resize) {
    const auto [h, w] = resized_size(x.size(2), x.size(3), c);
    if (h <= 0 || w <= 0) throw Error("video preprocessing", "frames too narrow to resize: " + c10::str(frames.sizes()));
    if (h != x.size(2) || w != x.size(3)) x = pil_bilinear_resize(x, h, w);
  }
  if (c.do_center_crop) {
    const auto height = x.size(2);
    const auto width = x.size(3);
    if (height < c.crop_height || width < c.crop_width) {
      // HF pads a too-small image with zeros, centred (ceil), before cropping.
      const auto new_h = std::max(height, c.crop_height);
      const auto new_w = std::max(width, c.crop_width);
      const auto top_pad = (new_h - height + 1) / 2;
      const auto left_pad = (new_w - width + 1) / 2;
      x = torch::constant_pad_nd(x, {left_pad, new_w - width - left_pad, top_pad, new_h - height - top_pad}, 0);
    }
    const auto top = (x.size(2) - c.crop_height) / 2;
    const auto left = (x.size(3) - c.crop_width) / 2;
    x = x.slice(2, top, top + c.crop_height).slice(3, left, left + c.crop_width);
  }
  at::Tensor y;
  if (c.do_rescale) {
    y = (x.to(torch::kDouble) * c.rescale_factor).to(torch::kFloat);  // HF: float64 multiply, float32 result
  } else {
    y = x.to(torch::kFloat);
  }
  if (c.do_normalize) {
    auto options = y.options();
    auto mean = torch::tensor({c.image_mean[0], c.image_mean[1], c.image_mean[2]}, options).view({1, 3, 1, 1});
    auto std = torch::tensor({c.image_std[0], c.image_std[1], c.image_std[2]}, options).view({1, 3, 1, 1});
    y = (y - mean) / std;
  }
  return y.contiguous();
}

}  // namespace epalm::media
