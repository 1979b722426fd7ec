// Sharded data-parallel training under mpirun equals one process at the same
// global batch. A small pre-LN decoder (3 layers of LayerNorm + MLP with
// residuals) is frozen and read from a real safetensors checkpoint; the
// trainables are eP-ALM's kind: a soft prompt prepended to the input and a
// connector that injects "encoder" features into the middle layer. Each rank
// shards every layer (1/N resident), gathers it for forward and again for
// backward, and reduces the trainables' gradients once per step with its
// token count. Compared every step: the loss and the trainables' gradients
// (fp32, 1e-6 relative), the frozen weights afterwards (bit for bit), and
// the collectives (number and bytes, as the design predicts).
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>

#include "epalm/core/gradient_bucket.h"
#include "epalm/core/safetensors.h"
#include "epalm/core/sharded_layer.h"
#include "epalm/core/sharded_unit.h"
#include "epalm/distributed/communicators.h"
#include "epalm/distributed/world.h"
#include "mpi_test_world.h"

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

double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).norm().item<double>() / b.norm().item<double>();
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
  std::vector<std::unique_ptr<ShardedUnit>> units;
  std::vector<LayerFunction> layers;
  for (int i = 0; i < kLayers; ++i) {
    units.push_back(std::make_unique<ShardedUnit>(checkpoint, layer_tensors(i), rank, size, torch::kFloat, c10::kCPU));
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
  torch::optim::AdamW ref_opt({ref.prompt, ref.connector}, torch::optim::AdamWOptions(1e-2));
  torch::optim::AdamW dp_opt({dp.prompt, dp.connector}, torch::optim::AdamWOptions(1e-2));
  GradientBucket bucket({dp.prompt, dp.connector});

  std::int64_t layer_bytes = 0;
  for (const auto& u : units) layer_bytes += u->layout().padded_numel() * 4;
  for (int step = 0; step < 3; ++step) {
    ref_opt.zero_grad();
    auto ref_loss = summed_loss(ref, inputs, features, targets, 0, kSamples, [&](int i, const torch::Tensor& h) {
                      return layer_forward(full, "layers." + std::to_string(i) + ".", h);
                    }) /
                    global_tokens;
    ref_loss.backward();
    ref_opt.step();

    comm->reset_tallies();
    bucket.zero();
    auto local = summed_loss(dp, inputs, features, targets, begin, end, [&](int i, const torch::Tensor& h) {
      return apply_sharded_layer(*units[i], *comm, layers[i], h);
    });
    local.backward();
    const double tokens = bucket.reduce(*comm, static_cast<double>((end - begin) * kTokens));
    ASSERT_EQ(tokens, global_tokens);
    auto loss = local.detach().clone();
    comm->all_reduce(loss, ReduceOp::kSum)->wait();
    dp_opt.step();

    const double expected = ref_loss.item<double>();
    EXPECT_NEAR(loss.item<double>() / tokens, expected, 1e-6 * std::abs(expected)) << "step " << step;
    ASSERT_GT(ref.prompt.grad().norm().item<double>(), 0) << "the prompt reaches the loss";
    // Relative to the gradient's norm: fp32 sums in another order differ in the last bits.
    EXPECT_LE(relative_error(dp.prompt.grad(), ref.prompt.grad()), 1e-6) << "step " << step;
    EXPECT_LE(relative_error(dp.connector.grad(), ref.connector.grad()), 1e-6) << "step " << step;
    EXPECT_LE(relative_error(dp.connector, ref.connector), 1e-6) << "step " << step;
    // Per step: every layer gathered for forward and again for backward; one
    // gradient all_reduce (+ the loss report); no reduce-scatter at all.
    EXPECT_EQ(comm->tally(Collective::kAllGather).calls, 2 * kLayers) << "step " << step;
    EXPECT_EQ(comm->tally(Collective::kAllGather).bytes, 2 * layer_bytes) << "step " << step;
    EXPECT_EQ(comm->tally(Collective::kAllReduce).calls, 2) << "step " << step;
    EXPECT_EQ(comm->tally(Collective::kAllReduce).bytes, (bucket.numel() + 1) * 4 + 4) << "step " << step;
    EXPECT_EQ(comm->tally(Collective::kReduceScatter).calls, 0) << "step " << step;
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
