#include "epalm/core/eval/spice.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "epalm/core/child_process.h"
#include "epalm/core/error.h"
#include "epalm/core/scratch_dir.h"
#include "numpy_sum.h"

namespace epalm::eval {

namespace fs = std::filesystem;

namespace {

constexpr const char* kCoreNlpJars[] = {"stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar"};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// SPICE writes NaN F-scores as the bare token NaN (valid for Python's json,
// not for JSON): outside strings it becomes null, read back as NaN.
std::string nan_as_null(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (text.compare(i, 3, "NaN") == 0) {
      out += "null";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// Runs argv in `cwd` to completion, output to `log`; the exit status.
int run_to_completion(const std::vector<std::string>& argv, const std::string& cwd, const fs::path& log,
                      const std::string& where) {
  ChildOptions options;
  options.cwd = cwd;
  options.out = options.err = ChildStream::kFile;
  options.out_file = options.err_file = log.string();
  return ChildProcess(argv, options, where).wait().shell_code();
}

std::string tail(const std::string& text, std::size_t n) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

}  // namespace

JavaTool find_spice(const std::string& jar) {
  auto tool = find_java_tool("SPICE", jar, "EPALM_SPICE_JAR",
                             "spice-1.0.jar, e.g. pycocoevalcap's site-packages/pycocoevalcap/spice/spice-1.0.jar");
  if (!tool.available()) return tool;
  const auto lib = fs::absolute(tool.jar).parent_path() / "lib";
  for (const char* name : kCoreNlpJars) {
    if (!fs::is_regular_file(lib / name)) {
      tool.skipped_reason = "SPICE skipped: " + (lib / name).string() +
                            " is missing (Stanford CoreNLP 3.6.0, which pycocoevalcap's "
                            "spice/get_stanford_models.py downloads)";
      break;
    }
  }
  return tool;
}

CorpusScores read_spice_output(const std::string& path, const std::vector<CaptionExample>& examples) {
  nlohmann::json results;
  try {
    results = nlohmann::json::parse(nan_as_null(read_text(path)));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path, std::string("SPICE's output is not JSON: ") + e.what());
  }
  if (!results.is_array()) throw Error(path, "SPICE's output is not a list of images");
  std::map<std::string, double> f_of;
  std::vector<double> in_output_order;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& item = results[i];
    const auto where = "item " + std::to_string(i);
    if (!item.is_object() || !item.contains("image_id") || !item.contains("scores")) {
      throw Error(path, where + " has no image_id or scores");
    }
    const auto& id = item["image_id"];
    const auto key = id.is_string() ? id.get<std::string>() : id.dump();
    const auto& all = item["scores"].value("All", nlohmann::json());
    if (!all.is_object() || !all.contains("f")) throw Error(path, where + " has no scores.All.f");
    const auto& f = all["f"];
    double value = std::numeric_limits<double>::quiet_NaN();  // float_convert(None)
    if (f.is_number()) {
      value = f.get<double>();
    } else if (!f.is_null()) {
      throw Error(path, where + ": scores.All.f is not a number");
    }
    f_of[key] = value;
    in_output_order.push_back(value);
  }
  CorpusScores scores;
  for (const auto& e : examples) {
    const auto found = f_of.find(e.image_id);
    if (found == f_of.end()) throw Error(path, "no SPICE score for image " + e.image_id);
    scores.per_example.push_back(found->second);
  }
  scores.mean = in_output_order.empty() ? std::numeric_limits<double>::quiet_NaN() : numpy_mean(in_output_order);
  return scores;
}

std::string spice_input(const std::vector<CaptionExample>& tokenized) {
  std::vector<const CaptionExample*> sorted;
  for (const auto& e : tokenized) {
    if (e.references.empty()) throw Error("captions of image " + e.image_id, "there are no references");
    sorted.push_back(&e);
  }
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->image_id < b->image_id; });
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i]->image_id == sorted[i - 1]->image_id) {
      throw Error("captions of image " + sorted[i]->image_id, "the image appears twice (SPICE scores by image)");
    }
  }
  nlohmann::json input = nlohmann::json::array();
  for (const auto* e : sorted) input.push_back({{"image_id", e->image_id}, {"test", e->prediction}, {"refs", e->references}});

  return input.dump(2);
}

std::optional<CorpusScores> spice(const std::vector<CaptionExample>& tokenized, const JavaTool& tool,
                                  const std::string& cache_dir) {
  if (!tool.available()) return std::nullopt;
  if (tokenized.empty()) throw Error("caption predictions", "there are none to score");
  const auto jar = fs::absolute(tool.jar);
  const ScratchDir temp("", "epalm-spice-");
  const fs::path dir = temp.path();
  const auto in_path = dir / "input.json", out_path = dir / "output.json", log = dir / "spice.log";
  std::ofstream(in_path) << spice_input(tokenized);
  std::vector<std::string> argv = {tool.java, "-jar", "-Xmx8G", jar.string(), in_path.string()};
  if (!cache_dir.empty()) {
    fs::create_directories(cache_dir);
    argv.insert(argv.end(), {"-cache", fs::absolute(cache_dir).string()});
  }
  argv.insert(argv.end(), {"-out", out_path.string(), "-subset", "-silent"});
  const int status = run_to_completion(argv, jar.parent_path().string(), log, jar.string());
  if (status != 0) {
    throw Error(jar.string(), "SPICE exited with status " + std::to_string(status) + ": " + tail(read_text(log), 800));
  }
  if (!fs::is_regular_file(out_path)) throw Error(jar.string(), "SPICE wrote no output: " + tail(read_text(log), 800));
  return read_spice_output(out_path.string(), tokenized);
}

}  // namespace epalm::eval
