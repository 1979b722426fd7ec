// NumPy's float64 summation (pairwise, 8-way unrolled blocks of 128), so that
// np.mean/np.sum of the official code can be matched bit for bit.
#pragma once

#include <cstddef>
#include <vector>

namespace epalm::eval {

double numpy_sum(const double* a, std::size_t n);
inline double numpy_mean(const std::vector<double>& v) {
  return numpy_sum(v.data(), v.size()) / static_cast<double>(v.size());
}

}  // namespace epalm::eval
