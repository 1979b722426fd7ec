// ALBEF's RandomAugment ops on OpenCV; see albef_augment_ops.h.
#include "epalm/core/augment/albef_augment_ops.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <array>
#include <cstring>
#include <string>

#include "epalm/core/error.h"

namespace epalm::augment {

namespace {

const cv::Scalar kFill(128, 128, 128);  // ALBEF's replace_value

// One 256-entry table per channel, applied by cv::LUT.
using ChannelTables = std::array<std::array<std::uint8_t, 256>, 3>;

void apply_tables(cv::Mat& image, const ChannelTables& tables) {
  cv::Mat lut(1, 256, CV_8UC3);
  for (int v = 0; v < 256; ++v) {
    auto& entry = lut.at<cv::Vec3b>(0, v);
    for (int c = 0; c < 3; ++c) entry[c] = tables[static_cast<std::size_t>(c)][static_cast<std::size_t>(v)];
  }
  cv::LUT(image, lut, image);
}

// 256-bin histogram of channel `c`, as cv2.calcHist([ch], [0], None, [256], [0, 256]).
std::array<std::int64_t, 256> channel_histogram(const cv::Mat& image, int c) {
  cv::Mat hist;
  const int channels[] = {c};
  const int bins[] = {256};
  const float range[] = {0, 256};
  const float* ranges[] = {range};
  cv::calcHist(&image, 1, channels, cv::Mat(), hist, 1, bins, ranges);
  std::array<std::int64_t, 256> counts{};
  for (int v = 0; v < 256; ++v) counts[static_cast<std::size_t>(v)] = static_cast<std::int64_t>(hist.at<float>(v));
  return counts;
}

void auto_contrast(cv::Mat& image) {
  std::array<cv::Mat, 3> planes;
  cv::split(image, planes.data());
  ChannelTables tables{};
  for (int c = 0; c < 3; ++c) {
    double min_value = 0, max_value = 0;
    cv::minMaxLoc(planes[static_cast<std::size_t>(c)], &min_value, &max_value);
    const auto low = static_cast<int>(min_value), high = static_cast<int>(max_value);
    auto& table = tables[static_cast<std::size_t>(c)];
    for (int v = 0; v < 256; ++v) table[static_cast<std::size_t>(v)] = static_cast<std::uint8_t>(v);
    if (high <= low) continue;
    const double scale = 255.0 / static_cast<double>(high - low);
    // ALBEF computes `-low * scale` with low a numpy uint8: the negation wraps.
    const double offset = static_cast<double>(static_cast<std::uint8_t>(256 - low)) * scale;
    for (int v = 0; v < 256; ++v) {
      double mapped = static_cast<double>(v) * scale + offset;
      mapped = mapped < 0 ? 0 : (mapped > 255 ? 255 : mapped);
      table[static_cast<std::size_t>(v)] = static_cast<std::uint8_t>(mapped);
    }
  }
  apply_tables(image, tables);
}

void equalize(cv::Mat& image) {
  ChannelTables tables{};
  for (int c = 0; c < 3; ++c) {
    const auto hist = channel_histogram(image, c);
    auto& table = tables[static_cast<std::size_t>(c)];
    for (int v = 0; v < 256; ++v) table[static_cast<std::size_t>(v)] = static_cast<std::uint8_t>(v);
    // PIL's rule: step from every non-empty bin but the last one.
    std::int64_t last_nonzero = -1, total = 0;
    for (int v = 0; v < 256; ++v) {
      if (hist[static_cast<std::size_t>(v)] != 0) last_nonzero = v;
    }
    for (int v = 0; v < last_nonzero; ++v) total += hist[static_cast<std::size_t>(v)];
    const std::int64_t step = total / 255;
    if (step == 0) continue;
    std::int64_t running = step / 2;
    for (int v = 0; v < 256; ++v) {
      const auto mapped = std::min<std::int64_t>(255, running / step);
      table[static_cast<std::size_t>(v)] = static_cast<std::uint8_t>(mapped);
      running += hist[static_cast<std::size_t>(v)];
    }
  }
  apply_tables(image, tables);
}

void brightness(cv::Mat& image, double factor) {
  // numpy: float32 arange times a Python float stays float32.
  const auto f = static_cast<float>(factor);
  ChannelTables tables{};
  for (int v = 0; v < 256; ++v) {
    float mapped = static_cast<float>(v) * f;
    mapped = mapped < 0 ? 0 : (mapped > 255 ? 255 : mapped);
    for (auto& table : tables) table[static_cast<std::size_t>(v)] = static_cast<std::uint8_t>(mapped);
  }
  apply_tables(image, tables);
}

// numpy's float32 -> uint8 cast: truncate toward zero, keep the low byte.
std::uint8_t numpy_cast_to_uint8(float v) { return static_cast<std::uint8_t>(static_cast<std::int32_t>(v)); }

void sharpness(cv::Mat& image, double factor) {
  cv::Mat kernel = cv::Mat::ones(3, 3, CV_32F);
  kernel.at<float>(1, 1) = 5;
  kernel /= 13.0f;
  cv::Mat degenerate;
  cv::filter2D(image, degenerate, -1, kernel);
  if (factor == 0.0) {
    degenerate.copyTo(image);
    return;
  }
  if (factor == 1.0) return;
  const auto f = static_cast<float>(factor);
  const int channels = image.cols * 3;
  for (int y = 1; y + 1 < image.rows; ++y) {
    auto* row = image.ptr<std::uint8_t>(y);
    const auto* blurred = degenerate.ptr<std::uint8_t>(y);
    for (int x = 3; x + 3 < channels; ++x) {
      // One float32 rounding per operation, as numpy (this file is built with -ffp-contract=off).
      const float d = static_cast<float>(blurred[x]);
      const float difference = static_cast<float>(row[x]) - d;
      const float scaled = f * difference;
      row[x] = numpy_cast_to_uint8(d + scaled);
    }
  }
}

void warp(cv::Mat& image, const cv::Mat& matrix) {
  cv::Mat out;
  cv::warpAffine(image, out, matrix, image.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, kFill);
  out.copyTo(image);
}

// ALBEF builds its shear and translation matrices as np.float32.
cv::Mat float32_matrix(float a, float b, float c, float d, float e, float f) {
  cv::Mat m(2, 3, CV_32F);
  m.at<float>(0, 0) = a;
  m.at<float>(0, 1) = b;
  m.at<float>(0, 2) = c;
  m.at<float>(1, 0) = d;
  m.at<float>(1, 1) = e;
  m.at<float>(1, 2) = f;
  return m;
}

}  // namespace

void apply_albef_op(std::uint8_t* pixels, std::int64_t height, std::int64_t width, AlbefOp op, double argument,
                    const char* where) {
  if (pixels == nullptr || height < 1 || width < 1) {
    throw Error(where, std::string("RandomAugment needs a non-empty RGB picture (") + albef_op_name(op) + ")");
  }
  cv::Mat image(static_cast<int>(height), static_cast<int>(width), CV_8UC3, pixels);
  const auto arg = static_cast<float>(argument);
  switch (op) {
    case AlbefOp::kIdentity: return;
    case AlbefOp::kAutoContrast: return auto_contrast(image);
    case AlbefOp::kEqualize: return equalize(image);
    case AlbefOp::kBrightness: return brightness(image, argument);
    case AlbefOp::kSharpness: return sharpness(image, argument);
    case AlbefOp::kShearX: return warp(image, float32_matrix(1, arg, 0, 0, 1, 0));
    case AlbefOp::kShearY: return warp(image, float32_matrix(1, 0, 0, arg, 1, 0));
    case AlbefOp::kTranslateX: return warp(image, float32_matrix(1, 0, -arg, 0, 1, 0));
    case AlbefOp::kTranslateY: return warp(image, float32_matrix(1, 0, 0, 0, 1, -arg));
    case AlbefOp::kRotate: {
      const cv::Point2f center(static_cast<float>(static_cast<double>(width) / 2),
                               static_cast<float>(static_cast<double>(height) / 2));
      return warp(image, cv::getRotationMatrix2D(center, argument, 1));
    }
  }
}

void apply_albef_rand_augment(std::uint8_t* pixels, std::int64_t height, std::int64_t width,
                              const AlbefRandAugment& draw, const char* where) {
  for (const auto& step : draw.steps) {
    if (!step.applied) continue;
    apply_albef_op(pixels, height, width, step.op, albef_op_argument(step.op, step.negative, draw.level), where);
  }
}

}  // namespace epalm::augment
