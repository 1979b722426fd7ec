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
#include "epalm/core/memory_plan.h"
#include "epalm/experiments/frozen_plan.h"
#include "model_families.h"

namespace epalm::cli {

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kMiB = 1024.0 * 1024.0;

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

// Consecutive layers with the same size and policy share a row ("decoder.layers.0-31").
struct Row {
  std::string prefix;
  std::int64_t first = -1;
  std::int64_t last = -1;
  UnitPlan plan;
  int count = 1;
  std::string name() const {
    if (first < 0) return plan.unit.name;
    return prefix + std::to_string(first) + (last > first ? "-" + std::to_string(last) : "");
  }
};

std::vector<Row> group_rows(const std::vector<UnitPlan>& units) {
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

int run_plan(const Invocation& in) {
  const auto& o = in.options;
  const auto decoder = resolve_model_source(o["model"].as<std::string>());
  const auto& decoder_family = family_of(decoder);
  if (decoder_family.model_type != "opt") {
    throw UsageError("--model", "'" + decoder.spec + "' is a " + decoder_family.name + "; the decoder must be OPT");
  }
  const auto encoder = resolve_model_source(o["encoder"].as<std::string>());
  const auto& encoder_family = family_of(encoder);
  if (!encoder_family.tensor_shapes || encoder_family.generates) {
    throw UsageError("--encoder", "'" + encoder.spec + "' is not an encoder (ViT, TimeSformer, AST)");
  }
  const int ranks = o["ranks"].as<int>();
  const int batch = o["batch"].as<int>();
  const int tokens = o["tokens"].as<int>();
  const int prompt = o["prompt-len"].as<int>();
  const int connectors = o["connectors"].as<int>();
  const double memory_gib = o["memory"].as<double>();
  const auto threshold = o["threshold"].as<std::int64_t>();
  if (ranks < 1) throw UsageError("--ranks", "must be >= 1");
  if (batch < 1 || tokens < 1) throw UsageError("--batch", "--batch and --tokens must be >= 1");
  if (prompt < 0 || connectors < 1) throw UsageError("--connectors", "need --connectors >= 1 and --prompt-len >= 0");
  if (memory_gib < 0) throw UsageError("--memory", "must be >= 0 (0: no limit)");
  const auto dtype = parse_dtype(o["dtype"].as<std::string>());
  const auto format = analysis::parse_table_format(o["format"].as<std::string>());

  const auto decoder_shapes = decoder_family.tensor_shapes(decoder);
  const auto encoder_shapes = encoder_family.tensor_shapes(encoder);
  const auto d = decoder_family.hidden_size(decoder);
  const auto e = encoder_family.hidden_size(encoder);
  const auto vocab = decoder_shapes.at("decoder.embed_tokens.weight").at(0);

  // Backward runs through every decoder layer (the soft prompt enters at the
  // bottom): decoder units are gathered twice per micro-batch, the frozen
  // encoder (forward only) once.
  // As a run holds them: decoder layers and ViT blocks can be sharded, the
  // embeddings and other encoders stay whole.
  const auto units = experiments::shardable_units(decoder_shapes, encoder_shapes, encoder_family.model_type == "vit",
                                                  threshold, [](std::int64_t) { return 2; });
  std::int64_t decoder_layers = 0;
  for (const auto& u : units) decoder_layers += u.name.rfind("decoder.layers.", 0) == 0;

  PlanSettings s;
  s.world = ranks;
  s.element_bytes = static_cast<std::int64_t>(c10::elementSize(dtype));
  s.budget_bytes = static_cast<std::int64_t>(memory_gib * kGiB);
  s.mode = parse_plan_mode(o["mode"].as<std::string>(), "--mode");
  // eP-ALM's trainables: connectors encoder width -> decoder width (with
  // bias) and the soft prompt.
  s.trainable_parameters = connectors * (e * d + d) + prompt * d;
  // Decoder activations kept for backward, per token: ~10 d values per layer
  // (LayerNorm inputs, q/k/v/out, the MLP's hidden) and the fp32 logits.
  const std::int64_t sequence_tokens = static_cast<std::int64_t>(batch) * (tokens + prompt);
  s.activation_bytes = sequence_tokens * (10 * d * decoder_layers * s.element_bytes + 4 * vocab);
  const auto plan = plan_memory(units, s);

  const auto gib = [](std::int64_t b) { return fixed(static_cast<double>(b) / kGiB, 2); };
  const auto mib = [](std::int64_t b) { return fixed(static_cast<double>(b) / kMiB, 1); };
  if (format == analysis::TableFormat::kJson) {
    nlohmann::ordered_json j;
    j["decoder"] = decoder.spec;
    j["encoder"] = encoder.spec;
    j["ranks"] = ranks;
    j["dtype"] = dtype_label(dtype);
    j["mode"] = o["mode"].as<std::string>();
    j["budget_bytes"] = plan.budget_bytes;
    j["fits"] = plan.fits;
    for (const auto& u : plan.units) {
      j["units"].push_back({{"name", u.unit.name},
                            {"large_elements", u.unit.large_elements},
                            {"small_elements", u.unit.small_elements},
                            {"policy", shard_policy_name(u.policy)},
                            {"resident_bytes", u.resident_bytes},
                            {"all_gathers_per_micro_batch", u.policy == ShardPolicy::kShard ? u.unit.gathers_per_micro_batch : 0},
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
                << " prompt), mode " << o["mode"].as<std::string>() << "\n"
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
          "and communication per micro-batch and per optimizer step. The embeddings (tied to the LM head)\n"
          "and TimeSformer/AST blocks stay whole, as in epalm train --plan.",
          [](po::options_description& settings) {
            settings.add_options()                                                                              //
                ("model", po::value<std::string>()->default_value("opt-6.7b"), "the OPT decoder: a preset or a checkpoint directory")  //
                ("encoder", po::value<std::string>()->default_value("vit-large-patch16-224"),
                 "the encoder: a ViT, TimeSformer or AST preset or checkpoint directory")                        //
                ("ranks", po::value<int>()->default_value(8), "ranks (GPUs)")                                   //
                ("batch", po::value<int>()->default_value(2), "sequences per rank and micro-batch")           //
                ("tokens", po::value<int>()->default_value(64), "text tokens per sequence")                    //
                ("prompt-len", po::value<int>()->default_value(10), "soft-prompt tokens")                     //
                ("connectors", po::value<int>()->default_value(1), "connector matrices (1: shared)")          //
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
