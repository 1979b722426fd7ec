// `epalm plan`: which frozen units to shard for a decoder + encoder on N
// ranks within a memory budget, the memory each rank then needs and the
// communication it does per micro-batch and per optimizer step.
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "command.h"
#include "epalm/analysis/table.h"
#include "epalm/core/error.h"
#include "epalm/core/parallel/memory_plan.h"
#include "epalm/experiments/frozen_plan.h"
#include "epalm/experiments/model_families.h"
#include "epalm/experiments/model_families/opt_family.h"
#include "training_settings.h"

namespace epalm::cli {

using experiments::dtype_label;
using experiments::family_of;
using experiments::opt_config_of;
using experiments::parse_dtype;
using experiments::resolve_model_source;

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kMiB = 1024.0 * 1024.0;

using analysis::fixed;

// Consecutive layers with the same size and policy share a row ("decoder.layers.0-31").
struct Row {
  std::string prefix;
  std::int64_t first = -1;
  std::int64_t last = -1;
  parallel::UnitPlan plan;
  int count = 1;
  std::string name() const {
    if (first < 0) return plan.unit.name;
    return prefix + std::to_string(first) + (last > first ? "-" + std::to_string(last) : "");
  }
};

std::vector<Row> group_rows(const std::vector<parallel::UnitPlan>& units) {
  std::vector<Row> rows;
  for (const auto& u : units) {
    Row r;
    r.plan = u;
    const auto dot = u.unit.name.find_last_of('.');
    if (dot != std::string::npos && u.unit.name.find_first_not_of("0123456789", dot + 1) == std::string::npos) {
      r.prefix = u.unit.name.substr(0, dot + 1);
      r.first = r.last = std::stoll(u.unit.name.substr(dot + 1));
    }
    if (!rows.empty()) {
      auto& p = rows.back();
      if (p.first >= 0 && r.first == p.last + 1 && p.prefix == r.prefix && p.plan.policy == u.policy &&
          p.plan.unit.large_elements == u.unit.large_elements && p.plan.unit.small_elements == u.unit.small_elements) {
        p.last = r.first;
        ++p.count;
        continue;
      }
    }
    rows.push_back(r);
  }
  return rows;
}

bool given(const po::variables_map& o, const char* key) { return o.count(key) && !o[key].defaulted(); }

// A model a registered experiment names: a path, a checkpoint directory under
// its model-dir, or else a preset (planned from the preset's shapes, no
// weights needed).
std::string experiment_model(const po::variables_map& t, const std::string& key) {
  const auto name = t[key].as<std::string>();
  const auto dir = experiments::checkpoint_directory(name, t["model-dir"].as<std::string>());
  return dir.empty() ? name : dir;
}

// What is planned: the models, the eP-ALM settings and the run's.
struct PlannedRun {
  std::string decoder, encoder;
  models::EpalmConfig epalm;
  c10::ScalarType dtype = c10::kBFloat16;
  std::string mode;
  double memory_gib = 0;
  int ranks = 8;
  experiments::PlanRunSettings run;
};

// --connectors N: one shared connector (N = 1) or one per level.
void set_connectors(models::EpalmConfig& e, int connectors) {
  e.shared_connector = connectors == 1;
  if (connectors > 1) e.levels = connectors;
}

// The registered experiment's run (--experiment), or eP-ALM's defaults; the
// plan's own options, where given, override either.
PlannedRun planned_run(const po::variables_map& o) {
  PlannedRun p;
  const auto experiment = o["experiment"].as<std::string>();
  const bool from_experiment = !experiment.empty();
  if (from_experiment) {
    po::variables_map t;
    try {
      t = experiment_settings(experiment);
    } catch (const UsageError& e) {
      throw UsageError("--experiment", e.reason());
    }
    p.decoder = experiment_model(t, "decoder");
    p.encoder = experiment_model(t, "encoder");
    p.epalm = epalm_config_from(t);
    // "auto" is bf16 on the GPUs a planned run is for.
    const auto precision = t["precision"].as<std::string>();
    p.dtype = precision == "auto" ? c10::kBFloat16 : parse_dtype(precision, "--precision");
    p.mode = t["plan"].as<std::string>();
    p.memory_gib = t["memory-budget"].as<double>();
    p.run.shard_threshold = t["shard-threshold"].as<std::int64_t>();
    p.run.batch_size = t["batch-size"].as<std::int64_t>();
    if (t["ranks"].as<int>() > 0) p.ranks = t["ranks"].as<int>();
  } else {
    p.epalm.prompt_mlp = false;  // as the option's default
  }
  // Without an experiment every option applies (its default included).
  const auto use = [&](const char* key) { return !from_experiment || given(o, key); };
  if (use("model")) p.decoder = o["model"].as<std::string>();
  if (use("encoder")) p.encoder = o["encoder"].as<std::string>();
  if (use("ranks")) p.ranks = o["ranks"].as<int>();
  if (use("batch")) p.run.batch_size = o["batch"].as<int>();
  if (use("prompt-len")) p.epalm.prompt_length = o["prompt-len"].as<int>();
  if (use("prompt-mlp")) p.epalm.prompt_mlp = o["prompt-mlp"].as<bool>();
  if (use("connectors")) {
    const int connectors = o["connectors"].as<int>();
    if (connectors < 1) throw UsageError("--connectors", "must be >= 1");
    set_connectors(p.epalm, connectors);
  }
  if (use("adapters")) p.epalm.adapters = models::adapter_settings(o["adapters"].as<std::string>());
  if (use("memory")) p.memory_gib = o["memory"].as<double>();
  if (use("dtype")) p.dtype = parse_dtype(o["dtype"].as<std::string>());
  if (use("mode")) p.mode = o["mode"].as<std::string>();
  if (use("threshold")) p.run.shard_threshold = o["threshold"].as<std::int64_t>();
  p.run.text_tokens = o["tokens"].as<int>();

  if (p.ranks < 1) throw UsageError("--ranks", "must be >= 1");
  if (p.run.batch_size < 1 || p.run.text_tokens < 1) throw UsageError("--batch", "--batch and --tokens must be >= 1");
  if (p.epalm.prompt_length < 0) throw UsageError("--prompt-len", "must be >= 0");
  if (p.memory_gib < 0) throw UsageError("--memory", "must be >= 0 (0: no limit)");
  p.run.world = p.ranks;
  p.run.element_bytes = static_cast<std::int64_t>(c10::elementSize(p.dtype));
  p.run.memory_budget = static_cast<std::int64_t>(p.memory_gib * kGiB);
  p.run.mode = parallel::parse_plan_mode(p.mode, from_experiment && !given(o, "mode") ? "--plan" : "--mode");
  p.run.training = true;
  return p;
}

int run_plan(const Invocation& in) {
  const auto& o = in.options;
  const auto planned = planned_run(o);
  const auto decoder = resolve_model_source(planned.decoder);
  const auto& decoder_family = family_of(decoder);
  if (decoder_family.model_type != "opt") {
    throw UsageError("--model", "'" + decoder.spec + "' is a " + decoder_family.name + "; the decoder must be OPT");
  }
  const auto encoder = resolve_model_source(planned.encoder);
  const auto& encoder_family = family_of(encoder);
  if (!encoder_family.tensor_shapes || encoder_family.generates) {
    throw UsageError("--encoder", "'" + encoder.spec + "' is not an encoder (ViT, TimeSformer, AST)");
  }
  const auto format = analysis::parse_table_format(o["format"].as<std::string>());
  const int ranks = planned.ranks;
  const auto batch = planned.run.batch_size;
  const auto tokens = planned.run.text_tokens;
  const int prompt = planned.epalm.prompt_length;
  const auto dtype = planned.dtype;

  // As a run holds them (the same estimate as `epalm train --plan`): decoder
  // layers and ViT blocks (Hugging Face names) can be sharded, the embeddings
  // and other encoders stay whole.
  // A checkpoint directory as a run reads it (a timm ViT's fused blocks stay
  // whole); one without weights yet, and a preset, by its config's shapes.
  bool encoder_shardable = encoder_family.model_type == "vit";
  models::TensorShapes encoder_shapes;
  try {
    if (encoder.is_directory()) encoder_shapes = experiments::encoder_plan_shapes(encoder.directory, encoder_shardable);
  } catch (const Error&) {
    encoder_shardable = encoder_family.model_type == "vit";
  }
  if (encoder_shapes.empty()) encoder_shapes = encoder_family.tensor_shapes(encoder);
  const auto estimate =
      experiments::estimate_frozen_plan(opt_config_of(decoder), encoder_shapes, encoder_shardable, planned.epalm, planned.run);
  const auto& s = estimate.settings;
  const auto& plan = estimate.memory;

  const auto gib = [](std::int64_t b) { return fixed(static_cast<double>(b) / kGiB, 2); };
  const auto mib = [](std::int64_t b) { return fixed(static_cast<double>(b) / kMiB, 1); };
  if (format == analysis::TableFormat::kJson) {
    nlohmann::ordered_json j;
    if (!o["experiment"].as<std::string>().empty()) j["experiment"] = o["experiment"].as<std::string>();
    j["decoder"] = decoder.spec;
    j["encoder"] = encoder.spec;
    j["ranks"] = ranks;
    j["batch"] = batch;
    j["tokens"] = tokens;
    j["prompt"] = prompt;
    j["dtype"] = dtype_label(dtype);
    j["mode"] = planned.mode;
    j["budget_bytes"] = plan.budget_bytes;
    j["fits"] = plan.fits;
    for (const auto& u : plan.units) {
      j["units"].push_back({{"name", u.unit.name},
                            {"large_elements", u.unit.large_elements},
                            {"small_elements", u.unit.small_elements},
                            {"policy", shard_policy_name(u.policy)},
                            {"resident_bytes", u.resident_bytes},
                            {"all_gathers_per_micro_batch", u.policy == parallel::ShardPolicy::kShard ? u.unit.gathers_per_micro_batch : 0},
                            {"received_bytes_per_micro_batch", u.received_bytes_per_micro_batch}});
    }
    j["trainable_parameters"] = s.trainable_parameters;
    j["per_rank"] = {{"frozen_total_bytes", plan.frozen_total_bytes},
                     {"frozen_resident_bytes", plan.frozen_resident_bytes},
                     {"gather_buffer_bytes", plan.gather_buffer_bytes},
                     {"trainable_bytes", plan.trainable_bytes},
                     {"activation_bytes", plan.activation_bytes},
                     {"total_bytes", plan.per_rank_bytes}};
    j["communication"] = {{"all_gathers_per_micro_batch", plan.all_gathers_per_micro_batch},
                          {"all_gather_bytes_per_micro_batch", plan.all_gather_bytes_per_micro_batch},
                          {"all_reduce_bytes_per_step", plan.all_reduce_bytes_per_step},
                          {"all_reduce_ring_bytes_per_step", plan.all_reduce_ring_bytes_per_step}};
    std::cout << j.dump(2) << "\n";
  } else {
    analysis::Table t({"unit", "count", "shardable", "replicated", "policy", "MiB/rank", "gathered MiB/micro-batch"});
    for (const auto& r : group_rows(plan.units)) {
      t.add_row({r.name(), std::to_string(r.count), std::to_string(r.plan.unit.large_elements),
                 std::to_string(r.plan.unit.small_elements), shard_policy_name(r.plan.policy),
                 mib(r.plan.resident_bytes), mib(r.plan.received_bytes_per_micro_batch)});
    }
    std::cout << t.render(format);
    if (format == analysis::TableFormat::kText) {
      std::cout << "\n"
                << decoder.spec << " + " << encoder.spec << " on " << ranks << " rank(s), " << dtype_label(dtype)
                << " frozen weights, micro-batch " << batch << " x " << tokens << " tokens (+" << prompt
                << " prompt), mode " << planned.mode << "\n"
                << "per rank: frozen " << gib(plan.frozen_resident_bytes) << " GiB (whole model "
                << gib(plan.frozen_total_bytes) << ") + gather buffers " << gib(plan.gather_buffer_bytes)
                << " + trainables " << mib(plan.trainable_bytes) << " MiB (" << s.trainable_parameters
                << " fp32, with gradients and AdamW state) + decoder activations ~" << gib(plan.activation_bytes)
                << " = " << gib(plan.per_rank_bytes) << " GiB";
      if (plan.budget_bytes > 0) {
        std::cout << (plan.fits ? ", within " : ", OVER ") << "the budget of " << gib(plan.budget_bytes) << " GiB";
      }
      std::cout << "\ncommunication per rank: " << plan.all_gathers_per_micro_batch
                << " all-gathers per micro-batch receiving " << gib(plan.all_gather_bytes_per_micro_batch)
                << " GiB; per optimizer step one all_reduce of " << mib(plan.all_reduce_bytes_per_step)
                << " MiB (a ring sends " << mib(plan.all_reduce_ring_bytes_per_step) << " MiB per rank)\n";
    }
  }
  if (!plan.fits) {
    throw Error("plan", "needs " + gib(plan.per_rank_bytes) + " GiB per rank even sharding every unit; the budget is " +
                            gib(plan.budget_bytes) + " GiB (add ranks, shrink the micro-batch, or raise --memory)");
  }
  return 0;
}

}  // namespace

Command plan_command() {
  return {"plan",
          "Choose per frozen unit (a decoder layer, a ViT block) between Replicate and\n"
          "Shard for a decoder + encoder on N ranks within a per-rank memory budget (largest units\n"
          "sharded first, only as far as memory demands), and print the plan with each rank's memory\n"
          "and communication per micro-batch and per optimizer step. The estimate is the one\n"
          "epalm train --plan makes (its trainables, activations and all-gathers); the embeddings (tied\n"
          "to the LM head) and TimeSformer/AST blocks stay whole, as in a run. --experiment NAME plans\n"
          "that registered experiment's run (its models, prompt, connectors, adapters, batch size,\n"
          "precision, plan mode and budget; presets need no weights); options given override it.",
          [](po::options_description& settings) {
            settings.add_options()                                                                              //
                ("experiment", po::value<std::string>()->default_value(""),
                 "a registered experiment (epalm experiments list) whose training run to plan")  //
                ("model", po::value<std::string>()->default_value("opt-6.7b"), "the OPT decoder: a preset or a checkpoint directory")  //
                ("encoder", po::value<std::string>()->default_value("vit-large-patch16-224"),
                 "the encoder: a ViT, TimeSformer or AST preset or checkpoint directory")                        //
                ("ranks", po::value<int>()->default_value(8), "ranks (GPUs)")                                   //
                ("batch", po::value<int>()->default_value(2), "sequences per rank and micro-batch")           //
                ("tokens", po::value<int>()->default_value(64), "text tokens per sequence")                    //
                ("prompt-len", po::value<int>()->default_value(10), "soft-prompt tokens")                     //
                ("prompt-mlp", po::value<bool>()->default_value(false), "the prompt reparameterised by an MLP")  //
                ("connectors", po::value<int>()->default_value(1), "connector matrices (1: shared, else one per level)")  //
                ("adapters", po::value<std::string>()->default_value("none"),
                 "decoder adapters (reduction 4): none, ffn, attention or both")  //
                ("memory", po::value<double>()->default_value(0), "GiB per rank for weights, buffers, trainables "
                                                                   "and activations (0: no limit)")  //
                ("dtype", po::value<std::string>()->default_value("bf16"), "the frozen weights: fp32, bf16 or fp16")  //
                ("mode", po::value<std::string>()->default_value("auto"), "auto, replicate or shard (every unit)")  //
                ("threshold", po::value<std::int64_t>()->default_value(100000),
                 "2-D tensors with fewer elements stay replicated (DeepSpeed's persistence threshold)")  //
                ("format", po::value<std::string>()->default_value("text"), "text, csv, md or json");
          },
          run_plan};
}

}  // namespace epalm::cli
