// Data parallelism for the trainables under mpirun: N ranks, each with its
// part of a global batch, equal one process with the whole batch. The model
// is a small two-layer network with a frozen first layer (as eP-ALM's frozen
// decoder feeding trainable connectors); the loss is a per-token sum divided
// by the global token count, and ranks hold different token counts.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "epalm/core/parallel/gradient_bucket.h"
#include "epalm/distributed/communicators.h"
#include "epalm/distributed/world.h"
#include "mpi_test_world.h"
#include "tolerance.h"

namespace epalm::distributed {
namespace {

struct Model {
  torch::Tensor frozen;  // [8, 16], no grad
  torch::Tensor w;       // [16, 4] trainable
  torch::Tensor b;       // [4] trainable
};

Model make_model() {
  torch::manual_seed(7);
  Model m;
  m.frozen = torch::randn({8, 16});
  m.w = torch::randn({16, 4}).mul_(0.1).requires_grad_();
  m.b = torch::zeros({4}).requires_grad_();
  return m;
}

// Token-level squared error summed over the tokens of samples [begin, end).
torch::Tensor summed_loss(const Model& m, const torch::Tensor& x, const torch::Tensor& y, int64_t begin, int64_t end) {
  const auto h = torch::relu(x.slice(0, begin, end).matmul(m.frozen));
  return (h.matmul(m.w) + m.b - y.slice(0, begin, end)).pow(2).sum();
}

TEST(GradientBucketMpi, RanksEqualOneProcessAtTheSameGlobalBatch) {
  const World& world = *testing::mpi_test_world;
  auto comm = make_communicator(world, c10::kCPU);
  const int size = comm->size();
  const int rank = comm->rank();

  // A global batch of 11 samples: uneven parts, so the token counts differ.
  torch::manual_seed(3);
  const int64_t samples = 11;
  const auto x = torch::randn({samples, 8});
  const auto y = torch::randn({samples, 4});
  const auto begin_of = [&](int r) { return samples * r / size; };
  const int64_t begin = begin_of(rank);
  const int64_t end = begin_of(rank + 1);

  auto ref = make_model();
  auto dp = make_model();
  const auto frozen_before = dp.frozen.clone();
  parallel::GradientBucket bucket({dp.w, dp.b});
  constexpr double kLr = 0.05;
  torch::optim::SGD ref_opt({ref.w, ref.b}, torch::optim::SGDOptions(kLr));
  torch::optim::SGD dp_opt({dp.w, dp.b}, torch::optim::SGDOptions(kLr));

  // Both sides compute the same sums in other orders (other row blocks, rank
  // partials then their all_reduce). Each side is within gamma_D of the
  // exact result times the same computation on absolute values (Higham,
  // 3.5: |fl(AB) - AB| <= gamma_n |A||B|, and errors of composed steps add),
  // D the longest chain of roundings: x F (8 terms), h w (16), + b - y (2),
  // the square (1), the gradient's or the loss's sum (11 rows, or 11 * 4
  // terms) and the division by the token count (1). Two sides: twice that.
  const double gradient_factor = testing::two_orders(8 + 16 + 2 + 1 + samples + 1);
  const double loss_factor = testing::two_orders(8 + 16 + 2 + 1 + samples * 4 + 1);
  comm->reset_tallies();
  for (int step = 0; step < 3; ++step) {
    // The one process starts every step from the ranks' trainables: a step
    // compares the summation order alone, not rounding carried from earlier steps.
    {
      torch::NoGradGuard no_grad;
      ref.w.copy_(dp.w);
      ref.b.copy_(dp.b);
    }
    const auto w_before = dp.w.detach().clone(), b_before = dp.b.detach().clone();
    // The computation on absolute values (relu: |relu(z)| <= |z|).
    const auto h_abs = x.abs().matmul(ref.frozen.abs());
    const auto e_abs = h_abs.matmul(ref.w.detach().abs()) + ref.b.detach().abs() + y.abs();
    const double n = samples * 4;
    const auto w_magnitude = 2 * h_abs.t().matmul(e_abs) / n, b_magnitude = 2 * e_abs.sum(0) / n;
    const double loss_magnitude = e_abs.pow(2).sum().item<double>() / n;

    // The single process: mean over the global batch's tokens (4 per sample).
    ref_opt.zero_grad();
    auto ref_loss = summed_loss(ref, x, y, 0, samples) / (samples * 4);
    ref_loss.backward();
    ref_opt.step();

    // This rank: its samples' summed loss, reduced with its token count.
    bucket.zero();
    auto local = summed_loss(dp, x, y, begin, end);
    local.backward();
    const double tokens = bucket.reduce(*comm, static_cast<double>((end - begin) * 4));
    EXPECT_EQ(tokens, samples * 4);
    auto loss = local.detach().clone();
    comm->all_reduce(loss, parallel::ReduceOp::kSum)->wait();
    dp_opt.step();

    const auto at_step = " at step " + std::to_string(step);
    EXPECT_TRUE(testing::within(loss.item<double>() / tokens, ref_loss.item<double>(), loss_factor * loss_magnitude,
                                "loss" + at_step));
    const auto w_bound = gradient_factor * w_magnitude, b_bound = gradient_factor * b_magnitude;
    EXPECT_TRUE(testing::within(dp.w.grad(), ref.w.grad(), w_bound, "gradient of w" + at_step));
    EXPECT_TRUE(testing::within(dp.b.grad(), ref.b.grad(), b_bound, "gradient of b" + at_step));
    // SGD from the same values: lr times the gradients' difference, plus
    // each side's two roundings (lr g, then the subtraction).
    const auto w_step = kLr * w_bound + testing::two_orders(2) * (ref.w.detach().abs() + kLr * ref.w.grad().abs());
    const auto b_step = kLr * b_bound + testing::two_orders(2) * (ref.b.detach().abs() + kLr * ref.b.grad().abs());
    EXPECT_TRUE(testing::within(dp.w, ref.w, w_step, "w" + at_step));
    EXPECT_TRUE(testing::within(dp.b, ref.b, b_step, "b" + at_step));
    // The step moved them by more than the bound: the comparison is not vacuous.
    EXPECT_TRUE((dp.w.detach() - w_before).abs().gt(w_step).any().item<bool>()) << "step " << step;
    EXPECT_TRUE((dp.b.detach() - b_before).abs().gt(b_step).any().item<bool>()) << "step " << step;
  }
  EXPECT_TRUE(torch::equal(dp.frozen, frozen_before)) << "frozen weights untouched";
  // One gradient all_reduce per step (16*4 + 4 gradients + the token count, fp32), plus the loss report.
  EXPECT_EQ(comm->tally(parallel::Collective::kAllReduce).calls, 3 * 2);
  EXPECT_EQ(comm->tally(parallel::Collective::kAllReduce).bytes, 3 * ((16 * 4 + 4 + 1) * 4 + 4));
  EXPECT_EQ(comm->tally(parallel::Collective::kAllGather).calls, 0);
  EXPECT_EQ(comm->tally(parallel::Collective::kReduceScatter).calls, 0);
}

}  // namespace
}  // namespace epalm::distributed
