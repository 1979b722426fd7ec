// The sine-cosine tables the toy encoders' position embeddings start from.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "pretraining/position_tables.h"

namespace epalm {
namespace {

using experiments::pretraining::PositionLayout;
using experiments::pretraining::sincos_position_table;

// MAE's one-axis table: sin(p w_k) then cos(p w_k), w_k = 10000^(-k / (d/2)).
double one_axis(double p, std::int64_t k, std::int64_t d) {
  const auto half = d / 2;
  const double w = std::pow(10000.0, -static_cast<double>(k % half) / static_cast<double>(half));
  return k < half ? std::sin(p * w) : std::cos(p * w);
}

TEST(PositionTables, TwoAxesSplitTheWidthRowThenColumnAfterZeroLeadingRows) {
  const std::int64_t dim = 16;
  const auto t = sincos_position_table(PositionLayout{2, {3, 4}, 1}, dim);
  ASSERT_EQ(t.sizes(), (std::vector<std::int64_t>{1, 2 + 12, dim}));
  EXPECT_EQ(t.slice(1, 0, 2).abs().max().item<float>(), 0.0f);  // [CLS], distillation
  for (std::int64_t row = 0; row < 3; ++row) {
    for (std::int64_t col = 0; col < 4; ++col) {
      const auto token = 2 + row * 4 + col;  // row-major, as patches are flattened
      for (std::int64_t k = 0; k < dim; ++k) {
        const double want = k < dim / 2 ? one_axis(row, k, dim / 2) : one_axis(col, k - dim / 2, dim / 2);
        // One float rounding of a value of magnitude <= 1.
        EXPECT_NEAR(t[0][token][k].item<double>(), want, 6e-8) << "row " << row << " col " << col << " k " << k;
      }
    }
  }
}

TEST(PositionTables, AmplitudeScalesAndOneAxisCoversFrames) {
  const auto unit = sincos_position_table(PositionLayout{0, {5}, 1}, 8);
  const auto scaled = sincos_position_table(PositionLayout{0, {5}, 8}, 8);
  EXPECT_TRUE(torch::equal(scaled, unit * 8));  // times a power of two: exact
  for (std::int64_t f = 0; f < 5; ++f) {
    for (std::int64_t k = 0; k < 8; ++k) EXPECT_NEAR(unit[0][f][k].item<double>(), one_axis(f, k, 8), 6e-8);
  }
  EXPECT_THROW(sincos_position_table(PositionLayout{0, {2, 2}, 1}, 6), std::invalid_argument);  // 6 = 2 axes x 3
}

}  // namespace
}  // namespace epalm
