// Tolerances for floating-point results computed in different orders (a
// batch split across ranks vs one process, accumulated micro-batches vs one
// batch, a bucketed vs a plain backward). Each bound follows from the
// arithmetic, not from what one machine printed: a sum of n terms computed
// in any order in floating point lies within gamma_n(n) * sum|terms| of the
// exact sum (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed.,
// Lemma 3.1 and eq. 3.5), so two orders of it differ by at most
// 2 * gamma_n(n) * sum|terms|. The magnitude is that of what was summed, never
// that of the (possibly near-cancelled) result.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

#include "epalm/core/models/rounding_bounds.h"

namespace epalm::testing {

// The unit roundoffs, gamma_n and two_orders: core's rounding model
// (epalm/core/models/rounding_bounds.h), which the benchmarks use too.
using models::kUnitBf16;
using models::kUnitFp16;
using models::kUnitFp32;
using models::kUnitFp64;
using models::gamma_n;
using models::two_orders;
using models::unit_roundoff;

// Gradients summed over rows split differently (micro-batches, ranks) against
// one batch: the same per-row terms summed in another order, 2 gamma_n
// sum|terms| for `terms` terms per element, elementwise on `magnitude` (the
// sum of the per-sample |gradients|). And each term itself: a matrix library
// may sum a row's product in another order when other rows share the product
// (it picks kernels by the row count: MKL at a few rows on AMD CPUs, oneDNN
// at one row), so each term also carries the model's rounding chain `depth`
// (rounding_bounds.h), forward and back, relative to the largest term: the
// model-level bound the packed pass's tests use.
inline at::Tensor batch_split_bound(const at::Tensor& magnitude, double terms, double depth) {
  return two_orders(terms) * magnitude + two_orders(2 * depth) * magnitude.max();
}

// Two AdamW steps with eps >= 1 from the same value, whose gradients (at
// every step so far) differed by at most `gradient_bound` and were at most
// `gradient` in size (elementwise): the denominators sqrt(v) + eps are >= 1,
// so the values move apart by at most lr (|dm| + |m| |d sqrt(v)|); m and
// sqrt(v) are weighted means over the steps (the bias corrections make the
// weights sum to 1), so |dm| and |d sqrt(v)| are at most `gradient_bound`
// and |m| at most `gradient`. Plus each side's own rounding: six fp32
// operations per element (decay, moments, denominator, step) on magnitudes
// up to |value| + lr |m|.
inline at::Tensor adamw_step_bound(double lr, const at::Tensor& gradient_bound, const at::Tensor& gradient,
                                   const at::Tensor& value) {
  return lr * gradient_bound * (1 + gradient) + two_orders(6) * (value.detach().abs() + lr * gradient);
}

// Forward passes of a transformer by two implementations (ours and a Python
// peer, or two of our attention kernels): the same operations, other
// kernels, orders and groupings. Each output element passes through a chain
// of roundings, the longest as long as the sum of the reductions along it
// (the *_depth functions below); each rounding is at most u times the
// magnitudes combined there, which LayerNorm keeps at the scale of the
// hidden states (every block reads a normalized copy of the residual stream
// and adds its output back). So each side is within gamma(depth) * scale of
// the exact value, scale = the largest |value| of the output, and the two
// sides within twice that.
inline double forward_bound(const at::Tensor& expected, double depth, double u = kUnitFp32) {
  return two_orders(depth, u) * expected.detach().abs().max().item<double>();
}

// The same in bf16, as LibTorch's CPU kernels compute it: bf16 values in,
// every reduction accumulated in fp32 (u_fp32 per term, the *_depth
// functions), each op's output rounded once to bf16 (u_bf16 each, the
// *_bf16_roundings functions). Along a chain of `depth` fp32 roundings and
// `roundings` bf16 ones, each relative, one side is within
// (1 + gamma(depth, u_fp32)) (1 + gamma(roundings, u_bf16)) - 1 of the exact
// value (on the same bf16 weights and inputs, which both sides round alike),
// relative to the output's scale; two sides within twice that. Two sides
// rounding at the same points gain nothing in the worst case: values a hair
// apart can round to neighbouring bf16 values, one step apart.
using models::mixed_gamma;
inline double bf16_forward_bound(const at::Tensor& expected, double depth, double roundings) {
  return 2 * mixed_gamma(depth, roundings) * expected.detach().abs().max().item<double>();
}

// The sub-blocks' rounding chains (rounding_bounds.h).
using models::attention_depth;
using models::block_depth;
using models::kAttentionBf16Roundings;
using models::kBlockBf16Roundings;
using models::kMlpBf16Roundings;
using models::layer_norm_depth;
using models::mlp_depth;

// The element of `got` farthest outside `bound` (elementwise, broadcast):
// the largest |got - want| / bound, where it is and the values there.
struct Worst {
  double ratio = 0;  // |got - want| / bound; <= 1 within the bound
  std::int64_t index = -1;  // flat index
  double got = 0, want = 0, bound = 0;
};

inline Worst worst_element(const at::Tensor& got, const at::Tensor& want, const at::Tensor& bound) {
  const auto g = got.detach().to(torch::kDouble).cpu().flatten();
  const auto w = want.detach().to(torch::kDouble).cpu().flatten();
  const auto b = bound.detach().to(torch::kDouble).cpu().expand_as(got.detach().cpu()).flatten();
  Worst worst;
  if (g.numel() == 0) return worst;
  const auto diff = (g - w).abs();
  // A zero bound admits only equality: the ratio is 0 (equal) or infinite.
  const auto ratio = torch::where(diff == 0, torch::zeros_like(diff), diff / b);
  // NaN anywhere (a NaN result or a NaN bound) counts as the worst.
  const auto nan = torch::isnan(ratio);
  worst.index = nan.any().item<bool>() ? nan.nonzero()[0][0].item<std::int64_t>() : ratio.argmax().item<std::int64_t>();
  worst.ratio = ratio[worst.index].item<double>();
  if (std::isnan(worst.ratio)) worst.ratio = INFINITY;
  worst.got = g[worst.index].item<double>();
  worst.want = w[worst.index].item<double>();
  worst.bound = b[worst.index].item<double>();
  return worst;
}

// Every element of `got` within `bound` of `want`; on failure the message
// names `what` (tensor and step) and the worst element with its index.
inline ::testing::AssertionResult within(const at::Tensor& got, const at::Tensor& want, const at::Tensor& bound,
                                         const std::string& what) {
  if (got.sizes() != want.sizes()) {
    return ::testing::AssertionFailure() << what << ": shape " << got.sizes() << " vs " << want.sizes();
  }
  const auto w = worst_element(got, want, bound);
  if (w.ratio <= 1) return ::testing::AssertionSuccess();
  std::ostringstream s;
  s.precision(9);
  s << what << ": element " << w.index << " is " << w.got << ", expected " << w.want << " (|difference| "
    << std::abs(w.got - w.want) << " > bound " << w.bound << ", " << w.ratio << " times it)";
  return ::testing::AssertionFailure() << s.str();
}

inline ::testing::AssertionResult within(double got, double want, double bound, const std::string& what) {
  return within(torch::tensor(got, torch::kDouble), torch::tensor(want, torch::kDouble),
                torch::tensor(bound, torch::kDouble), what);
}

}  // namespace epalm::testing
