// eP-ALM training on a GPU (skipped without one; tests/support/gpu-check runs
// it): bf16 frozen weights follow the fp32 CPU run step by step within the
// bound their roundings derive (a CPU twin runs the same check everywhere),
// and a checkpointed run resumes onto the same curve with dropout on, which
// needs the GPU generator's state in the checkpoint.
#include <gtest/gtest.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <iostream>

#include "epalm/core/models/opt.h"
#include "epalm/core/train/trainer.h"
#include "../parity/forward_depth.h"
#include "fixed_samples.h"
#include "tolerance.h"

namespace epalm {

namespace {

// Weights drawn in fp32 on the CPU, then converted: every run gets the same
// values (rounded). Large enough for confident logits and for the injected
// tokens to matter, so that a few steps visibly lower the loss.
models::OptModel gpu_opt(c10::ScalarType dtype, c10::Device device, int layers = 4) {
  models::OptConfig c;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.num_layers = layers;
  c.ffn_dim = 64;
  c.num_heads = 4;
  c.max_positions = 64;
  c.word_embed_proj_dim = 32;
  auto g = at::make_generator<at::CPUGeneratorImpl>(5);
  std::map<std::string, at::Tensor> weights;
  for (const auto& [name, shape] : models::opt_tensor_shapes(c)) {
    const bool norm_weight = name.find("layer_norm.weight") != std::string::npos;
    const double scale = name == "decoder.embed_tokens.weight" ? 0.5 : 0.3;
    const auto w = norm_weight ? torch::ones(shape) : torch::randn(shape, g) * scale;
    weights[name] = w.to(device, dtype);
  }
  return models::OptModel(c, weights);
}

models::EpalmConfig layout(double dropout) {
  models::EpalmConfig c;
  c.levels = 2;
  c.start_layer = 1;
  c.end_layer = 3;
  c.prompt_length = 3;
  c.reference_dropout = dropout;
  return c;
}

// Samples of 7 tokens (vocabulary 64) and features of width 16 on `device`.
struct Samples : testing::FixedSamples {
  explicit Samples(c10::Device device) : testing::FixedSamples(2, 7, 64, 16, device, 17) {}
};

train::OptimizerSettings optimizer() {
  train::OptimizerSettings o;
  o.lr = o.prompt_lr = 1e-2;
  return o;
}

train::ScheduleSettings schedule(std::int64_t steps) {
  train::ScheduleSettings s;
  s.total_steps = steps;
  s.warmup_steps = 2;
  return s;
}

std::vector<double> losses(train::Trainer& t, train::BatchSource& data, int steps) {
  std::vector<double> out;
  for (int i = 0; i < steps; ++i) out.push_back(t.step(data).loss);
  return out;
}

// bf16 frozen weights on `device` against the fp32 run on the CPU, step by
// step: before each step the bf16 side takes the fp32 side's trainables, so
// each comparison is one forward on the same parameters and inputs, whose
// difference the roundings bound (tolerance.h: mixed_gamma; forward_depth.h:
// opt_depth, opt_bf16_roundings; derived as in EpalmTrainingMemory.
// Bf16FrozenWeightsTrainFp32Trainables). Two curves trained apart have no
// such bound: their parameters part after the first step, by as much as the
// loss's sensitivity to them allows. Two layers: through four, bf16's 2^-8
// per rounding leaves a bound of most of the logits' scale. Returns the
// worst loss difference as a share of its bound.
double expect_bf16_follows_fp32_step_by_step(c10::Device device, int steps) {
  constexpr int kShallow = 2;
  const auto fp32 = gpu_opt(c10::kFloat, c10::kCPU, kShallow);
  const auto bf16 = gpu_opt(c10::kBFloat16, device, kShallow);
  models::EpalmConfig shallow = layout(0.0);
  shallow.start_layer = 0;
  shallow.end_layer = kShallow;
  models::EpalmModel exact(shallow, fp32, 16, 4, 7);
  models::EpalmModel mixed(shallow, bf16, 16, 4, 7);
  Samples on_cpu(c10::kCPU), on_device(device);
  train::Trainer a(exact, optimizer(), schedule(steps), {});
  const auto& c = fp32.config();
  const auto targets = static_cast<double>(7 - 1);
  const auto keys = 1 + shallow.prompt_length + 7;  // injected token, prompt, text
  const double depth = testing::opt_depth(c, keys, -1);
  const double relative =
      testing::mixed_gamma(depth, testing::opt_bf16_roundings(c, -1, /*rounded_weights=*/true)) +
      testing::gamma_n(depth);
  const double ce_sums = static_cast<double>(c.vocab_size) + 2 * targets + 3;  // batch of 2
  double worst = 0;
  for (int step = 0; step < steps; ++step) {
    {
      torch::NoGradGuard no_grad;
      const auto from = exact.named_parameters();
      const auto to = mixed.named_parameters();
      for (std::size_t i = 0; i < from.size(); ++i) to[i].second.copy_(from[i].second);
    }
    const auto x_in = on_cpu.batch_at(step);
    const auto y_in = on_device.batch_at(step);
    double x_loss = 0, y_loss = 0, logit_bound = 0;
    {
      torch::NoGradGuard no_grad;
      const auto x = exact.forward(x_in.features, x_in.input_ids, x_in.attention_mask, x_in.labels);
      const auto y = mixed.forward(y_in.features, y_in.input_ids, y_in.attention_mask, y_in.labels);
      logit_bound = relative * x.logits.abs().max().item<double>();
      EXPECT_TRUE(testing::within(y.logits.to(c10::kCPU, c10::kFloat), x.logits,
                                  torch::tensor(logit_bound, torch::kDouble), "bf16 logits"))
          << "step " << step;
      x_loss = x.loss.item<double>();
      y_loss = y.loss.item<double>();
    }
    // A token's cross-entropy moves by at most twice the logits' bound; plus
    // both sides' fp32 rounding of the loss (all its terms >= 0).
    const double loss_bound =
        models::LossSettings{}.weight * targets * 2 * logit_bound + testing::two_orders(ce_sums) * std::abs(x_loss);
    EXPECT_TRUE(testing::within(y_loss, x_loss, loss_bound, "bf16 loss")) << "step " << step;
    worst = std::max(worst, std::abs(y_loss - x_loss) / loss_bound);
    a.step(on_cpu);  // the fp32 side moves on; the bf16 side follows at the next step
  }
  return worst;
}

}  // namespace

TEST(Bf16Training, FollowsTheFp32RunStepByStepOnTheCpu) {
  const double worst = expect_bf16_follows_fp32_step_by_step(c10::kCPU, 10);
  RecordProperty("worst_loss_difference_of_bound", std::to_string(worst));
  std::cout << "bf16 on the CPU: worst loss difference " << worst << " of its bound\n";
}

TEST(GpuTraining, Bf16FrozenWeightsFollowTheFp32Run) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  // cuBLAS may otherwise reduce bf16 GEMMs in bf16 (split-K), outside the
  // bound's premise that every sum is accumulated in fp32.
  at::globalContext().setAllowBF16ReductionCuBLAS(false);
  const c10::Device gpu(c10::kCUDA, 0);
  const double worst = expect_bf16_follows_fp32_step_by_step(gpu, 30);
  RecordProperty("worst_loss_difference_of_bound", std::to_string(worst));
  // And bf16 training on the GPU lowers the loss on its own, keeping the
  // trainables in fp32 on the device.
  const auto bf16 = gpu_opt(c10::kBFloat16, gpu);
  models::EpalmModel mixed(layout(0.0), bf16, 16, 4, 7);
  Samples on_gpu(gpu);
  train::Trainer b(mixed, optimizer(), schedule(30), {});
  const auto cuda = losses(b, on_gpu, 30);
  EXPECT_LT(cuda[28], 0.8 * cuda[0]);  // the same samples, 28 steps apart
  for (const auto& [name, p] : mixed.named_parameters()) {
    EXPECT_EQ(p.scalar_type(), c10::kFloat) << name;
    EXPECT_TRUE(p.is_cuda()) << name;
  }
}

TEST(GpuTraining, ResumedRunWithDropoutFollowsTheUninterruptedOne) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const c10::Device gpu(c10::kCUDA, 0);
  const auto decoder = gpu_opt(c10::kBFloat16, gpu);
  Samples data(gpu);
  torch::manual_seed(3);
  models::EpalmModel a(layout(0.1), decoder, 16, 4, 7);
  train::Trainer ta(a, optimizer(), schedule(10), {});
  const auto uninterrupted = losses(ta, data, 10);

  const auto path = (std::filesystem::temp_directory_path() / "epalm-gpu-resume.safetensors").string();
  torch::manual_seed(3);
  std::vector<double> resumed;
  {
    models::EpalmModel b(layout(0.1), decoder, 16, 4, 7);
    train::Trainer tb(b, optimizer(), schedule(10), {});
    resumed = losses(tb, data, 4);
    tb.save_checkpoint(path, "");
  }
  torch::manual_seed(99);  // both generators come back from the checkpoint
  models::EpalmModel c(layout(0.1), decoder, 16, 4, 8);
  train::Trainer tc(c, optimizer(), schedule(10), {});
  tc.load_checkpoint(path);
  for (double l : losses(tc, data, 6)) resumed.push_back(l);
  std::filesystem::remove(path);
  ASSERT_EQ(resumed.size(), uninterrupted.size());
  // Another dropout mask moves a loss by far more than the GPU's run-to-run noise.
  for (std::size_t i = 0; i < resumed.size(); ++i) {
    EXPECT_NEAR(resumed[i], uninterrupted[i], 1e-6 * uninterrupted[i]) << "step " << i;
  }
}

}  // namespace epalm
