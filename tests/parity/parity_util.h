// Helpers shared by the parity tests (OPT, ViT, TimeSformer, AST, image
// preprocessing): fixture tensors, tolerances, malformed-file errors.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>
#include <string>

#include "epalm/core/error.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "../support/tolerance.h"

namespace epalm::testing {

inline at::Tensor load(const std::string& file, const std::string& name) {
  return safetensors::SafetensorsFile(file).load(name);
}

inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(torch::kFloat) - b.to(torch::kFloat)).abs().max().item<double>();
}

inline void expect_close(const at::Tensor& actual, const at::Tensor& expected, double atol, const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const double diff = max_abs_diff(actual, expected);
  EXPECT_LE(diff, atol) << what;
  std::ostringstream measured;
  measured << diff;  // %g: the measured error, kept in the test report
  ::testing::Test::RecordProperty(what, measured.str());
}

// Ours against the peer's forward pass: every element within
// forward_bound(expected, depth) (tolerance.h: `depth` is the longest chain
// of roundings to this output). Records the measured error and its share of the bound.
inline void expect_forward_close(const at::Tensor& actual, const at::Tensor& expected, double depth,
                                 const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const double bound = forward_bound(expected, depth);
  EXPECT_TRUE(within(actual, expected, torch::tensor(bound, torch::kDouble), what + " (depth " +
                                                                                 std::to_string(depth) + ")"));
  std::ostringstream measured;
  measured << max_abs_diff(actual, expected) << " of bound " << bound;
  ::testing::Test::RecordProperty(what, measured.str());
}

// Writes `text` to `path`, calls `load(path)` and expects an epalm::Error
// that names the file and whose reason mentions `reason`.
template <typename Load>
void expect_file_error(const std::string& path, const std::string& text, const std::string& reason, Load load) {
  std::ofstream(path) << text;
  try {
    load(path);
    FAIL() << "expected Error for " << text;
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), path);
    EXPECT_NE(e.reason().find(reason), std::string::npos) << e.what();
  }
}

}  // namespace epalm::testing
