// `epalm toy world`: the toy world (generated on first use, then cached);
// `epalm toy tokenizer`: a byte-level BPE OPT tokenizer trained on a corpus;
// `epalm toy pretrain`: the world's unimodal models, pretrained where missing.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "command.h"
#include "epalm/analysis/table.h"
#include "epalm/core/error.h"
#include "epalm/core/home.h"
#include "epalm/distributed/world.h"
#include "epalm/experiments/bpe_trainer.h"
#include "epalm/experiments/toy_models.h"
#include "epalm/experiments/toy_world.h"
#include "epalm/core/progress.h"

namespace epalm::cli {

namespace {

namespace toy = experiments::toy;

int run_world(const Invocation& in) {
  const auto& o = in.options;
  const auto format = analysis::parse_table_format(o["format"].as<std::string>());
  toy::WorldSpec spec;
  spec.seed = o["seed"].as<std::uint64_t>();
  spec.sizes = toy::parse_sizes(o.count("sizes") ? o["sizes"].as<std::string>() : "");
  const auto info = o.count("output") ? toy::ensure_world_at(spec, o["output"].as<std::string>())
                                      : toy::ensure_world(spec);
  if (in.world.rank() != 0) return 0;
  if (format == analysis::TableFormat::kJson) {
    nlohmann::ordered_json out = {{"root", info.root}, {"key", info.key}, {"generated", info.generated},
                                  {"seconds", info.seconds}, {"counts", info.counts}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  analysis::Table table({"what", "count"});
  for (const auto& [name, count] : info.counts) table.add_row({name, std::to_string(count)});
  if (format == analysis::TableFormat::kText) {
    std::cout << "toy world " << info.key << " at " << info.root << " ("
              << (info.generated ? "generated in " + std::to_string(static_cast<int>(info.seconds * 1000)) + " ms"
                                 : "cached")
              << ")\n\n";
  }
  std::cout << table.render(format);
  return 0;
}

int run_tokenizer(const Invocation& in) {
  const auto& o = in.options;
  if (!o.count("corpus")) throw UsageError("--corpus", "tokenizer needs a text file, one text per line");
  if (!o.count("output")) throw UsageError("--output", "tokenizer needs the directory to write");
  const auto corpus_path = o["corpus"].as<std::string>();
  std::ifstream corpus(corpus_path, std::ios::binary);
  if (!corpus) throw Error(corpus_path, "cannot open the corpus");
  std::vector<std::string> texts;
  for (std::string line; std::getline(corpus, line);) texts.push_back(line);
  experiments::BpeTrainerOptions options;
  const int size = o["vocab-size"].as<int>();
  if (size < 1) throw UsageError("--vocab-size", "must be positive");
  options.vocab_size = static_cast<std::size_t>(size);
  options.source = corpus_path;
  if (in.world.rank() != 0) return 0;
  const auto vocabulary = experiments::train_bpe(texts, options);
  const auto directory = o["output"].as<std::string>();
  experiments::write_opt_tokenizer(vocabulary, directory);
  std::cout << "wrote " << directory << ": " << vocabulary.tokens.size() << " tokens (" << vocabulary.merges.size()
            << " merges) from " << texts.size() << " lines\n";
  return 0;
}

// The world's unimodal models, pretrained where missing, and what each knows.
int run_pretrain(const Invocation& in) {
  const auto& o = in.options;
  toy::WorldSpec spec;
  spec.seed = o["seed"].as<std::uint64_t>();
  spec.sizes = toy::parse_sizes(o.count("sizes") ? o["sizes"].as<std::string>() : "");
  const auto world = toy::ensure_world(spec);
  if (in.world.rank() != 0) return 0;
  toy::ToyModelSettings settings;
  settings.reduced = o["reduced"].as<bool>();
  // Step, loss, rate and ETA on a terminal; one log line per finished phase.
  Progress progress(isatty(STDERR_FILENO) != 0);
  settings.progress = [&progress](const experiments::PretrainingProgress& p) {
    progress.say(experiments::progress_line(p));
    if (p.step == p.steps) {
      progress.clear();
      spdlog::info("pretraining {}: {} done", p.model, p.phase);
    }
  };
  // Beside the worlds: $EPALM_HOME/toy-models/<world key>.
  const auto home = epalm_home();
  const auto models = toy::ensure_toy_models(world, home, settings);
  const auto table = toy::knowledge_table(models);
  std::cout << table.render(analysis::parse_table_format(o["format"].as<std::string>()));
  for (const auto& name : models.pretrained_now) std::cout << "pretrained now: " << name << "\n";
  return 0;
}

int run_toy(const Invocation& in) {
  return run_action(in, {{"world", run_world}, {"tokenizer", run_tokenizer}, {"pretrain", run_pretrain}});
}

}  // namespace

Command toy_command() {
  return {"toy",
          "The toy world: `toy world` generates (once, then caches under $EPALM_HOME/toy-world)\n"
          "images, clips and tone sequences with captions and questions in the real datasets'\n"
          "layouts, a corpus and a tokenizer; `toy tokenizer` trains a byte-level BPE OPT tokenizer;\n"
          "`toy pretrain` pretrains the world's unimodal models (decoder on text, ViT, TimeSformer, AST)\n"
          "where missing, under $EPALM_HOME/toy-models, and reports what each learned.",
          [](po::options_description& settings) {
            settings.add_options()                                                                          //
                ("action", po::value<std::string>(), "world or tokenizer (also the first argument)")         //
                ("seed", po::value<std::uint64_t>()->default_value(0), "world: the world's seed")           //
                ("sizes", po::value<std::string>(),
                 "world: sizes to change, e.g. train-images=500,video-frames=8 (docs/toy-world.md lists them)")  //
                ("output", po::value<std::string>(),
                 "world: the directory (default $EPALM_HOME/toy-world/<key>); tokenizer: the directory to write")  //
                ("corpus", po::value<std::string>(), "tokenizer: a text file, one text per line (ASCII)")       //
                ("vocab-size", po::value<int>()->default_value(1024), "tokenizer: the target vocabulary size")  //
                ("reduced", po::value<bool>()->default_value(false),
                 "pretrain: a tenth of the steps (quick, weaker models; for tests)")  //
                ("format", po::value<std::string>()->default_value("text"), "world: text, csv, md or json");
          },
          run_toy,
          {"action"}};
}

}  // namespace epalm::cli
