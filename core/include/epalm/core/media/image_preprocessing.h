// From a decoded image to a ViT's pixel values, bit for bit as the Python
// pipelines compute them:
//   - Hugging Face ViTImageProcessor (the slow, PIL-based one; the defaults of
//     google/vit-*): resize to 224x224 with PIL BILINEAR, x * (1/255) in
//     float64 then float32, (x - 0.5) / 0.5 in float32;
//   - the eP-ALM reference's evaluation transform for its timm ViTs
//     (docs/epalm.md, Inputs): torchvision Resize((224, 224), BICUBIC) on a
//     PIL image, ToTensor (float32 x / 255), Normalize with CLIP's mean/std.
// Resizing is PIL's own algorithm (Image.resize with reducing_gap=None on an
// 8-bit RGB image): separable antialiased filters with 22-bit fixed-point
// coefficients and 8-bit rounding after each pass. It reproduces Pillow's
// output exactly (tested against Pillow 13.0.0 on random and smooth images,
// up and down, odd sizes), including Pillow 13's choice of doing the vertical
// pass first when the height shrinks much more than the width (Pillow 12 and
// earlier always resized horizontally first: up to 1-2 levels apart on smooth
// images in those cases, more on noise). LibTorch's interpolate(antialias=true) is not a
// substitute: it differs from PIL by up to several 8-bit levels (measured by
// tests/parity/make_vit_fixtures.py).
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace epalm::media {

// PIL's resampling filters (PIL.Image.Resampling codes 4, 2, 5, 3, 1).
// NEAREST (0) is not offered: PIL runs it through another algorithm.
enum class Resample { kBox, kBilinear, kHamming, kBicubic, kLanczos };

// The filter with PIL's code; throws epalm::Error(where, ...) otherwise.
Resample resample_from_pil_code(std::int64_t code, const std::string& where);

// PIL's Image.resize((width, height), filter) of an RGB image: [H, W, 3]
// uint8 (any device; computed on the CPU) -> [height, width, 3] uint8 on the
// image's device. Throws epalm::Error naming `where` for a bad image.
at::Tensor resize_like_pil(const at::Tensor& image, std::int64_t height, std::int64_t width, Resample filter,
                           const std::string& where = "image");

struct ImagePreprocessing {
  // How 8-bit values become floats: transformers multiplies in float64 by
  // rescale_factor then rounds to float32; torchvision's ToTensor divides in
  // float32 by 1/rescale_factor. They differ in the last bit for some values.
  enum class Rescale { kMultiplyInFloat64, kDivideInFloat32 };

  bool do_resize = true;
  std::int64_t height = 224, width = 224;
  Resample resample = Resample::kBilinear;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  Rescale rescale = Rescale::kMultiplyInFloat64;
  bool do_normalize = true;
  std::array<double, 3> mean{0.5, 0.5, 0.5};  // rounded to float32, as both libraries do
  std::array<double, 3> std{0.5, 0.5, 0.5};

  // ViTImageProcessor's defaults (google/vit-base-patch16-224's preprocessor_config.json).
  static ImagePreprocessing vit_image_processor();
  // The eP-ALM reference's test-time image transform (its train transform
  // adds random crops, flips and RandAugment, not done here).
  static ImagePreprocessing epalm_eval(std::int64_t size = 224);
  // A Hugging Face preprocessor_config.json for ViTImageProcessor (or the
  // older ViTFeatureExtractor): do_resize, size ({"height", "width"} or an
  // integer), resample, do_rescale, rescale_factor, do_normalize, image_mean,
  // image_std. Steps it cannot do (center crop, shortest-edge resizing,
  // another processor type) are errors naming the file.
  static ImagePreprocessing from_json_file(const std::string& path);
  // <directory>/preprocessor_config.json when it exists, else `fallback`.
  static ImagePreprocessing for_checkpoint(const std::string& directory, const ImagePreprocessing& fallback);

  void validate(const std::string& where) const;
};

// One decoded image, [H, W, 3] uint8, to pixel values [3, height, width]
// float32 on the image's device. Errors name `where`.
at::Tensor preprocess_image(const at::Tensor& image, const ImagePreprocessing& settings,
                            const std::string& where = "image");
// A batch [B, 3, height, width]; errors name the image's index.
at::Tensor preprocess_images(const std::vector<at::Tensor>& images, const ImagePreprocessing& settings);

}  // namespace epalm::media
