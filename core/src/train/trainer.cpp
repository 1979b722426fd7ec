#include "epalm/core/train/trainer.h"

#include <torch/torch.h>

#include <cmath>

#include "epalm/core/parallel/communicator.h"
#include "epalm/core/error.h"
#include "epalm/core/parallel/gradient_bucket.h"
#include "epalm/core/parallel/local_communicator.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/packed_training.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "epalm/core/train/adamw_step.h"

namespace epalm::train {

namespace {

constexpr const char* kFormat = "epalm-trainables-1";
constexpr double kPi = 3.14159265358979323846;

bool is_prompt(const std::string& name) { return name.rfind("prompt_module.", 0) == 0; }

}  // namespace

double ScheduleSettings::lr_at(std::int64_t step, double base, double lr) const {
  const double scale = lr > 0 ? base / lr : 1.0;
  if (step < warmup_steps) {
    const double start = warmup_start_lr * scale;
    return start + (base - start) * static_cast<double>(step) / static_cast<double>(warmup_steps);
  }
  const double floor = min_lr * scale;
  const double span = static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup_steps));
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  return floor + 0.5 * (base - floor) * (1.0 + std::cos(kPi * progress));
}

struct Trainer::Impl {
  models::EpalmModel& model;
  OptimizerSettings optimizer_settings;
  ScheduleSettings schedule;
  TrainSettings train;
  std::vector<std::pair<std::string, at::Tensor>> parameters;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::unique_ptr<parallel::GradientBucket> bucket;  // the trainables' gradients, one buffer
  parallel::LocalCommunicator alone;
  parallel::Communicator* communicator;
  std::int64_t steps = 0;
  std::int64_t position = 0;

  Impl(models::EpalmModel& m, OptimizerSettings o, ScheduleSettings s, TrainSettings t, parallel::Communicator* c)
      : model(m), optimizer_settings(o), schedule(s), train(t), parameters(m.named_parameters()),
        communicator(c != nullptr ? c : &alone) {
    std::vector<at::Tensor> trainables;
    for (const auto& [name, p] : parameters) trainables.push_back(p);
    bucket = std::make_unique<parallel::GradientBucket>(trainables);
    std::vector<at::Tensor> main_group, prompt_group;
    for (const auto& [name, p] : parameters) (is_prompt(name) ? prompt_group : main_group).push_back(p);
    auto options = [&](double lr) {
      return std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(lr).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay));
    };
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(main_group, options(o.lr));
    if (!prompt_group.empty()) groups.emplace_back(prompt_group, options(o.prompt_lr));
    optimizer = std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(o.lr));
  }

  void set_learning_rates() {
    auto& groups = optimizer->param_groups();
    const double lr = schedule.lr_at(steps, optimizer_settings.lr, optimizer_settings.lr);
    static_cast<torch::optim::AdamWOptions&>(groups[0].options()).lr(lr);
    if (groups.size() > 1) {
      const double prompt_lr = schedule.reference_fixed_prompt_lr
                                   ? optimizer_settings.prompt_lr
                                   : schedule.lr_at(steps, optimizer_settings.prompt_lr, optimizer_settings.lr);
      static_cast<torch::optim::AdamWOptions&>(groups[1].options()).lr(prompt_lr);
    }
  }
};

Trainer::Trainer(models::EpalmModel& model, OptimizerSettings optimizer, ScheduleSettings schedule, TrainSettings train,
                 parallel::Communicator* communicator)
    : impl_(std::make_unique<Impl>(model, optimizer, schedule, train, communicator)) {
  if (train.accumulation < 1) throw UsageError("training", "accumulation must be >= 1");
  if (schedule.total_steps < 1 || schedule.warmup_steps < 0) {
    throw UsageError("training", "total_steps must be >= 1 and warmup_steps >= 0");
  }
}

Trainer::~Trainer() = default;

std::int64_t Trainer::steps_done() const { return impl_->steps; }
std::int64_t Trainer::data_position() const { return impl_->position; }

StepResult Trainer::step(BatchSource& data) { return step_together({this}, {&data}).front(); }

std::vector<StepResult> step_together(const std::vector<Trainer*>& trainers, const std::vector<BatchSource*>& sources,
                                      std::size_t variants_per_pass) {
  if (trainers.empty() || trainers.size() != sources.size()) {
    throw Error("training", "step_together needs one batch source per trainer");
  }
  const int accumulation = trainers.front()->impl_->train.accumulation;
  for (auto* t : trainers) {
    if (t->impl_->train.accumulation != accumulation) throw Error("training", "trainers stepped together must accumulate alike");
  }
  struct Running {
    at::Tensor total;  // the summed loss stays on the device: one read per step, not per micro-batch
    double normalizer = 0;
  };
  std::vector<Running> running;
  for (auto* t : trainers) {
    auto& m = *t->impl_;
    m.bucket->zero();  // not the optimizer's zero_grad: gradients stay views of the bucket
    running.push_back({torch::zeros({1}, torch::TensorOptions().dtype(torch::kDouble).device(m.bucket->buffer().device()))});
  }
  for (int i = 0; i < accumulation; ++i) {
    // Rank r's micro-batch at a position is its shard of the global one;
    // the trainers read one data stream (their features may differ).
    std::vector<Batch> batches;
    std::vector<models::PackedVariant> variants;
    for (size_t k = 0; k < trainers.size(); ++k) {
      auto& m = *trainers[k]->impl_;
      batches.push_back(sources[k]->batch_at(m.position++));
      if (!batches[k].input_ids.is_same(batches.front().input_ids) || !batches[k].labels.is_same(batches.front().labels)) {
        throw Error("training", "trainers stepped together must read the same text");
      }
      variants.push_back({&m.model, batches[k].features, m.train.loss});
    }
    const auto& text = batches.front();
    const size_t per_pass = variants_per_pass == 0 ? variants.size() : variants_per_pass;
    for (size_t first = 0; first < variants.size(); first += per_pass) {
      const size_t last = std::min(variants.size(), first + per_pass);
      const std::vector<models::PackedVariant> group(variants.begin() + first, variants.begin() + last);
      const auto terms = models::training_loss_terms(group, text.input_ids, text.attention_mask, text.labels);
      // One backward per pass: each variant's trainables get the gradient of its own loss.
      at::Tensor summed;
      for (const auto& t : terms) summed = summed.defined() ? summed + t.total : t.total;
      summed.backward();
      for (size_t k = first; k < last; ++k) {
        running[k].total += terms[k - first].total.detach().to(torch::kDouble);
        running[k].normalizer += terms[k - first].normalizer;
      }
    }
  }
  std::vector<StepResult> results;
  for (size_t k = 0; k < trainers.size(); ++k) {
    auto& m = *trainers[k]->impl_;
    // Gradients of the summed losses, divided by the summed normalizers of every rank.
    const double global_normalizer = m.bucket->reduce(*m.communicator, running[k].normalizer);
    if (m.communicator->size() > 1) m.communicator->all_reduce(running[k].total, parallel::ReduceOp::kSum)->wait();
    std::vector<at::Tensor> params;
    for (const auto& [name, p] : m.parameters) {
      if (p.grad().defined()) params.push_back(p);
    }
    StepResult result;
    result.grad_norm = m.train.clip_norm > 0
                           ? torch::nn::utils::clip_grad_norm_(params, m.train.clip_norm)
                           : torch::nn::utils::clip_grad_norm_(params, std::numeric_limits<double>::infinity());
    m.set_learning_rates();
    result.lr = static_cast<torch::optim::AdamWOptions&>(m.optimizer->param_groups()[0].options()).lr();
    adamw_step(*m.optimizer);
    result.step = ++m.steps;
    result.loss = running[k].total.item<double>() / global_normalizer;
    results.push_back(result);
  }
  return results;
}

void Trainer::save_checkpoint(const std::string& path, const std::string& config_text) const {
  const auto& m = *impl_;
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  auto& state = m.optimizer->state();
  for (const auto& [name, p] : m.parameters) {
    tensors.emplace_back("param." + name, p.detach());
    auto it = state.find(p.unsafeGetTensorImpl());
    if (it == state.end()) continue;
    const auto& s = static_cast<const torch::optim::AdamWParamState&>(*it->second);
    tensors.emplace_back("adamw.exp_avg." + name, s.exp_avg());
    tensors.emplace_back("adamw.exp_avg_sq." + name, s.exp_avg_sq());
    tensors.emplace_back("adamw.step." + name, torch::tensor({s.step()}, torch::kLong));
  }
  tensors.emplace_back("rng.cpu", at::globalContext().defaultGenerator(c10::kCPU).get_state());
  // On a GPU, dropout (--reference-dropout) draws from the device's generator.
  const auto device = m.parameters.empty() ? c10::Device(c10::kCPU) : m.parameters.front().second.device();
  if (device.is_cuda()) tensors.emplace_back("rng.cuda", at::globalContext().defaultGenerator(device).get_state());
  safetensors::write_safetensors(path, tensors,
                                 {{"format", kFormat},
                                  {"steps", std::to_string(m.steps)},
                                  {"data_position", std::to_string(m.position)},
                                  {"base_fingerprint", m.model.decoder().fingerprint()},
                                  {"config", config_text}});
}

namespace {

// The checkpoint's metadata value for `key`; a file without it is not ours.
std::string metadata_field(const safetensors::SafetensorsFile& file, const std::string& path, const std::string& key) {
  const auto& meta = file.metadata();
  auto it = meta.find(key);
  if (it == meta.end()) throw Error(path, "not an epalm trainables checkpoint (no '" + key + "' metadata)");
  return it->second;
}

// Checks the format and the base weights, then loads every trainable.
void load_checked_trainables(const safetensors::SafetensorsFile& file, const std::string& path, models::EpalmModel& model) {
  if (metadata_field(file, path, "format") != kFormat) {
    throw Error(path, "unknown checkpoint format '" + metadata_field(file, path, "format") + "'");
  }
  const auto fingerprint = model.decoder().fingerprint();
  const auto stored = metadata_field(file, path, "base_fingerprint");
  if (stored != fingerprint) {
    throw Error(path, "trained on other base weights (fingerprint " + stored + ", the loaded decoder's is " +
                          fingerprint + ")");
  }
  const auto parameters = model.named_parameters();
  std::vector<std::pair<std::string, at::Tensor>> values;
  for (const auto& [name, p] : parameters) {
    if (!file.contains("param." + name)) throw Error(path, "has no trainable '" + name + "'");
    values.emplace_back(name, file.load("param." + name, p.scalar_type(), p.device()));
  }
  for (const auto& name : file.names()) {
    if (name.rfind("param.", 0) == 0 &&
        std::none_of(parameters.begin(), parameters.end(), [&](auto& q) { return "param." + q.first == name; })) {
      throw Error(path, "holds trainable '" + name.substr(6) + "' this model does not have");
    }
  }
  model.load_parameters(values, path);
}

}  // namespace

std::string read_checkpoint_config(const std::string& path) {
  const safetensors::SafetensorsFile file(path);
  return metadata_field(file, path, "config");
}

void load_trainables(const std::string& path, models::EpalmModel& model) {
  const safetensors::SafetensorsFile file(path);
  load_checked_trainables(file, path, model);
}

void Trainer::load_checkpoint(const std::string& path) {
  auto& m = *impl_;
  const safetensors::SafetensorsFile file(path);
  load_checked_trainables(file, path, m.model);
  auto& state = m.optimizer->state();
  state.clear();
  for (const auto& [name, p] : m.parameters) {
    if (!file.contains("adamw.exp_avg." + name)) continue;
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->exp_avg(file.load("adamw.exp_avg." + name, p.scalar_type(), p.device()));
    s->exp_avg_sq(file.load("adamw.exp_avg_sq." + name, p.scalar_type(), p.device()));
    s->step(file.load("adamw.step." + name).item<std::int64_t>());
    state[p.unsafeGetTensorImpl()] = std::move(s);
  }
  auto generator = at::globalContext().defaultGenerator(c10::kCPU);
  generator.set_state(file.load("rng.cpu"));
  // A GPU run's device generator; absent in CPU checkpoints, unused on the CPU.
  const auto device = m.parameters.empty() ? c10::Device(c10::kCPU) : m.parameters.front().second.device();
  if (device.is_cuda() && file.contains("rng.cuda")) {
    auto cuda_generator = at::globalContext().defaultGenerator(device);
    cuda_generator.set_state(file.load("rng.cuda"));
  }
  m.steps = std::stoll(metadata_field(file, path, "steps"));
  m.position = std::stoll(metadata_field(file, path, "data_position"));
}

}  // namespace epalm::train
