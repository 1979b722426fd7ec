// `epalm model info|run`: what a checkpoint or preset is, and its outputs on
// inputs from a safetensors file (parity checkable from outside the tests).
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include "command.h"
#include "epalm/analysis/table.h"
#include "epalm/core/error.h"
#include "epalm/core/runtime_info.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "epalm/distributed/world.h"
#include "epalm/experiments/model_families.h"

namespace epalm::cli {

using experiments::InputFile;
using experiments::RunSettings;
using experiments::dtype_label;
using experiments::family_of;
using experiments::model_families;
using experiments::parse_dtype;
using experiments::resolve_model_source;

namespace {

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  std::ostringstream s;
  s << std::fixed << std::setprecision(u == 0 ? 0 : 1) << bytes << " " << units[u];
  return s.str();
}

std::string human_count(std::int64_t n) {
  std::ostringstream s;
  if (n >= 1'000'000'000) s << std::fixed << std::setprecision(2) << n / 1e9 << " B";
  else if (n >= 1'000'000) s << std::fixed << std::setprecision(1) << n / 1e6 << " M";
  else s << n;
  return std::to_string(n) + " (" + s.str() + ")";
}

struct CheckpointFile {
  std::string path;
  std::size_t tensors = 0;
  std::uint64_t bytes = 0;
  std::map<std::string, std::size_t> dtypes;  // stored dtype -> tensors
};

std::vector<CheckpointFile> checkpoint_files(const std::string& directory) {
  safetensors::Checkpoint checkpoint(directory);
  std::vector<CheckpointFile> out;
  for (const auto& file : checkpoint.files()) {
    CheckpointFile f;
    f.path = file.path();
    for (const auto& t : file.header().tensors) {
      ++f.tensors;
      f.bytes += t.nbytes();
      ++f.dtypes[safetensors::dtype_name(t.dtype)];
    }
    out.push_back(f);
  }
  return out;
}

std::string dtype_list(const std::map<std::string, std::size_t>& dtypes) {
  std::string out;
  for (const auto& [dtype, count] : dtypes) out += (out.empty() ? "" : ", ") + dtype + " (" + std::to_string(count) + ")";
  return out;
}

int run_info(const Invocation& in) {
  const auto format = analysis::parse_table_format(in.options["format"].as<std::string>());
  const auto source = resolve_model_source(in.options["model"].as<std::string>());
  const auto& family = family_of(source);
  const auto summary = family.describe(source);
  std::vector<CheckpointFile> files;
  if (source.is_directory()) files = checkpoint_files(source.directory);
  std::map<std::string, std::size_t> stored;
  for (const auto& f : files) {
    for (const auto& [dtype, count] : f.dtypes) stored[dtype] += count;
  }
  const std::vector<std::pair<std::string, int>> widths = {{"fp32", 4}, {"bf16", 2}, {"fp16", 2}};

  if (format == analysis::TableFormat::kJson) {
    nlohmann::ordered_json j;
    j["model"] = source.spec;
    j["source"] = source.is_directory() ? "checkpoint" : "preset (random weights)";
    j["family"] = family.model_type;
    j["description"] = summary.description;
    for (const auto& [key, value] : summary.architecture) j["architecture"][key] = value;
    j["parameters"] = summary.parameters;
    for (const auto& [name, bytes] : widths) {
      j["memory"]["weights_bytes"][name] = summary.parameters * bytes;
      if (summary.kv_cache_values_per_token > 0) {
        j["memory"]["kv_cache_bytes_per_token"][name] = summary.kv_cache_values_per_token * bytes;
      }
    }
    if (source.is_directory()) {
      j["checkpoint"]["directory"] = source.directory;
      j["checkpoint"]["stored_dtypes"] = stored;
      j["checkpoint"]["files"] = nlohmann::ordered_json::array();
      for (const auto& f : files) {
        j["checkpoint"]["files"].push_back(
            {{"path", f.path}, {"tensors", f.tensors}, {"data_bytes", f.bytes}, {"dtypes", f.dtypes}});
      }
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }

  analysis::Table table({"section", "property", "value"});
  table.add_row({"model", "name", source.spec});
  table.add_row({"model", "source", source.is_directory() ? "checkpoint " + source.directory
                                                          : "preset (random weights)"});
  table.add_row({"model", "family", family.model_type + " (" + summary.description + ")"});
  for (const auto& [key, value] : summary.architecture) table.add_row({"architecture", key, value});
  table.add_row({"parameters", "total", human_count(summary.parameters)});
  for (const auto& [name, bytes] : widths) {
    table.add_row({"memory", "weights " + name, human_bytes(static_cast<double>(summary.parameters) * bytes)});
  }
  if (summary.kv_cache_values_per_token > 0) {
    for (const auto& [name, bytes] : widths) {
      if (name == "fp16") continue;  // as bf16
      table.add_row({"memory", "kv cache per token " + (name == "fp32" ? name : std::string("bf16/fp16")),
                     human_bytes(static_cast<double>(summary.kv_cache_values_per_token) * bytes)});
    }
  }
  if (source.is_directory()) {
    table.add_row({"checkpoint", "stored dtypes", dtype_list(stored)});
    for (const auto& f : files) {
      table.add_row({"checkpoint", std::filesystem::path(f.path).filename().string(),
                     std::to_string(f.tensors) + " tensors, " + human_bytes(static_cast<double>(f.bytes)) + ", " +
                         dtype_list(f.dtypes)});
    }
  }
  std::cout << table.render(format);
  return 0;
}

models::EarlyStopping parse_early_stopping(const std::string& name) {
  if (name == "heuristic" || name == "false") return models::EarlyStopping::kHeuristic;
  if (name == "true" || name == "when-full") return models::EarlyStopping::kWhenFull;
  if (name == "never") return models::EarlyStopping::kNever;
  throw UsageError("--early-stopping", "unknown value '" + name + "' (use heuristic, true or never)");
}

int run_run(const Invocation& in) {
  const auto& o = in.options;
  if (!o.count("inputs")) {
    throw UsageError("--inputs", "required: a safetensors file of the model's inputs (input_ids, pixel_values or "
                                 "input_values)");
  }
  if (!o.count("output")) throw UsageError("--output", "required: the safetensors file to write");
  RunSettings settings;
  settings.dtype = parse_dtype(o["dtype"].as<std::string>());
  settings.attention = models::parse_attention_kernel(o["attention"].as<std::string>());
  settings.seed = o["seed"].as<std::uint64_t>();
  const auto generate = o["generate"].as<std::string>();
  if (generate != "none") {
    models::GenerationSettings g;
    g.max_new_tokens = o["max-new-tokens"].as<int>();
    g.num_beams = o["num-beams"].as<int>();
    g.length_penalty = o["length-penalty"].as<double>();
    g.early_stopping = parse_early_stopping(o["early-stopping"].as<std::string>());
    g.eos_token_ids.clear();  // the model's own unless given
    if (o.count("eos-token-id")) g.eos_token_ids = {o["eos-token-id"].as<std::int64_t>()};
    if (generate == "greedy") {
      if (o["num-beams"].defaulted()) g.num_beams = 1;
      if (g.num_beams != 1) throw UsageError("--num-beams", "greedy decoding uses one beam; use --generate beam");
    } else if (generate == "beam") {
      if (g.num_beams < 2) throw UsageError("--num-beams", "beam search needs at least 2 beams");
    } else {
      throw UsageError("--generate", "unknown value '" + generate + "' (use none, greedy or beam)");
    }
    if (g.max_new_tokens < 1) throw UsageError("--max-new-tokens", "must be >= 1");
    settings.generation = g;
  }
  const auto source = resolve_model_source(o["model"].as<std::string>());
  const auto& family = family_of(source);
  if (settings.generation && !family.generates) {
    throw UsageError("--generate", family.name + " models do not generate");
  }
  settings.device = resolve_device(o["device"].as<std::string>(), in.world.topology().local_rank);
  const auto inputs_path = o["inputs"].as<std::string>();
  const auto output_path = o["output"].as<std::string>();
  InputFile inputs(inputs_path);
  const auto outputs = family.run(source, inputs, settings);
  std::map<std::string, std::string> metadata = {{"model", source.spec},
                                                 {"dtype", dtype_label(settings.dtype)},
                                                 {"device", settings.device.str()},
                                                 {"inputs", inputs_path},
                                                 {"epalm", collect_runtime_info().epalm_version}};
  safetensors::write_safetensors(output_path, outputs, metadata);
  std::cerr << "epalm model run: wrote " << outputs.size() << " tensors to " << output_path << "\n";
  return 0;
}

int run_model(const Invocation& in) {
  return run_action(in, {{"info", run_info}, {"run", run_run}});
}

std::string summary() {
  std::string families;
  for (const auto& f : model_families()) {
    std::string presets;
    for (const auto& p : f.presets) presets += (presets.empty() ? "" : ", ") + p;
    families += "  " + f.model_type + " (" + f.name + "): reads " + f.inputs + "\n      presets: " + presets + "\n";
  }
  return "Describe or run a model: a Hugging Face checkpoint directory or a preset (random weights).\n\n"
         "  epalm model info --model DIR|PRESET [--format text|json]\n"
         "      architecture, parameters, stored dtypes and files, memory of weights and KV cache\n"
         "  epalm model run --model DIR|PRESET --inputs in.safetensors --output out.safetensors\n"
         "      [--dtype fp32|bf16|fp16] [--device ...] [--attention eager|sdpa|auto]\n"
         "      [--generate greedy|beam --max-new-tokens N --num-beams K ...]\n"
         "      reads the family's inputs (below) and writes hidden_state_<i> (the embeddings, then\n"
         "      every block's output), last_hidden_state, and for OPT logits (and generated), atomically.\n\n"
         "Families (config.json model_type; timm ViT configs without one are ViT):\n" + families +
         "\nA Hugging Face repository: huggingface-cli download <repo> --local-dir DIR, then --model DIR\n"
         "(safetensors weights only; see the README).";
}

}  // namespace

Command model_command() {
  return {"model", summary(),
          [](po::options_description& settings) {
            settings.add_options()                                                                         //
                ("action", po::value<std::string>(), "info or run (also the first argument; the model may follow it)")               //
                ("model", po::value<std::string>()->default_value("opt-125m"),
                 "a Hugging Face checkpoint directory (config.json + safetensors) or a preset name")         //
                ("format", po::value<std::string>()->default_value("text"), "info: text, csv, md or json")  //
                ("inputs", po::value<std::string>(), "run: safetensors file of the inputs: OPT input_ids [B, T] "
                                                     "(+ attention_mask), ViT pixel_values [B, 3, H, W], "
                                                     "TimeSformer pixel_values [B, T, 3, H, W], AST input_values "
                                                     "[B, frames, mel]")  //
                ("output", po::value<std::string>(), "run: safetensors file to write (atomically)")          //
                ("dtype", po::value<std::string>()->default_value("fp32"), "run: fp32, bf16 or fp16")         //
                ("device", po::value<std::string>()->default_value("auto"), "run: auto (a GPU if any), cpu, cuda or cuda:N")  //
                ("attention", po::value<std::string>()->default_value("auto"),
                 "run: eager (transformers' operations), sdpa (fused) or auto (sdpa on CUDA)")  //
                ("seed", po::value<std::uint64_t>()->default_value(0), "run: seed of a preset's random weights")  //
                ("generate", po::value<std::string>()->default_value("none"),
                 "run: none, greedy or beam: also write the `generated` sequences (prompts left-padded)")  //
                ("max-new-tokens", po::value<int>()->default_value(20), "run: tokens to generate")        //
                ("num-beams", po::value<int>()->default_value(4), "run: beams of --generate beam")        //
                ("length-penalty", po::value<double>()->default_value(1.0), "run: beam length penalty")   //
                ("early-stopping", po::value<std::string>()->default_value("heuristic"),
                 "run: beam stopping as transformers' early_stopping: heuristic (False), true or never")  //
                ("eos-token-id", po::value<std::int64_t>(), "run: end-of-sequence id (default: the model's)");
          },
          run_model, {"action", "model"}};
}

}  // namespace epalm::cli
