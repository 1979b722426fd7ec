#include "epalm/core/media/image_preprocessing.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "epalm/core/error.h"
#include "models/config_json.h"

namespace epalm::media {

namespace {

// ---- PIL's resampling (Pillow src/libImaging/Resample.c), reimplemented ----

double box_filter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double bilinear_filter(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double hamming_filter(double x) {
  x = std::fabs(x);
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * M_PI;
  return std::sin(x) / x * (0.54f + 0.46f * std::cos(x));  // PIL's float constants
}

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sinc_filter(double x) {
  if (x == 0.0) return 1.0;
  x = x * M_PI;
  return std::sin(x) / x;
}

double lanczos_filter(double x) { return (-3.0 <= x && x < 3.0) ? sinc_filter(x) * sinc_filter(x / 3) : 0.0; }

struct Filter {
  double (*function)(double);
  double support;
};

Filter filter_of(Resample r) {
  switch (r) {
    case Resample::kBox: return {box_filter, 0.5};
    case Resample::kBilinear: return {bilinear_filter, 1.0};
    case Resample::kHamming: return {hamming_filter, 1.0};
    case Resample::kBicubic: return {bicubic_filter, 2.0};
    case Resample::kLanczos: return {lanczos_filter, 3.0};
  }
  return {bilinear_filter, 1.0};
}

constexpr int kPrecisionBits = 32 - 8 - 2;

// Per output pixel: the first input pixel and the fixed-point weights.
struct Coefficients {
  std::int64_t ksize = 0;
  std::vector<std::int64_t> first, count;
  std::vector<std::int32_t> weights;  // [out, ksize]
};

// precompute_coeffs + normalize_coeffs_8bpc for the whole axis (box 0..in).
Coefficients coefficients(std::int64_t in_size, std::int64_t out_size, const Filter& filter) {
  const float in0 = 0.0f;
  const float in1 = static_cast<float>(in_size);
  double scale = static_cast<double>(in1 - in0) / static_cast<double>(out_size);
  double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = filter.support * filterscale;
  Coefficients c;
  c.ksize = static_cast<std::int64_t>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(out_size * c.ksize, 0);
  std::vector<double> k(c.ksize);
  for (std::int64_t xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    auto xmin = static_cast<std::int64_t>(static_cast<int>(center - support + 0.5));
    if (xmin < 0) xmin = 0;
    auto xmax = static_cast<std::int64_t>(static_cast<int>(center + support + 0.5));
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (std::int64_t x = 0; x < xmax; ++x) {
      const double w = filter.function((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (std::int64_t x = 0; x < xmax; ++x) {
      if (ww != 0.0) k[x] /= ww;
    }
    for (std::int64_t x = 0; x < c.ksize; ++x) {
      const double v = x < xmax ? k[x] : 0.0;
      c.weights[xx * c.ksize + x] = v < 0 ? static_cast<std::int32_t>(-0.5 + v * (1 << kPrecisionBits))
                                          : static_cast<std::int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

inline std::uint8_t clip8(std::int64_t sum) {
  const std::int64_t v = sum >> kPrecisionBits;  // arithmetic: floor
  return static_cast<std::uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// One pass along an axis of a [rows, cols, 3] uint8 image: `along_cols`
// resamples each row (PIL's horizontal pass), else each column.
at::Tensor resample_pass(const at::Tensor& in, std::int64_t out_size, const Filter& filter, bool along_cols) {
  const auto rows = in.size(0);
  const auto cols = in.size(1);
  const auto c = coefficients(along_cols ? cols : rows, out_size, filter);
  auto out = torch::empty({along_cols ? rows : out_size, along_cols ? out_size : cols, 3}, in.options());
  const auto* src = in.data_ptr<std::uint8_t>();
  auto* dst = out.data_ptr<std::uint8_t>();
  const std::int64_t out_cols = out.size(1);
  for (std::int64_t y = 0; y < out.size(0); ++y) {
    for (std::int64_t x = 0; x < out_cols; ++x) {
      const std::int64_t o = along_cols ? x : y;
      const std::int32_t* k = &c.weights[o * c.ksize];
      std::int64_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (std::int64_t i = 0; i < c.count[o]; ++i) {
        const std::uint8_t* p =
            along_cols ? src + (y * cols + c.first[o] + i) * 3 : src + ((c.first[o] + i) * cols + x) * 3;
        s0 += static_cast<std::int64_t>(p[0]) * k[i];
        s1 += static_cast<std::int64_t>(p[1]) * k[i];
        s2 += static_cast<std::int64_t>(p[2]) * k[i];
      }
      std::uint8_t* q = dst + (y * out_cols + x) * 3;
      q[0] = clip8(s0);
      q[1] = clip8(s1);
      q[2] = clip8(s2);
    }
  }
  return out;
}

void check_image(const at::Tensor& image, const std::string& where) {
  if (!image.defined()) throw Error(where, "image is undefined");
  if (image.dim() != 3 || image.size(2) != 3) {
    throw Error(where, "image must be [height, width, 3] (decoded RGB), got " + c10::str(image.sizes()));
  }
  if (image.scalar_type() != torch::kUInt8) {
    throw Error(where, std::string("image must be uint8, got ") + c10::toString(image.scalar_type()));
  }
  if (image.size(0) == 0 || image.size(1) == 0) throw Error(where, "image is empty: " + c10::str(image.sizes()));
}

// ---- preprocessor_config.json ----

using models::config_json::read;


void read_triple(const nlohmann::json& j, const char* key, std::array<double, 3>& out, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (it->is_number()) {
    out.fill(it->get<double>());
    return;
  }
  if (!it->is_array() || it->size() != 3) {
    throw Error(path, std::string("field '") + key + "' must be a number or 3 numbers, not " + it->dump());
  }
  for (std::size_t i = 0; i < 3; ++i) {
    if (!(*it)[i].is_number()) throw Error(path, std::string("field '") + key + "' has a non-number: " + it->dump());
    out[i] = (*it)[i].get<double>();
  }
}

}  // namespace

Resample resample_from_pil_code(std::int64_t code, const std::string& where) {
  switch (code) {
    case 1: return Resample::kLanczos;
    case 2: return Resample::kBilinear;
    case 3: return Resample::kBicubic;
    case 4: return Resample::kBox;
    case 5: return Resample::kHamming;
    default: break;
  }
  throw Error(where, "resample " + std::to_string(code) +
                         " is unsupported (PIL codes: 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING)");
}

at::Tensor resize_like_pil(const at::Tensor& image, std::int64_t height, std::int64_t width, Resample filter,
                           const std::string& where) {
  check_image(image, where);
  if (height <= 0 || width <= 0) {
    throw Error(where, "resize target " + std::to_string(height) + "x" + std::to_string(width) + " is empty");
  }
  auto current = image.to(torch::kCPU).contiguous();
  const auto f = filter_of(filter);
  // Each pass only when that size changes. Pillow 13 runs the vertical pass
  // first when the height shrinks by more than twice what the width does
  // (inferred from Pillow 13.0.0's outputs, 390 of 390 random size pairs and
  // a grid: the order changes the 8-bit rounding between passes); Pillow 12
  // and earlier always went horizontal first.
  const auto in_height = current.size(0);
  const auto in_width = current.size(1);
  const bool vertical_first = height < in_height && (in_height - height) > 2 * (in_width - width);
  if (vertical_first && height != in_height) current = resample_pass(current, height, f, /*along_cols=*/false);
  if (width != in_width) current = resample_pass(current, width, f, /*along_cols=*/true);
  if (!vertical_first && height != in_height) current = resample_pass(current, height, f, /*along_cols=*/false);
  if (current.data_ptr() == image.data_ptr()) current = current.clone();
  return current.to(image.device());
}

ImagePreprocessing ImagePreprocessing::vit_image_processor() { return {}; }

ImagePreprocessing ImagePreprocessing::epalm_eval(std::int64_t size) {
  ImagePreprocessing p;
  p.height = p.width = size;
  p.resample = Resample::kBicubic;
  p.rescale = Rescale::kDivideInFloat32;
  p.mean = {0.48145466, 0.4578275, 0.40821073};
  p.std = {0.26862954, 0.26130258, 0.27577711};
  return p;
}

ImagePreprocessing ImagePreprocessing::from_json_file(const std::string& path) {
  const auto j = models::config_json::load_object(path, nullptr, models::config_json::FileKind::kPreprocessorConfig);
  for (const char* key : {"image_processor_type", "feature_extractor_type"}) {
    std::string type;
    read(j, key, type, path);
    if (!type.empty() && type != "ViTImageProcessor" && type != "ViTImageProcessorFast" &&
        type != "ViTFeatureExtractor") {
      throw Error(path, std::string(key) + " '" + type + "' is unsupported (ViTImageProcessor only)");
    }
  }
  bool center_crop = false;
  read(j, "do_center_crop", center_crop, path);
  if (center_crop) throw Error(path, "do_center_crop is unsupported (ViTImageProcessor resizes only)");
  ImagePreprocessing p;
  read(j, "do_resize", p.do_resize, path);
  if (auto it = j.find("size"); it != j.end() && !it->is_null()) {
    if (it->is_number_integer()) {
      p.height = p.width = it->get<std::int64_t>();
    } else if (it->is_object() && it->contains("height") && it->contains("width") && it->size() == 2) {
      read(*it, "height", p.height, path);
      read(*it, "width", p.width, path);
    } else {
      throw Error(path, "size must be an integer or {\"height\", \"width\"}, not " + it->dump());
    }
  }
  std::int64_t resample = 2;
  read(j, "resample", resample, path);
  p.resample = resample_from_pil_code(resample, path);
  read(j, "do_rescale", p.do_rescale, path);
  read(j, "rescale_factor", p.rescale_factor, path);
  read(j, "do_normalize", p.do_normalize, path);
  read_triple(j, "image_mean", p.mean, path);
  read_triple(j, "image_std", p.std, path);
  p.validate(path);
  return p;
}

ImagePreprocessing ImagePreprocessing::for_checkpoint(const std::string& directory,
                                                      const ImagePreprocessing& fallback) {
  const auto path = std::filesystem::path(directory) / "preprocessor_config.json";
  if (std::filesystem::exists(path)) return from_json_file(path.string());
  return fallback;
}

void ImagePreprocessing::validate(const std::string& where) const {
  if (do_resize && (height <= 0 || width <= 0)) {
    throw Error(where, "size " + std::to_string(height) + "x" + std::to_string(width) + " must be positive");
  }
  if (do_rescale && !(rescale_factor > 0.0)) throw Error(where, "rescale_factor must be positive");
  for (double s : std) {
    if (do_normalize && s == 0.0) throw Error(where, "image_std must not be 0");
  }
}

at::Tensor preprocess_image(const at::Tensor& image, const ImagePreprocessing& p, const std::string& where) {
  check_image(image, where);
  p.validate("image preprocessing");
  auto pixels = p.do_resize ? resize_like_pil(image, p.height, p.width, p.resample, where) : image;
  at::Tensor x;
  if (!p.do_rescale) {
    x = pixels.to(torch::kFloat);
  } else if (p.rescale == ImagePreprocessing::Rescale::kMultiplyInFloat64) {
    x = (pixels.to(torch::kDouble) * p.rescale_factor).to(torch::kFloat);  // transformers' rescale()
  } else {
    x = pixels.to(torch::kFloat).div(static_cast<float>(1.0 / p.rescale_factor));  // torchvision ToTensor
  }
  if (p.do_normalize) {
    auto options = x.options();
    const auto mean = torch::tensor({static_cast<float>(p.mean[0]), static_cast<float>(p.mean[1]),
                                     static_cast<float>(p.mean[2])}, options.device(torch::kCPU)).to(x.device());
    const auto std = torch::tensor({static_cast<float>(p.std[0]), static_cast<float>(p.std[1]),
                                    static_cast<float>(p.std[2])}, options.device(torch::kCPU)).to(x.device());
    x = (x - mean) / std;  // float32 subtraction, then division, per channel
  }
  return x.permute({2, 0, 1}).contiguous();
}

at::Tensor preprocess_images(const std::vector<at::Tensor>& images, const ImagePreprocessing& settings) {
  if (images.empty()) throw Error("images", "no images to preprocess");
  std::vector<at::Tensor> out;
  out.reserve(images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    out.push_back(preprocess_image(images[i], settings, "image " + std::to_string(i)));
  }
  const auto first = out.front().sizes();
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i].sizes() != first) {
      throw Error("image " + std::to_string(i), "preprocessed to " + c10::str(out[i].sizes()) + ", image 0 to " +
                                                    c10::str(first) + " (enable do_resize to batch sizes)");
    }
  }
  return torch::stack(out);
}

}  // namespace epalm::media
