// Internal: fixed sine-cosine tables that position embeddings start from
// when an encoder is pretrained from scratch.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace epalm::experiments::pretraining {

// Where the tokens of one position-embedding tensor sit: `leading` tokens
// with no place ([CLS], distillation: zero rows), then one token per cell of
// `grid` in row-major order (one axis for frames, two for patch rows and
// columns).
struct PositionLayout {
  std::int64_t leading = 0;
  std::vector<std::int64_t> grid;
  double amplitude = 1;  // the table's sin and cos are scaled by it
};

// A [1, leading + prod(grid), dim] table: the width is split evenly between
// the grid's axes, and each axis's share holds sin and cos of the cell's
// index at frequencies 10000^(-k/(share/2)), as MAE initialises ViT's
// position embeddings, times the layout's amplitude. dim must divide by 2 x
// the number of axes.
at::Tensor sincos_position_table(const PositionLayout& layout, std::int64_t dim);

}  // namespace epalm::experiments::pretraining
