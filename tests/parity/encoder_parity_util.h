// Helpers shared by the TimeSformer and AST parity tests.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>
#include <string>

#include "epalm/core/safetensors.h"

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

}  // namespace epalm::testing
