// GradientBucket in one process: gradients become views of one flat buffer,
// autograd accumulates into it, and reduce() divides by the loss weight.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <csignal>

#include "epalm/core/error.h"
#include "epalm/core/parallel/gradient_bucket.h"
#include "epalm/core/parallel/local_communicator.h"
#include "epalm/core/stop_signal.h"
#include "tolerance.h"

namespace epalm {
namespace {

TEST(GradientBucket, GradientsAreViewsOfOneBufferThroughBackward) {
  torch::manual_seed(0);
  auto w = torch::randn({3, 4}, torch::requires_grad());
  auto b = torch::randn({4}, torch::requires_grad());
  parallel::GradientBucket bucket({w, b});
  EXPECT_EQ(bucket.numel(), 16);
  EXPECT_EQ(bucket.buffer().numel(), 17);

  const auto x = torch::randn({5, 3});
  (x.matmul(w) + b).pow(2).sum().backward();
  (x.matmul(w) + b).sum().backward();  // accumulates
  // Autograd wrote into the buffer in place: the views are still the gradients.
  EXPECT_EQ(w.grad().data_ptr(), bucket.buffer().data_ptr());
  EXPECT_EQ(static_cast<float*>(b.grad().data_ptr()), bucket.buffer().data_ptr<float>() + 12);

  // The same gradients computed without the bucket.
  auto w2 = w.detach().clone().requires_grad_();
  auto b2 = b.detach().clone().requires_grad_();
  ((x.matmul(w2) + b2).pow(2).sum() + (x.matmul(w2) + b2).sum()).backward();
  // The same terms in another order: the bucket sums x^T d1 + x^T d2, one
  // backward x^T (d1 + d2). Each is within gamma_D of the exact gradient times
  // the same computation on absolute values (Higham 3.5); D: x w (3 terms),
  // + b, d1 + d2, the 5 rows' sum, the accumulation: 11. Dividing by 4 is exact.
  const auto d_abs = 2 * (x.abs().matmul(w.detach().abs()) + b.detach().abs()) + 1;
  const auto w_bound = epalm::testing::two_orders(11) * x.abs().t().matmul(d_abs);
  const auto b_bound = epalm::testing::two_orders(11) * d_abs.sum(0);
  EXPECT_TRUE(epalm::testing::within(w.grad(), w2.grad(), w_bound, "w's gradient"));

  parallel::LocalCommunicator comm;
  EXPECT_DOUBLE_EQ(bucket.reduce(comm, 4.0), 4.0);
  EXPECT_TRUE(epalm::testing::within(w.grad(), w2.grad() / 4, w_bound / 4, "w's gradient / 4"));
  EXPECT_TRUE(epalm::testing::within(b.grad(), b2.grad() / 4, b_bound / 4, "b's gradient / 4"));

  bucket.zero();
  EXPECT_EQ(bucket.buffer().abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(w.grad().data_ptr(), bucket.buffer().data_ptr());
}

TEST(GradientBucket, TakesBackAGradientThatWasReplaced) {
  auto w = torch::zeros({2, 2}, torch::requires_grad());
  parallel::GradientBucket bucket({w});
  w.mutable_grad() = torch::ones({2, 2}) * 6;  // e.g. an optimizer's zero_grad(set_to_none) then backward
  parallel::LocalCommunicator comm;
  bucket.reduce(comm, 2.0);
  EXPECT_EQ(w.grad().data_ptr(), bucket.buffer().data_ptr());
  EXPECT_TRUE(torch::equal(w.grad(), torch::full({2, 2}, 3.0f)));
}

TEST(GradientBucket, RefusesWhatItCannotReduce) {
  EXPECT_THROW(parallel::GradientBucket({}), Error);
  EXPECT_THROW(parallel::GradientBucket({torch::zeros({2}, torch::dtype(torch::kBFloat16).requires_grad(true))}), Error);
  EXPECT_THROW(parallel::GradientBucket({torch::zeros({2})}), Error);  // does not require grad
  try {
    parallel::GradientBucket({torch::zeros({2}, torch::requires_grad()), torch::zeros({2}, torch::kDouble).requires_grad_()});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("parameter 1: is Double; trainables are reduced in fp32"), std::string::npos)
        << e.what();
  }
  auto w = torch::zeros({2}, torch::requires_grad());
  parallel::GradientBucket bucket({w});
  parallel::LocalCommunicator comm;
  EXPECT_THROW(bucket.reduce(comm, 0.0), Error);
}

TEST(StopSignal, SigtermIsRecordedAndAgreedOn) {
  install_stop_signal_handler();
  clear_stop_signal();
  parallel::LocalCommunicator comm;
  EXPECT_FALSE(stop_requested(comm));
  std::raise(SIGTERM);  // the handler records it; the process goes on
  EXPECT_TRUE(stop_signal_received());
  EXPECT_TRUE(stop_requested(comm));
  clear_stop_signal();
}

}  // namespace
}  // namespace epalm
