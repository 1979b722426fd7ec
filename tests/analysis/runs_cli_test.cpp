// `epalm runs list|compare` as users run them, on stores filled by real
// `epalm train` runs (the tiny fixtures, several seeds) and by the store's own
// API (a grid with every awkward case). Every number of a comparison is
// recomputed by a Python peer from the SQLite file alone (numpy, scipy's
// Welch test, the same bootstrap resamples); exports parse back to the same
// numbers; the README's command lines run as written.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "process.h"
#include "synthetic_store.h"

namespace epalm {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;
using testing::SyntheticRun;
using testing::TempDir;

ProcessResult epalm(const std::string& db, std::vector<std::string> args, int timeout = 300) {
  args.insert(args.begin(), EPALM_EXECUTABLE);
  return testing::run_process(args, timeout, {{"EPALM_LOG_LEVEL", "warn"}, {"EPALM_RESULTS", db}});
}

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// RFC 4180 records (quoted cells may hold commas, quotes and line breaks).
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1, std::vector<std::string>(1));
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') rows.back().back() += text[++i];
      else if (c == '"') quoted = false;
      else rows.back().back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().emplace_back();
    } else if (c == '\r') {
    } else if (c == '\n') {
      rows.emplace_back(1);
    } else {
      rows.back().back() += c;
    }
  }
  if (rows.back().size() == 1 && rows.back()[0].empty()) rows.pop_back();
  return rows;
}

// The peer's verdict on a JSON export of the comparison.
nlohmann::json peer_check(const std::string& db, const std::string& export_path, const std::vector<std::string>& filters) {
  std::vector<std::string> argv = {EPALM_PYTHON, COMPARE_PEER, db, export_path};
  argv.insert(argv.end(), filters.begin(), filters.end());
  const auto r = testing::run_process(argv, 300);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

// CSV export rows against the JSON export's cells: the same numbers, bit for bit.
void expect_csv_equals_json(const std::string& csv_path, const nlohmann::json& json) {
  const auto rows = parse_csv(file_text(csv_path));
  ASSERT_EQ(rows.size(), json["cells"].size() + 1);
  const auto& header = rows[0];
  auto column = [&](const std::string& name) {
    return static_cast<size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  for (size_t i = 0; i < json["cells"].size(); ++i) {
    const auto& cell = json["cells"][i];
    const auto& row = rows[i + 1];
    ASSERT_EQ(row.size(), header.size());
    EXPECT_EQ(row[column("value")], cell["value"].get<std::string>());
    EXPECT_EQ(std::stoul(row[column("n")]), cell["n"].get<size_t>());
    for (const char* key : {"mean", "std", "diff", "p_welch", "p_bootstrap"}) {
      if (cell[key].is_null()) {
        EXPECT_EQ(row[column(key)], "") << key;
      } else {
        EXPECT_EQ(std::stod(row[column(key)]), cell[key].get<double>()) << key << " of cell " << i;
      }
    }
    EXPECT_EQ(row[column("best")], cell["best"].get<bool>() ? "1" : "0");
  }
}

// LaTeX: compiled where a TeX install exists, else checked for its structure.
void expect_latex_table(const TempDir& dir, const std::string& tex, size_t columns, size_t rows) {
  ASSERT_EQ(tex.find("\\begin{tabular}{"), 0u) << tex;
  EXPECT_NE(tex.find("\\toprule\n"), std::string::npos);
  EXPECT_NE(tex.find("\\midrule\n"), std::string::npos);
  EXPECT_NE(tex.find("\\bottomrule\n\\end{tabular}\n"), std::string::npos);
  const auto body = tex.substr(tex.find("\\toprule\n") + 9, tex.find("\\bottomrule") - tex.find("\\toprule\n") - 9);
  size_t lines = 0;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line == "\\midrule") continue;
    ++lines;
    ASSERT_GE(line.size(), 3u);
    EXPECT_EQ(line.substr(line.size() - 3), " \\\\") << line;
    // Every unescaped & separates a column.
    size_t ampersands = 0;
    for (size_t i = 0; i < line.size(); ++i) ampersands += line[i] == '&' && (i == 0 || line[i - 1] != '\\');
    EXPECT_EQ(ampersands + 1, columns) << line;
    // Braces balance (escaped ones aside).
    int depth = 0;
    for (size_t i = 0; i < line.size(); ++i) {
      if (i > 0 && line[i - 1] == '\\') continue;
      depth += line[i] == '{' ? 1 : line[i] == '}' ? -1 : 0;
    }
    EXPECT_EQ(depth, 0) << line;
  }
  EXPECT_EQ(lines, rows + 1);
  if (testing::run_process({"bash", "-c", "command -v pdflatex"}).exit_code != 0) return;
  const auto doc = dir.write("table-doc.tex", "\\documentclass{article}\\usepackage{booktabs}\\usepackage[utf8]{inputenc}"
                                             "\\begin{document}\n" + tex + "\\end{document}\n");
  const auto r = testing::run_process({"bash", "-c", "cd '" + dir.path() + "' && pdflatex -interaction=nonstopmode -halt-on-error '" + doc + "'"}, 120);
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

std::string models(const std::string& name) { return std::string(EPALM_TRAIN_FIXTURES) + "/" + name; }

// The tiny fixtures' training settings (the train CLI tests' run, 3 steps).
std::string train_settings() {
  return "task = vqa\ndata-root = " + std::string(EPALM_DATA_FIXTURES) + "/root\ntrain-split = karpathy_train\n"
         "decoder = " + models("opt") + "\nencoder = " + models("vit") +
         "\nlevels = 2\nstart-layer = 1\nend-layer = 4\nbatch-size = 2\nlr = 1e-3\nprompt-lr = 1e-3\n"
         "warmup-steps = 1\nloader-threads = 1\ndevice = cpu\nmax-steps = 3\nfeature-cache = off\n"
         // the registered experiments validate on splits the fixtures lack
         "validate-every = never\ntest-at-end = false\n";
}

// A PNG as Pillow decodes it, with the first `series` palette colours counted.
nlohmann::json png_report(const std::string& path, size_t series) {
  nlohmann::json spec = {{"colours", nlohmann::json::array()}, {"points", nlohmann::json::array()}};
  const std::vector<std::vector<double>> palette = {{0.0, 0.447, 0.698}, {0.835, 0.369, 0.0}, {0.0, 0.620, 0.451},
                                                    {0.800, 0.475, 0.655}};
  for (size_t i = 0; i < series && i < palette.size(); ++i) spec["colours"].push_back(palette[i]);
  const auto r = testing::run_process({EPALM_PYTHON, CHECK_PNG, path, spec.dump()}, 120);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

size_t series_count(const std::string& out) {
  std::smatch m;
  return std::regex_search(out, m, std::regex("\\(([0-9]+) series\\)")) ? std::stoul(m[1]) : 0;
}

}  // namespace

// Issue 14's bug: a filter by experiment was read as a base configuration.
// `runs list|compare --experiment E` filter by E, registered or not, and
// `adhoc` names plain `epalm train` runs.
TEST(RunsCli, ExperimentIsAFilterNotAConfiguration) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  const auto grid = testing::write_synthetic_grid(db, "ablation-prompt-length");
  testing::write_synthetic_grid(db, "adhoc");
  auto r = epalm(db, {"runs", "compare", "--experiment", "ablation-prompt-length", "--by", "prompt-length", "--metric", "loss"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("metric.loss.best"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("unrecognised option"), std::string::npos) << r.err;
  r = epalm(db, {"runs", "list", "--experiment", "ablation-prompt-length", "--metric", "loss", "--limit", "0", "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_csv(r.out).size(), grid.size() + 1) << r.out;
  r = epalm(db, {"runs", "list", "--experiment", "adhoc", "--limit", "0", "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_csv(r.out).size(), grid.size() + 1) << r.out;
  for (const auto& row : parse_csv(r.out)) {
    if (row[0] != "run") {
      EXPECT_EQ(row[1], "adhoc");
    }
  }
  r = epalm(db, {"runs", "compare", "--experiment", "adhoc", "--by", "levels", "--metric", "score.val.cider"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // EPALM_EXPERIMENT names a base for `epalm train`; it is no filter either.
  r = testing::run_process({EPALM_EXECUTABLE, "runs", "list", "--results", db}, 60, {{"EPALM_EXPERIMENT", "epalm-vqa"}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// The README's analysis command lines, as written, on a store like the one they speak of.
TEST(RunsCli, ReadmeCommandLinesRun) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  testing::write_synthetic_grid(db, "ablation-prompt-length");
  testing::write_size_and_scaling_runs(db);
  testing::write_synthetic_sweep(db, "my-sweep");
  const auto readme = file_text(EPALM_README);
  const auto start = readme.find("## Comparing runs");
  ASSERT_NE(start, std::string::npos);
  const auto section = readme.substr(start, readme.find("\n## ", start + 3) - start);
  std::istringstream in(section);
  int ran = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("build/launch/epalm ", 0) != 0) continue;
    const auto comment = line.find("  #");
    if (comment != std::string::npos) line = line.substr(0, comment);
    line = std::string("'") + EPALM_EXECUTABLE + "'" + line.substr(std::string("build/launch/epalm").size());
    const auto r = testing::run_process({"bash", "-c", "cd '" + dir.path() + "' && " + line}, 300,
                                        {{"EPALM_RESULTS", db}, {"EPALM_LOG_LEVEL", "warn"}});
    EXPECT_EQ(r.exit_code, 0) << line << "\n" << r.out << r.err;
    ++ran;
  }
  EXPECT_GE(ran, 3);
}

// The query language through the CLI: the issue's example, sort and limit,
// and an error whose caret points at the offending character.
TEST(RunsCli, ListQueriesSortsAndPointsAtErrors) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  const auto grid = testing::write_synthetic_grid(db);
  auto r = epalm(db, {"runs", "list", "--where", "prompt-length >= 5 and score.val.vqa_accuracy > 42 and not tag.broken",
                      "--sort", "-score.val.vqa_accuracy", "--limit", "4", "--show", "score.val.vqa_accuracy",
                      "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<SyntheticRun> want;
  for (const auto& run : grid) {
    if (run.prompt_length >= 5 && run.accuracy > 42 && !run.broken) want.push_back(run);
  }
  std::stable_sort(want.begin(), want.end(), [](const auto& a, const auto& b) { return a.accuracy > b.accuracy; });
  want.resize(std::min<size_t>(want.size(), 4));
  const auto rows = parse_csv(r.out);
  ASSERT_EQ(rows.size(), want.size() + 1) << r.out;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(rows[i + 1][0], want[i].id);
    EXPECT_NEAR(std::stod(rows[i + 1].back()), want[i].accuracy, 1e-5 * want[i].accuracy);  // printed with 6 digits
  }
  r = epalm(db, {"runs", "list", "--where", "prompt-length >= and levels = 1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--where: expected a value after '>=', found 'and' (character 18)\n"
                       "  prompt-length >= and levels = 1\n"
                       "                   ^"), std::string::npos) << r.err;
  // Every export of a list: CSV above; JSON, Markdown and LaTeX here.
  r = epalm(db, {"runs", "list", "--where", "levels = 3", "-o", dir.path() + "/list.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto listed = nlohmann::json::parse(file_text(dir.path() + "/list.json"));
  EXPECT_EQ(listed.size(), 3u);
  for (const auto& row : listed) EXPECT_TRUE(row["seed"] == "10" || row["seed"] == "11" || row["seed"] == "12") << row;
  r = epalm(db, {"runs", "list", "--where", "levels = 3", "--format", "md"});
  EXPECT_NE(r.out.find("| run | experiment |"), std::string::npos) << r.out;
  r = epalm(db, {"runs", "list", "--where", "levels = 3", "-o", dir.path() + "/list.tex"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_latex_table(dir, file_text(dir.path() + "/list.tex"), 8, 3);
  r = epalm(db, {"runs", "list", "-o", dir.path() + "/list.xlsx"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--output"), std::string::npos) << r.err;
}

// Two axes, three values, a baseline: every number against the Python peer;
// CSV and JSON agree to the bit; Markdown and LaTeX carry the marks.
TEST(RunsCli, CompareTwoAxesThreeValuesAgainstTheBaseline) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  testing::write_synthetic_grid(db);
  const std::vector<std::string> args = {"runs", "compare", "--experiment", "ablation-grid", "--by", "shared-connector,levels",
                                         "--metric", "score.val.vqa_accuracy,score.val.cider", "--metric", "metric.loss.last",
                                         "--baseline", "shared-connector=true,levels=1", "--bootstrap", "2000",
                                         "--bootstrap-seed", "7"};
  for (const char* ext : {"json", "csv", "md", "tex", "txt"}) {
    auto a = args;
    a.insert(a.end(), {"-o", dir.path() + "/compare." + ext});
    const auto r = epalm(db, a);
    ASSERT_EQ(r.exit_code, 0) << ext << ": " << r.err;
  }
  const auto json = nlohmann::json::parse(file_text(dir.path() + "/compare.json"));
  ASSERT_EQ(json["cells"].size(), 5u * 3u);  // rows: (false,1) (false,2) (true,1) (true,2) (true,3)
  const auto report = peer_check(db, dir.path() + "/compare.json", {"--experiment", "ablation-grid"});
  EXPECT_EQ(report["mismatches"].size(), 0u) << report.dump(2);
  EXPECT_EQ(report["checked"]["cells"], 15);
  EXPECT_EQ(report["checked"]["welch"], 12);      // every cell but the baseline's, three values
  EXPECT_EQ(report["checked"]["bootstrap"], 12);
  int paired = 0, unpaired = 0;
  for (const auto& cell : json["cells"]) {
    if (cell["p_bootstrap"].is_null()) continue;
    (cell["paired"].get<bool>() ? paired : unpaired)++;
  }
  EXPECT_EQ(unpaired, 3);  // (true, 3): seeds 10..12, none shared with the baseline
  EXPECT_EQ(paired, 9);
  expect_csv_equals_json(dir.path() + "/compare.csv", json);
  const auto md = file_text(dir.path() + "/compare.md");
  EXPECT_NE(md.find("**"), std::string::npos);
  EXPECT_NE(md.find("Welch's two-sided t-test"), std::string::npos);
  expect_latex_table(dir, file_text(dir.path() + "/compare.tex"), 2 + 3 * 4, 5);
  const auto text = file_text(dir.path() + "/compare.txt");
  EXPECT_NE(text.find("baseline"), std::string::npos) << text;
  EXPECT_NE(text.find("2000 resamples from SplitMix64 seed 7"), std::string::npos) << text;
  // Columns by a setting: the missing cell (false, levels 3) shows as missing.
  const auto r = epalm(db, {"runs", "compare", "--by", "shared-connector", "--columns", "levels", "--metric",
                            "score.val.vqa_accuracy", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto pivot = nlohmann::json::parse(r.out);
  ASSERT_EQ(pivot["cells"].size(), 6u);
  EXPECT_EQ(pivot["cells"][2]["n"], 0);
  EXPECT_TRUE(pivot["cells"][2]["mean"].is_null());
  const auto shown = epalm(db, {"runs", "compare", "--by", "shared-connector", "--columns", "levels", "--metric",
                                "score.val.vqa_accuracy"});
  EXPECT_NE(shown.out.find("—"), std::string::npos) << shown.out;
  // Bad input names the option.
  auto bad = epalm(db, {"runs", "compare", "--by", "levels", "--metric", "score.val", "--format", "json"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("score.SPLIT.METRIC"), std::string::npos) << bad.err;
  bad = epalm(db, {"runs", "compare", "--by", "levels", "--metric", "score.val.cider", "--baseline", "levels=9"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--baseline: no compared run has levels=9"), std::string::npos) << bad.err;
}

// Real runs of the platform: `epalm train` on the tiny fixtures, two prompt
// lengths x three seeds, compared by the CLI and recomputed by the peer from
// the loss histories the runs recorded.
TEST(RunsCli, CompareRealTrainingRunsOverSeeds) {
  TempDir dir;
  const auto db = dir.path() + "/results.sqlite";
  const auto cfg = dir.write("run.ini", train_settings());
  for (int prompt : {1, 3}) {
    for (int seed : {0, 1, 2}) {
      const auto out = dir.path() + "/run-" + std::to_string(prompt) + "-" + std::to_string(seed);
      const auto r = epalm(db, {"train", "--config", cfg, "--prompt-length", std::to_string(prompt), "--seed",
                                std::to_string(seed), "--output-dir", out, "--results", db});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  auto r = epalm(db, {"runs", "list", "--experiment", "adhoc", "--where", "prompt-length = 3", "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_csv(r.out).size(), 4u) << r.out;
  for (const char* ext : {"json", "csv"}) {
    r = epalm(db, {"runs", "compare", "--experiment", "adhoc", "--by", "prompt-length", "--metric",
                   "metric.loss.last,metric.loss.min,metric.samples_per_second.max", "--baseline", "prompt-length=1",
                   "-o", dir.path() + "/real." + ext});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const auto json = nlohmann::json::parse(file_text(dir.path() + "/real.json"));
  ASSERT_EQ(json["cells"].size(), 6u);
  for (const auto& cell : json["cells"]) EXPECT_EQ(cell["n"], 3) << cell;
  const auto report = peer_check(db, dir.path() + "/real.json", {"--experiment", "adhoc"});
  EXPECT_EQ(report["mismatches"].size(), 0u) << report.dump(2);
  EXPECT_EQ(report["runs"], 6);
  EXPECT_EQ(report["checked"]["bootstrap"], 3);
  expect_csv_equals_json(dir.path() + "/real.csv", json);
}

// Every plot kind renders: PNG decoded by Pillow at the asked size with each
// series' colour drawn; SVG as Cairo writes it.
TEST(RunsCli, EveryPlotKindRenders) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  testing::write_synthetic_grid(db);
  testing::write_size_and_scaling_runs(db);
  struct Case {
    std::vector<std::string> args;
    size_t series;
  };
  const std::vector<Case> cases = {
      {{"--experiment", "ablation-grid", "--where", "levels = 1 and shared-connector = true", "--history", "loss"}, 4},
      {{"--experiment", "ablation-grid", "--history", "loss", "--group-by", "levels"}, 3},
      {{"--experiment", "ablation-grid", "--x", "score.model.trainable_parameters", "--y", "score.val.vqa_accuracy",
        "--log-x", "--group-by", "shared-connector"}, 2},
      {{"--experiment", "lm-size", "--x", "decoder", "--y", "score.val.vqa_accuracy", "--log-x"}, 1},
      {{"--experiment", "scaling", "--x", "world_size", "--y", "metric.samples_per_second.last"}, 1},
  };
  int i = 0;
  for (const auto& c : cases) {
    for (const char* ext : {"png", "svg"}) {
      auto args = std::vector<std::string>{"runs", "plot"};
      args.insert(args.end(), c.args.begin(), c.args.end());
      const auto path = dir.path() + "/plot" + std::to_string(i) + "." + ext;
      args.insert(args.end(), {"-o", path});
      const auto r = epalm(db, args);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_EQ(series_count(r.out), c.series) << r.out;
      if (std::string(ext) == "svg") {
        const auto svg = file_text(path);
        EXPECT_NE(svg.find("<svg"), std::string::npos);
        EXPECT_NE(svg.find("<path"), std::string::npos);
        EXPECT_NE(svg.find("width=\"800\""), std::string::npos) << svg.substr(0, 300);
        continue;
      }
      const auto png = png_report(path, c.series);
      EXPECT_EQ(png["width"], 800);
      EXPECT_EQ(png["height"], 500);
      for (size_t k = 0; k < c.series; ++k) EXPECT_GT(png["colour_pixels"][k].get<int>(), 40) << i << " series " << k;
    }
    ++i;
  }
  // Bad input names what is wrong.
  auto r = epalm(db, {"runs", "plot", "--history", "loss", "-o", dir.path() + "/x.gif"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(".png or .svg"), std::string::npos) << r.err;
  r = epalm(db, {"runs", "plot", "--history", "no-such-metric", "-o", dir.path() + "/x.png"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no-such-metric"), std::string::npos) << r.err;
  r = epalm(db, {"runs", "plot", "--experiment", "scaling", "--x", "metric.samples_per_second.last", "--y", "world_size",
                 "--log-x", "--where", "world_size = 0", "-o", dir.path() + "/x.png"});
  EXPECT_EQ(r.exit_code, 2);
}

// A sweep of real `epalm train` runs (prompt length x seeds) and its report:
// one page that loads in headless Chromium without console errors or network
// requests, draws its plots, and sorts a table by a click on a header.
TEST(RunsCli, SweepReportLoadsInChromiumAndSorts) {
  TempDir dir;
  const auto db = dir.path() + "/results.sqlite";
  std::string set;
  std::istringstream settings(train_settings());
  std::string command = "\"{epalm}\", \"train\", \"--config\", \"{config}\", \"--results\", \"{results}\"";
  for (std::string line; std::getline(settings, line);) {
    const auto eq = line.find(" = ");
    const auto key = line.substr(0, eq);
    if (key == "device" || key == "loader-threads" || key == "feature-cache") {  // how to run, not what: options
      command += ", \"--" + key + "\", \"" + line.substr(eq + 3) + "\"";
      continue;
    }
    set += (set.empty() ? "" : ", ") + std::string("\"") + line.substr(0, eq) + "\": \"" + line.substr(eq + 3) + "\"";
  }
  const auto sweep = dir.write("sweep.json", "{\"name\": \"report-sweep\", \"experiment\": \"ablation-prompt-length\", "
                                             "\"set\": {" + set + "}, \"axes\": {\"prompt-length\": [1, 3]}, "
                                             "\"seeds\": [0, 1], \"output-dir\": \"" + dir.path() + "/cells\", "
                                             "\"command\": [" + command + "]}");
  auto r = epalm(db, {"sweep", "run", sweep, "--results", db}, 580);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto html = dir.path() + "/report.html";
  r = epalm(db, {"runs", "report", "--sweep", "report-sweep", "-o", html, "--baseline", "prompt-length=1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto page = file_text(html);
  // Self-contained: nothing to fetch (SVG's xmlns URIs are names, not requests).
  for (const char* fetch : {"src=\"http", "href=\"http", "url(http", "@import", "<link", "<iframe"}) {
    EXPECT_EQ(page.find(fetch), std::string::npos) << fetch;
  }
  const auto shot = dir.path() + "/shot.png";
  const auto c = testing::run_process({EPALM_PYTHON, CHECK_REPORT, CHROMIUM, html, shot}, 180);
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const auto j = nlohmann::json::parse(c.out);
  EXPECT_TRUE(j["console"].empty()) << j["console"].dump(2);
  for (const auto& url : j["requests"]) EXPECT_EQ(url.get<std::string>().rfind("file://", 0), 0u) << url;
  EXPECT_EQ(j["counts"]["cells"], 4);
  EXPECT_EQ(j["counts"]["details"], 4);
  EXPECT_GE(j["counts"]["svg"].get<int>(), 2);
  // The clicked column sorts ascending (missing last), then descending.
  std::vector<double> after;
  for (const auto& v : j["after"]) {
    if (!v.get<std::string>().empty()) after.push_back(std::stod(v.get<std::string>()));
  }
  ASSERT_EQ(after.size(), 2u) << j.dump(2);
  EXPECT_TRUE(std::is_sorted(after.begin(), after.end())) << j.dump(2);
  std::vector<std::string> again = j["after_again"].get<std::vector<std::string>>();
  std::vector<std::string> numbers_again;
  for (const auto& v : again) {
    if (!v.empty()) numbers_again.push_back(v);
  }
  ASSERT_EQ(numbers_again.size(), 2u);
  EXPECT_GT(std::stod(numbers_again[0]), std::stod(numbers_again[1]));  // the rows moved
  // A screenshot that is not blank: many colours, the plots' among them.
  const auto png = png_report(shot, 2);
  EXPECT_GT(png["distinct_colours"].get<int>(), 50) << png.dump();
  EXPECT_GT(png["colour_pixels"][0].get<int>(), 20) << png.dump();
}

}  // namespace epalm
