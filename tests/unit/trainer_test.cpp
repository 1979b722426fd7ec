// Training eP-ALM on a tiny random OPT: the schedule, overfitting a handful of
// samples, bit-exact resume from a checkpoint, and refusing other base weights.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

#include "epalm/core/error.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/train/adamw_step.h"
#include "epalm/core/train/trainer.h"
#include "fixed_samples.h"
#include "tolerance.h"

namespace epalm {

namespace {

models::OptModel tiny_opt(std::uint64_t seed) {
  models::OptConfig c;
  c.vocab_size = 40;
  c.hidden_size = 16;
  c.num_layers = 4;
  c.ffn_dim = 32;
  c.num_heads = 2;
  c.max_positions = 32;
  c.word_embed_proj_dim = 16;
  torch::manual_seed(seed);
  std::map<std::string, at::Tensor> weights;
  for (const auto& [name, shape] : models::opt_tensor_shapes(c)) {
    const bool norm_weight = name.find("layer_norm.weight") != std::string::npos;
    // Token embeddings (the tied head) large enough for confident logits, layers
    // strong enough to carry the injected tokens past them.
    const double scale = name == "decoder.embed_tokens.weight" ? 0.5 : 0.3;
    weights[name] = norm_weight ? torch::ones(shape) : torch::randn(shape) * scale;
  }
  return models::OptModel(c, weights);
}

models::EpalmConfig tiny_epalm() {
  models::EpalmConfig c;
  c.levels = 2;
  c.start_layer = 1;
  c.end_layer = 3;
  c.prompt_length = 2;
  return c;
}

// The trainer tests' samples: vocabulary 40, features of width 8.
struct FixedSamples : testing::FixedSamples {
  explicit FixedSamples(int batch, int tokens = 6) : testing::FixedSamples(batch, tokens, 40, 8) {}
};

train::ScheduleSettings short_schedule(std::int64_t steps) {
  train::ScheduleSettings s;
  s.total_steps = steps;
  s.warmup_steps = 5;
  s.warmup_start_lr = 1e-3;
  s.min_lr = 1e-4;
  return s;
}

train::OptimizerSettings fast_optimizer() {
  train::OptimizerSettings o;
  o.lr = 1e-2;
  o.prompt_lr = 5e-3;
  o.weight_decay = 0.0;
  return o;
}

}  // namespace

// The trainer's fused AdamW step against LibTorch's own on the same
// gradients: two groups (the prompt's learning rate is another), weight decay,
// three steps, a parameter without gradient. The moments depend on the
// gradients only, so each side's m and v are the exact ones to a few
// roundings each on magnitudes up to the largest |g| (|g|^2 for v) so far; the values move by
// lr * m_hat / (sqrt(v_hat) + eps) a step, with about ten roundings on each
// side, plus the decay's two: |dp| <= steps * 2 gamma_10 (|p| + |update|).
TEST(Trainer, TheFusedAdamwStepIsLibTorchsToRounding) {
  torch::manual_seed(3);
  auto make = [] {
    std::vector<at::Tensor> out;
    torch::manual_seed(4);
    for (const auto n : {1000, 37, 5}) out.push_back(torch::randn({n}).requires_grad_(true));
    out.push_back(torch::randn({3, 4}).requires_grad_(true));  // never gets a gradient
    return out;
  };
  auto ours = make(), theirs = make();
  auto optimizer = [](std::vector<at::Tensor>& p) {
    std::vector<torch::optim::OptimizerParamGroup> groups;
    auto options = [](double lr) {
      return std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(lr).betas({0.9, 0.999}).eps(1e-8).weight_decay(0.02));
    };
    groups.emplace_back(std::vector<at::Tensor>{p[0], p[1]}, options(1e-2));
    groups.emplace_back(std::vector<at::Tensor>{p[2], p[3]}, options(3e-2));
    return std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(1e-2));
  };
  auto a = optimizer(ours), b = optimizer(theirs);
  constexpr int kSteps = 3;
  std::vector<at::Tensor> largest(3);  // elementwise max |g| over the steps
  for (int step = 0; step < kSteps; ++step) {
    for (int i = 0; i < 3; ++i) {
      const auto g = torch::randn(ours[static_cast<size_t>(i)].sizes());
      auto& l = largest[static_cast<size_t>(i)];
      l = l.defined() ? torch::maximum(l, g.abs()) : g.abs();
      ours[static_cast<size_t>(i)].mutable_grad() = g.clone();
      theirs[static_cast<size_t>(i)].mutable_grad() = g.clone();
    }
    train::adamw_step(*a);
    b->step();
  }
  for (int i = 0; i < 3; ++i) {
    const auto& p = ours[static_cast<size_t>(i)];
    const auto& q = theirs[static_cast<size_t>(i)];
    const auto& s = static_cast<torch::optim::AdamWParamState&>(*a->state().at(p.unsafeGetTensorImpl()));
    const auto& t = static_cast<torch::optim::AdamWParamState&>(*b->state().at(q.unsafeGetTensorImpl()));
    EXPECT_EQ(s.step(), kSteps);
    const auto& g = largest[static_cast<size_t>(i)];
    EXPECT_TRUE((s.exp_avg() - t.exp_avg()).abs().le(kSteps * testing::two_orders(4) * g).all().item<bool>());
    EXPECT_TRUE((s.exp_avg_sq() - t.exp_avg_sq()).abs().le(kSteps * testing::two_orders(4) * g * g).all().item<bool>());
    // The largest update a step can make: lr / bc1 * |m| / (sqrt(v / bc2) + eps) at its last step, 3e-2 at most per unit.
    const auto update = 3e-2 / (1 - std::pow(0.9, kSteps)) * t.exp_avg().abs() /
                        ((t.exp_avg_sq() / (1 - std::pow(0.999, kSteps))).sqrt() + 1e-8);
    const auto bound = kSteps * testing::two_orders(12) * (q.detach().abs() + update + 3e-2);
    EXPECT_TRUE((p.detach() - q.detach()).abs().le(bound).all().item<bool>()) << "parameter " << i;
    EXPECT_FALSE(torch::equal(p.detach(), make()[static_cast<size_t>(i)].detach())) << "parameter " << i << " moved";
  }
  EXPECT_TRUE(torch::equal(ours[3].detach(), theirs[3].detach()));
  EXPECT_EQ(a->state().count(ours[3].unsafeGetTensorImpl()), 0u) << "no state without a gradient";
}

// The fused kernel walks raw memory: a gradient that is not contiguous (here
// a transposed view) sends the step to LibTorch's own, so both sides are
// the same operations, bit for bit.
TEST(Trainer, TheAdamwStepTakesLibTorchsForANonContiguousGradient) {
  torch::manual_seed(5);
  const auto start = torch::randn({6, 4});
  auto ours = start.clone().requires_grad_(true), theirs = start.clone().requires_grad_(true);
  torch::optim::AdamW a({ours}, torch::optim::AdamWOptions(1e-2).weight_decay(0.02));
  torch::optim::AdamW b({theirs}, torch::optim::AdamWOptions(1e-2).weight_decay(0.02));
  for (int step = 0; step < 2; ++step) {
    const auto g = torch::randn({4, 6}).t();
    ASSERT_FALSE(g.is_contiguous());
    ours.mutable_grad() = g;
    theirs.mutable_grad() = g;
    train::adamw_step(a);
    b.step();
  }
  EXPECT_TRUE(torch::equal(ours.detach(), theirs.detach()));
  EXPECT_FALSE(torch::equal(ours.detach(), start));
}

TEST(Schedule, WarmsUpLinearlyThenDecaysByCosine) {
  train::ScheduleSettings s;
  s.total_steps = 1000;
  s.warmup_steps = 400;
  s.warmup_start_lr = 1e-5;
  s.min_lr = 1e-6;
  EXPECT_DOUBLE_EQ(s.lr_at(0, 2e-5, 2e-5), 1e-5);
  EXPECT_DOUBLE_EQ(s.lr_at(200, 2e-5, 2e-5), 1.5e-5);
  EXPECT_DOUBLE_EQ(s.lr_at(400, 2e-5, 2e-5), 2e-5);
  EXPECT_NEAR(s.lr_at(700, 2e-5, 2e-5), 1e-6 + 0.5 * (2e-5 - 1e-6), 1e-15);
  EXPECT_DOUBLE_EQ(s.lr_at(1000, 2e-5, 2e-5), 1e-6);
  EXPECT_DOUBLE_EQ(s.lr_at(5000, 2e-5, 2e-5), 1e-6);
  // Another group's rates scale with its base: the prompt at half the lr.
  EXPECT_DOUBLE_EQ(s.lr_at(0, 1e-5, 2e-5), 5e-6);
}

TEST(Trainer, OverfitsAHandfulOfSamples) {
  const auto decoder = tiny_opt(1);
  auto config = tiny_epalm();
  config.start_layer = 0;
  config.prompt_length = 4;
  models::EpalmModel model(config, decoder, 8, 4, 7);
  FixedSamples data(4, /*tokens=*/3);
  train::TrainSettings train;
  train.loss.weight = 1.0;
  auto optimizer = fast_optimizer();
  optimizer.lr = optimizer.prompt_lr = 3e-2;
  auto schedule = short_schedule(200);
  schedule.min_lr = optimizer.lr / 3;
  train::Trainer trainer(model, optimizer, schedule, train);
  const double first = trainer.step(data).loss;
  double last = first;
  for (int i = 1; i < 200; ++i) last = trainer.step(data).loss;
  EXPECT_LT(last, first / 5) << "first " << first << " last " << last;
}

TEST(Trainer, ResumedRunReproducesTheUninterruptedOneBitForBit) {
  const auto decoder = tiny_opt(1);
  train::TrainSettings train;
  train.accumulation = 2;
  train.clip_norm = 1.0;
  FixedSamples data(2);
  std::vector<double> uninterrupted;
  models::EpalmModel a(tiny_epalm(), decoder, 8, 4, 7);
  {
    train::Trainer t(a, fast_optimizer(), short_schedule(12), train);
    for (int i = 0; i < 12; ++i) uninterrupted.push_back(t.step(data).loss);
  }
  const auto path = (std::filesystem::temp_directory_path() / "epalm-trainer-resume.safetensors").string();
  std::vector<double> resumed;
  {
    models::EpalmModel b(tiny_epalm(), decoder, 8, 4, 7);
    train::Trainer t(b, fast_optimizer(), short_schedule(12), train);
    for (int i = 0; i < 5; ++i) resumed.push_back(t.step(data).loss);
    t.save_checkpoint(path, "levels = 2\n");
  }
  models::EpalmModel c(tiny_epalm(), decoder, 8, 4, /*other seed: overwritten by the checkpoint*/ 99);
  train::Trainer t(c, fast_optimizer(), short_schedule(12), train);
  t.load_checkpoint(path);
  EXPECT_EQ(t.steps_done(), 5);
  EXPECT_EQ(t.data_position(), 10);
  for (int i = 5; i < 12; ++i) resumed.push_back(t.step(data).loss);
  ASSERT_EQ(resumed.size(), uninterrupted.size());
  for (size_t i = 0; i < resumed.size(); ++i) EXPECT_EQ(resumed[i], uninterrupted[i]) << "step " << i;
  const auto pa = a.named_parameters();
  const auto pc = c.named_parameters();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i].second, pc[i].second)) << pa[i].first;
  std::filesystem::remove(path);
}

TEST(Trainer, RefusesACheckpointOfOtherBaseWeights) {
  const auto path = (std::filesystem::temp_directory_path() / "epalm-trainer-base.safetensors").string();
  FixedSamples data(2);
  {
    const auto decoder = tiny_opt(1);
    models::EpalmModel m(tiny_epalm(), decoder, 8, 4, 7);
    train::Trainer t(m, fast_optimizer(), short_schedule(4), {});
    t.step(data);
    t.save_checkpoint(path, "");
  }
  const auto other = tiny_opt(2);
  models::EpalmModel m(tiny_epalm(), other, 8, 4, 7);
  train::Trainer t(m, fast_optimizer(), short_schedule(4), {});
  try {
    t.load_checkpoint(path);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), path);
    EXPECT_NE(e.reason().find("other base weights"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

// One data stream for trainers stepped together: each position's batch is
// the same tensors for every trainer (step_together checks they read one text).
class OneStream : public train::BatchSource {
 public:
  explicit OneStream(train::BatchSource& source) : source_(source) {}
  train::Batch batch_at(std::int64_t position) override {
    if (position != position_) cached_ = source_.batch_at(position), position_ = position;
    return cached_;
  }

 private:
  train::BatchSource& source_;
  train::Batch cached_;
  std::int64_t position_ = -1;
};

// Passes of at most N variants: a variant's step depends only on the variants
// in its own pass. Three variants in passes of 2 equal the first two stepped
// jointly and the third alone, bit for bit (the same packed passes).
TEST(Trainer, StepTogetherRunsPassesOfAtMostTheGivenVariants) {
  const auto decoder = tiny_opt(1);
  FixedSamples samples(4);
  OneStream stream(samples);
  auto configs = std::vector<models::EpalmConfig>(3, tiny_epalm());
  configs[1].prompt_length = 1;
  configs[2].shared_connector = true;
  std::vector<std::unique_ptr<models::EpalmModel>> grouped, reference;
  std::vector<std::unique_ptr<train::Trainer>> grouped_trainers, reference_trainers;
  for (int k = 0; k < 3; ++k) {
    for (auto* side : {&grouped, &reference}) side->push_back(std::make_unique<models::EpalmModel>(configs[k], decoder, 8, 4, 20 + k));
    grouped_trainers.push_back(std::make_unique<train::Trainer>(*grouped.back(), fast_optimizer(), short_schedule(3), train::TrainSettings{}));
    reference_trainers.push_back(
        std::make_unique<train::Trainer>(*reference.back(), fast_optimizer(), short_schedule(3), train::TrainSettings{}));
  }
  for (int step = 0; step < 2; ++step) {
    const auto got = train::step_together({grouped_trainers[0].get(), grouped_trainers[1].get(), grouped_trainers[2].get()},
                                          {&stream, &stream, &stream}, 2);
    const auto joint = train::step_together({reference_trainers[0].get(), reference_trainers[1].get()}, {&stream, &stream}, 0);
    const auto alone = reference_trainers[2]->step(stream);
    EXPECT_EQ(got[0].loss, joint[0].loss) << "step " << step;
    EXPECT_EQ(got[1].loss, joint[1].loss) << "step " << step;
    EXPECT_EQ(got[2].loss, alone.loss) << "step " << step;
  }
  for (int k = 0; k < 3; ++k) {
    const auto a = grouped[k]->named_parameters(), b = reference[k]->named_parameters();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << k << " " << a[i].first;
  }
}

TEST(Trainer, AccumulationEqualsOneLargerBatch) {
  const auto decoder = tiny_opt(1);
  models::EpalmModel one(tiny_epalm(), decoder, 8, 4, 7);
  models::EpalmModel two(tiny_epalm(), decoder, 8, 4, 7);
  models::EpalmModel probe(tiny_epalm(), decoder, 8, 4, 7);  // per-sample gradients
  FixedSamples big(4), small(2);
  train::TrainSettings accumulate;
  accumulate.accumulation = 2;
  train::Trainer a(one, fast_optimizer(), short_schedule(3), {});
  train::Trainer b(two, fast_optimizer(), short_schedule(3), accumulate);
  const auto pa = one.named_parameters(), pb = two.named_parameters(), pp = probe.named_parameters();
  // Two micro-batches summed vs one batch: the per-row terms summed in
  // another order (testing::batch_split_bound). Terms: every position a
  // trainable acts on (prompt 2, text 6, the injected token) in 4 samples,
  // plus the micro-batches' sum and the division; sum|terms| per sample: each
  // sample's own gradient (`probe`). Each term's chain: the loss's over the
  // 9-position rows (features of width 8, no adapters: the depth counts them anyway).
  const double gradient_terms = 4 * (2 + 6 + 1) + 2;
  const double term_depth = models::epalm_loss_depth(decoder.config(), 4 * 6, 2 + 6 + 1, 8, 1);
  // The loss: 4 * 6 non-negative cross-entropies (sum|terms| is the total),
  // the weight, the micro-batches' sum, the division.
  const double loss_factor = testing::two_orders(4 * 6 + 3);
  for (int i = 0; i < 3; ++i) {
    // Both start each step from the same trainables: a step compares the
    // summation order alone, not earlier steps' rounding amplified by the model.
    std::int64_t numel = 0;
    std::vector<at::Tensor> magnitude;
    {
      torch::NoGradGuard no_grad;
      for (size_t k = 0; k < pa.size(); ++k) {
        pb[k].second.copy_(pa[k].second);
        pp[k].second.copy_(pa[k].second);
        magnitude.push_back(torch::zeros_like(pa[k].second));
        numel += pa[k].second.numel();
      }
    }
    const auto batch = big.batch_at(i);
    double normalizer = 0;
    for (std::int64_t j = 0; j < 4; ++j) {
      for (const auto& [name, p] : pp) p.mutable_grad() = at::Tensor();
      const auto terms =
          probe.loss_terms(batch.features.slice(0, j, j + 1), batch.input_ids.slice(0, j, j + 1),
                           batch.attention_mask.slice(0, j, j + 1), batch.labels.slice(0, j, j + 1), models::LossSettings{});
      terms.total.backward();
      normalizer += terms.normalizer;
      for (size_t k = 0; k < pp.size(); ++k) {
        if (pp[k].second.grad().defined()) magnitude[k] += pp[k].second.grad().abs();
      }
    }
    const auto ra = a.step(big);
    const auto rb = b.step(small);
    const auto at_step = " at step " + std::to_string(i);
    EXPECT_TRUE(testing::within(rb.loss, ra.loss, loss_factor * std::abs(ra.loss), "loss" + at_step));
    double difference_norm = 0;  // || bound on the gradients' difference ||_2
    for (size_t k = 0; k < pa.size(); ++k) {
      const auto bound = testing::batch_split_bound(magnitude[k] / normalizer, gradient_terms, term_depth);
      EXPECT_TRUE(testing::within(pb[k].second.grad(), pa[k].second.grad(), bound, pa[k].first + at_step));
      difference_norm += bound.pow(2).sum().item<double>();
    }
    // | ||g_a|| - ||g_b|| | <= ||g_a - g_b||, plus each norm's own rounding
    // (a sum of numel squares, the square root).
    const double norm_bound = std::sqrt(difference_norm) + testing::two_orders(numel + 2) * ra.grad_norm;
    EXPECT_TRUE(testing::within(rb.grad_norm, ra.grad_norm, norm_bound, "gradient norm" + at_step));
  }
}

}  // namespace epalm
