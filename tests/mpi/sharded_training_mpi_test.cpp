// Sharded data-parallel training under mpirun equals one process at the same
// global batch. A small pre-LN decoder (3 layers of LayerNorm + MLP with
// residuals) is frozen and read from a real safetensors checkpoint; the
// trainables are eP-ALM's kind: a soft prompt prepended to the input and a
// connector that injects "encoder" features into the middle layer. Each rank
// shards every layer (1/N resident), gathers it for forward and again for
// backward, and reduces the trainables' gradients once per step with its
// token count. Compared every step: the loss, the trainables' gradients and
// the trainables (within the bound fp32 summation in another order allows,
// tests/support/tolerance.h), the frozen weights afterwards (bit for bit),
// and the collectives (number and bytes, as the design predicts).
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>

#include "epalm/core/parallel/gradient_bucket.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "epalm/core/parallel/sharded_layer.h"
#include "epalm/core/parallel/sharded_unit.h"
#include "epalm/distributed/communicators.h"
#include "epalm/distributed/world.h"
#include "mpi_test_world.h"
#include "tolerance.h"

namespace epalm::distributed {
namespace {

constexpr int kLayers = 3;
constexpr std::int64_t kWidth = 24, kHidden = 40, kEncoder = 16, kPrompt = 3, kTokens = 5, kSamples = 7;

std::string layer_name(int layer, const std::string& tensor) {
  return "layers." + std::to_string(layer) + "." + tensor;
}

std::vector<std::string> layer_tensors(int layer) {
  std::vector<std::string> names;
  for (const char* t : {"norm.weight", "norm.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}) {
    names.push_back(layer_name(layer, t));
  }
  return names;
}

// One frozen layer: h + fc2(relu(fc1(LayerNorm(m)))) where m adds the causal
// mean of the earlier tokens (as attention would, so the prompt reaches the
// text), weights by full name.
torch::Tensor layer_forward(const std::map<std::string, torch::Tensor>& w, const std::string& prefix,
                            const torch::Tensor& h) {
  const auto positions = torch::arange(1, h.size(1) + 1, h.options()).view({1, -1, 1});
  const auto mixed = h + h.cumsum(1) / positions;
  const auto x = torch::layer_norm(mixed, {kWidth}, w.at(prefix + "norm.weight"), w.at(prefix + "norm.bias"));
  const auto a = torch::relu(torch::linear(x, w.at(prefix + "fc1.weight"), w.at(prefix + "fc1.bias")));
  return h + torch::linear(a, w.at(prefix + "fc2.weight"), w.at(prefix + "fc2.bias"));
}

struct Trainables {
  torch::Tensor prompt;     // [kPrompt, kWidth]
  torch::Tensor connector;  // [kEncoder, kWidth]
};

Trainables make_trainables() {
  torch::manual_seed(21);
  return {torch::randn({kPrompt, kWidth}).mul_(0.1).requires_grad_(),
          torch::randn({kEncoder, kWidth}).mul_(0.1).requires_grad_()};
}

// Summed squared error of samples [begin, end) over their text tokens;
// `run_layer(i, h)` runs frozen layer i.
torch::Tensor summed_loss(const Trainables& t, const torch::Tensor& inputs, const torch::Tensor& features,
                          const torch::Tensor& targets, std::int64_t begin, std::int64_t end,
                          const std::function<torch::Tensor(int, const torch::Tensor&)>& run_layer) {
  const auto n = end - begin;
  auto h = torch::cat({t.prompt.unsqueeze(0).expand({n, kPrompt, kWidth}), inputs.slice(0, begin, end)}, 1);
  for (int i = 0; i < kLayers; ++i) {
    if (i == 1) h = h + features.slice(0, begin, end).matmul(t.connector).unsqueeze(1);  // injection
    h = run_layer(i, h);
  }
  return (h.slice(1, kPrompt) - targets.slice(0, begin, end)).pow(2).sum();
}

TEST(ShardedTraining, RanksEqualOneProcessAtTheSameGlobalBatch) {
  const World& world = *testing::mpi_test_world;
  auto comm = make_communicator(world, c10::kCPU);
  const int size = comm->size();
  const int rank = comm->rank();

  // The frozen decoder, as a checkpoint file rank 0 writes.
  const auto dir = std::filesystem::temp_directory_path() / ("epalm-sharded-training-" + std::to_string(getppid()));
  const auto path = (dir / "model.safetensors").string();
  if (rank == 0) {
    torch::manual_seed(3);
    std::vector<std::pair<std::string, torch::Tensor>> weights;
    for (int i = 0; i < kLayers; ++i) {
      weights.emplace_back(layer_name(i, "norm.weight"), 1 + 0.1 * torch::randn({kWidth}));
      weights.emplace_back(layer_name(i, "norm.bias"), 0.1 * torch::randn({kWidth}));
      weights.emplace_back(layer_name(i, "fc1.weight"), torch::randn({kHidden, kWidth}) / std::sqrt(kWidth));
      weights.emplace_back(layer_name(i, "fc1.bias"), 0.1 * torch::randn({kHidden}));
      weights.emplace_back(layer_name(i, "fc2.weight"), torch::randn({kWidth, kHidden}) / std::sqrt(kHidden));
      weights.emplace_back(layer_name(i, "fc2.bias"), 0.1 * torch::randn({kWidth}));
    }
    std::filesystem::create_directories(dir);
    safetensors::write_safetensors(path, weights);
  }
  world.barrier();
  safetensors::Checkpoint checkpoint(path);

  // The single process: every weight whole.
  std::map<std::string, torch::Tensor> full;
  for (const auto& name : checkpoint.names()) full[name] = checkpoint.load(name);
  // This rank: 1/N of each layer.
  std::vector<std::unique_ptr<parallel::ShardedUnit>> units;
  std::vector<parallel::LayerFunction> layers;
  for (int i = 0; i < kLayers; ++i) {
    units.push_back(std::make_unique<parallel::ShardedUnit>(checkpoint, layer_tensors(i), rank, size, torch::kFloat, c10::kCPU));
    const auto prefix = "layers." + std::to_string(i) + ".";
    layers.push_back([prefix](const std::map<std::string, torch::Tensor>& w, const torch::Tensor& h) {
      return layer_forward(w, prefix, h);
    });
  }

  torch::manual_seed(8);
  const auto inputs = torch::randn({kSamples, kTokens, kWidth});
  const auto features = torch::randn({kSamples, kEncoder});
  const auto targets = torch::randn({kSamples, kTokens, kWidth});
  const auto begin = kSamples * rank / size;
  const auto end = kSamples * (rank + 1) / size;
  const double global_tokens = kSamples * kTokens;

  auto ref = make_trainables();
  auto dp = make_trainables();
  // eps 1 dominates sqrt(v): an update is proportional to its gradient, so the
  // trainables' bound (testing::adamw_step_bound) holds; with eps 1e-8 a
  // near-zero gradient's rounding would become a sign-sized step.
  constexpr double kLr = 1e-2;
  torch::optim::AdamW ref_opt({ref.prompt, ref.connector}, torch::optim::AdamWOptions(kLr).eps(1.0));
  torch::optim::AdamW dp_opt({dp.prompt, dp.connector}, torch::optim::AdamWOptions(kLr).eps(1.0));
  parallel::GradientBucket bucket({dp.prompt, dp.connector});

  std::int64_t layer_bytes = 0;
  for (const auto& u : units) layer_bytes += u->layout().padded_numel() * 4;
  // The one process's gradients sum the global batch's rows; the ranks sum
  // their rows and all_reduce the partial sums: the same terms in another
  // order, each row's terms the same operations on the same operands. Two
  // orders of n terms differ by at most 2 gamma_n sum|terms| (tolerance.h);
  // n: the prompt's and the text's positions in every sample (the
  // connector's gradient sums over them too), plus the division by the
  // token count and the ranks' partial sums. sum|terms| per sample: each
  // sample's own gradient, the finest split of the terms the test sees.
  const double gradient_factor = testing::two_orders(kSamples * (kPrompt + kTokens) + 2);
  // The loss: kSamples * kTokens * kWidth squared errors (>= 0: sum|terms|
  // is the sum itself), the rank partials' sum, the division.
  const double loss_factor = testing::two_orders(kSamples * kTokens * kWidth + 2);
  const auto full_layer = [&](int i, const torch::Tensor& h) {
    return layer_forward(full, "layers." + std::to_string(i) + ".", h);
  };
  torch::Tensor largest_bound[2], largest_gradient[2];  // prompt, connector: over the steps so far
  for (int step = 0; step < 3; ++step) {
    // The one process starts every step from the ranks' trainables: a step
    // compares the summation order alone, not earlier steps' rounding (which
    // a gradient amplifies by the model's curvature, which no rounding bound knows).
    {
      torch::NoGradGuard no_grad;
      ref.prompt.copy_(dp.prompt);
      ref.connector.copy_(dp.connector);
    }
    const torch::Tensor before[2] = {dp.prompt.detach().clone(), dp.connector.detach().clone()};
    // sum over samples of |that sample's gradient| (of the loss over the global token count).
    torch::Tensor magnitude[2] = {torch::zeros_like(ref.prompt), torch::zeros_like(ref.connector)};
    for (std::int64_t k = 0; k < kSamples; ++k) {
      ref_opt.zero_grad();
      (summed_loss(ref, inputs, features, targets, k, k + 1, full_layer) / global_tokens).backward();
      magnitude[0] += ref.prompt.grad().abs();
      magnitude[1] += ref.connector.grad().abs();
    }
    ref_opt.zero_grad();
    auto ref_loss = summed_loss(ref, inputs, features, targets, 0, kSamples, full_layer) / global_tokens;
    ref_loss.backward();
    ref_opt.step();

    comm->reset_tallies();
    bucket.zero();
    auto local = summed_loss(dp, inputs, features, targets, begin, end, [&](int i, const torch::Tensor& h) {
      return parallel::apply_sharded_layer(*units[i], *comm, layers[i], h);
    });
    local.backward();
    const double tokens = bucket.reduce(*comm, static_cast<double>((end - begin) * kTokens));
    ASSERT_EQ(tokens, global_tokens);
    auto loss = local.detach().clone();
    comm->all_reduce(loss, parallel::ReduceOp::kSum)->wait();
    dp_opt.step();

    const double expected = ref_loss.item<double>();
    const auto at_step = " at step " + std::to_string(step);
    EXPECT_TRUE(
        testing::within(loss.item<double>() / tokens, expected, loss_factor * std::abs(expected), "loss" + at_step));
    ASSERT_GT(ref.prompt.grad().norm().item<double>(), 0) << "the prompt reaches the loss";
    const torch::Tensor ref_values[2] = {ref.prompt, ref.connector}, dp_values[2] = {dp.prompt, dp.connector};
    const char* names[2] = {"prompt", "connector"};
    int moved = 0;
    for (int i = 0; i < 2; ++i) {
      const auto bound = gradient_factor * magnitude[i];
      EXPECT_TRUE(testing::within(dp_values[i].grad(), ref_values[i].grad(), bound,
                                  std::string("gradient of the ") + names[i] + at_step));
      largest_bound[i] = step == 0 ? bound : torch::maximum(largest_bound[i], bound);
      const auto g = ref_values[i].grad().abs();
      largest_gradient[i] = step == 0 ? g : torch::maximum(largest_gradient[i], g);
      const auto value_bound = testing::adamw_step_bound(kLr, largest_bound[i], largest_gradient[i], ref_values[i]);
      EXPECT_TRUE(testing::within(dp_values[i], ref_values[i], value_bound, std::string("the ") + names[i] + at_step));
      // The step moved it by more than the bound: the comparison is not vacuous.
      moved += (dp_values[i].detach() - before[i]).abs().gt(value_bound).any().item<bool>();
    }
    EXPECT_EQ(moved, 2) << "step " << step;
    // Per step: every layer gathered for forward and again for backward; one
    // gradient all_reduce (+ the loss report); no reduce-scatter at all.
    EXPECT_EQ(comm->tally(parallel::Collective::kAllGather).calls, 2 * kLayers) << "step " << step;
    EXPECT_EQ(comm->tally(parallel::Collective::kAllGather).bytes, 2 * layer_bytes) << "step " << step;
    EXPECT_EQ(comm->tally(parallel::Collective::kAllReduce).calls, 2) << "step " << step;
    EXPECT_EQ(comm->tally(parallel::Collective::kAllReduce).bytes, (bucket.numel() + 1) * 4 + 4) << "step " << step;
    EXPECT_EQ(comm->tally(parallel::Collective::kReduceScatter).calls, 0) << "step " << step;
  }
  // The frozen weights are untouched: gathered again, they are the checkpoint's bytes.
  for (int i = 0; i < kLayers; ++i) {
    auto buffer = units[i]->make_buffer();
    units[i]->gather_into(*comm, buffer)->wait();
    for (const auto& [name, view] : units[i]->views(buffer)) EXPECT_TRUE(torch::equal(view, full.at(name))) << name;
  }
  world.barrier();
  std::error_code ignored;
  if (rank == 0) std::filesystem::remove_all(dir, ignored);
}

}  // namespace
}  // namespace epalm::distributed
