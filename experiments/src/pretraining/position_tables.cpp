#include "pretraining/position_tables.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace epalm::experiments::pretraining {

at::Tensor sincos_position_table(const PositionLayout& layout, std::int64_t dim) {
  const double amplitude = layout.amplitude;
  const auto axes = static_cast<std::int64_t>(layout.grid.size());
  if (axes == 0 || dim % (2 * axes) != 0) {
    throw std::invalid_argument("sincos_position_table: width " + std::to_string(dim) + " does not split into " +
                                std::to_string(axes) + " axes of sin and cos");
  }
  std::int64_t cells = 1;
  for (auto n : layout.grid) cells *= n;
  auto table = torch::zeros({1, layout.leading + cells, dim}, torch::kFloat);
  auto rows = table.accessor<float, 3>();
  const auto share = dim / axes;  // per axis: share / 2 frequencies, sin then cos
  const auto frequencies = share / 2;
  for (std::int64_t cell = 0; cell < cells; ++cell) {
    // Row-major: the last axis varies fastest.
    std::int64_t rest = cell;
    for (auto axis = axes - 1; axis >= 0; --axis) {
      const auto size = layout.grid[static_cast<std::size_t>(axis)];
      const auto index = static_cast<double>(rest % size);
      rest /= size;
      for (std::int64_t k = 0; k < frequencies; ++k) {
        const double angle = index * std::pow(10000.0, -static_cast<double>(k) / static_cast<double>(frequencies));
        rows[0][layout.leading + cell][axis * share + k] = static_cast<float>(amplitude * std::sin(angle));
        rows[0][layout.leading + cell][axis * share + frequencies + k] = static_cast<float>(amplitude * std::cos(angle));
      }
    }
  }
  return table;
}

}  // namespace epalm::experiments::pretraining
