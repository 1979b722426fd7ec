// The analysis library on a store written through the store's API: run
// records, the query language (its errors point at the character), sorting,
// the pivot with its marks, the statistics' fixed points, and the exports.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "epalm/analysis/comparison.h"
#include "epalm/analysis/comparison_export.h"
#include "epalm/analysis/plot.h"
#include "epalm/analysis/plot_data.h"
#include "epalm/analysis/query.h"
#include "epalm/analysis/run_records.h"
#include "epalm/analysis/statistics.h"
#include "epalm/core/error.h"
#include "process.h"
#include "synthetic_store.h"

namespace epalm::analysis {
namespace {

using testing::SyntheticRun;

struct Grid {
  testing::TempDir dir;
  std::string db = dir.path() + "/r.sqlite";
  std::vector<SyntheticRun> runs = testing::write_synthetic_grid(db);
  std::vector<RunRecord> load() const {
    auto store = registry::ResultsStore::open(db, registry::ResultsStore::Access::kReadOnly);
    return load_runs(store, {});
  }
};

std::set<std::string> matching(const std::vector<RunRecord>& runs, const std::string& where) {
  const auto q = Query::parse(where);
  std::set<std::string> ids;
  for (const auto& r : runs) {
    if (q.matches(r)) ids.insert(r.run.id);
  }
  return ids;
}

template <typename Predicate>
std::set<std::string> expected(const std::vector<SyntheticRun>& runs, Predicate p) {
  std::set<std::string> ids;
  for (const auto& r : runs) {
    if (p(r)) ids.insert(r.id);
  }
  return ids;
}

std::string error_of(const std::string& where) {
  try {
    Query::parse(where);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(RunRecords, LoadEverythingTheStoreHolds) {
  Grid g;
  const auto runs = g.load();
  ASSERT_EQ(runs.size(), g.runs.size());
  for (const auto& want : g.runs) {
    const auto it = std::find_if(runs.begin(), runs.end(), [&](const RunRecord& r) { return r.run.id == want.id; });
    ASSERT_NE(it, runs.end());
    EXPECT_EQ(it->params.at("levels"), std::to_string(want.levels));
    EXPECT_EQ(it->scores.at("val.vqa_accuracy"), want.accuracy);
    EXPECT_EQ(it->metrics.at("loss").last, want.last_loss);
    EXPECT_EQ(it->metrics.at("loss").n, 5);
    EXPECT_EQ(it->run.status, want.status);
    EXPECT_EQ(it->tags.count("broken"), want.broken ? 1u : 0u);
  }
  // Newest first.
  EXPECT_TRUE(std::is_sorted(runs.begin(), runs.end(),
                             [](const RunRecord& a, const RunRecord& b) { return a.run.started > b.run.started; }));
  // Only what is asked for.
  auto store = registry::ResultsStore::open(g.db, registry::ResultsStore::Access::kReadOnly);
  RunSelection s;
  s.params = std::vector<std::string>{"levels"};
  s.metrics = std::vector<std::string>{};
  s.scores = std::vector<std::string>{"val.cider"};
  const auto few = load_runs(store, s);
  ASSERT_EQ(few.size(), g.runs.size());
  EXPECT_EQ(few[0].params.size(), 1u);
  EXPECT_TRUE(few[0].metrics.empty());
  EXPECT_EQ(few[0].scores.size(), 1u);
  s.experiment = "no-such-experiment";
  EXPECT_TRUE(load_runs(store, s).empty());
}

// Runs started at the same second, colliding score keys ("a.b" + "c" and
// "a" + "b.c" both spell a.b.c), settings and metrics some runs lack: a load
// of named keys holds exactly what the whole load holds for those keys.
TEST(RunRecords, NamedKeysLoadWhatTheWholeLoadHolds) {
  testing::TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  {
    auto store = registry::ResultsStore::open(db);
    for (int i = 0; i < 8; ++i) {
      registry::RunStart start;
      start.run_id = registry::new_run_id();
      start.experiment = i % 4 == 3 ? "other" : "ties";
      start.params = {{"shared-connector", i % 2 ? "true" : "false"}, {"x", std::to_string(i)}};
      if (i % 3) start.params["levels"] = std::to_string(i % 3);
      start.started = i < 4 ? 100.0 : 200.0;  // ties: the id decides
      store.start_run(start);
      store.append_metrics(start.run_id, {{"loss", 1, 1.0 / (i + 1), 100}, {"loss", 2, 0.5 / (i + 1), 101}});
      if (i % 2) store.append_metrics(start.run_id, {{"acc", 1, 0.1 * i, 100}});
      store.record_scores(start.run_id, "val", {{"cider", 1.0 + i}}, 100);
      store.record_scores(start.run_id, "a.b", {{"c", 10.0 + i}}, 100);
      if (i % 2) store.record_scores(start.run_id, "a", {{"b.c", 20.0 + i}}, 100);
      store.finish_run(start.run_id, registry::RunStatus::kFinished, 0, "", 300);
    }
  }
  auto store = registry::ResultsStore::open(db, registry::ResultsStore::Access::kReadOnly);
  const auto all = load_runs(store, {});
  ASSERT_EQ(all.size(), 8u);
  for (size_t i = 1; i < all.size(); ++i) {
    const auto &a = all[i - 1].run, &b = all[i].run;
    EXPECT_TRUE(a.started > b.started || (a.started == b.started && a.id > b.id)) << i;
  }
  for (const auto& r : all) {
    // Of two rows spelling one key, the one later in the table's key order (split "a.b" after "a").
    EXPECT_EQ(r.scores.at("a.b.c"), 10.0 + std::stoi(r.params.at("x")));
  }
  RunSelection s;
  s.experiment = "ties";
  s.params = std::vector<std::string>{"levels", "nope"};
  s.metrics = std::vector<std::string>{"acc", "nope"};
  s.scores = std::vector<std::string>{"a.b.c", "val.cider", "nodot", "a.b"};
  s.tags = false;
  const auto named = load_runs(store, s);
  std::vector<RunRecord> want;
  for (const auto& r : all) {
    if (r.run.experiment == "ties") want.push_back(r);
  }
  ASSERT_EQ(named.size(), want.size());
  auto only = [](auto map, const std::vector<std::string>& keys) {
    for (auto it = map.begin(); it != map.end();) {
      it = std::count(keys.begin(), keys.end(), it->first) ? std::next(it) : map.erase(it);
    }
    return map;
  };
  for (size_t i = 0; i < named.size(); ++i) {
    EXPECT_EQ(named[i].run.id, want[i].run.id);
    EXPECT_EQ(named[i].params, only(want[i].params, *s.params));
    EXPECT_EQ(named[i].scores, only(want[i].scores, *s.scores));
    ASSERT_EQ(named[i].metrics.size(), only(want[i].metrics, *s.metrics).size());
    for (const auto& [key, m] : named[i].metrics) {
      const auto& w = want[i].metrics.at(key);
      EXPECT_EQ(std::make_tuple(m.last, m.min, m.max, m.best, m.last_step, m.best_step, m.n, m.lower_is_better),
                std::make_tuple(w.last, w.min, w.max, w.best, w.last_step, w.best_step, w.n, w.lower_is_better));
    }
    EXPECT_TRUE(named[i].tags.empty());
  }
  // Without the run's details: what a comparison reads, the rest left at its defaults.
  s.run_details = false;
  const auto lean = load_runs(store, s);
  ASSERT_EQ(lean.size(), want.size());
  for (size_t i = 0; i < lean.size(); ++i) {
    EXPECT_EQ(std::make_tuple(lean[i].run.id, lean[i].run.status, lean[i].run.started, lean[i].run.seed),
              std::make_tuple(want[i].run.id, want[i].run.status, want[i].run.started, want[i].run.seed));
    EXPECT_EQ(lean[i].params, named[i].params);
    EXPECT_TRUE(lean[i].run.experiment.empty() && lean[i].run.config_hash.empty() && !lean[i].run.ended);
  }
  // A query on more of the run asks for the details; one on id, status, started and seed does not.
  for (const auto& [where, details] : std::vector<std::pair<std::string, bool>>{
           {"seed = 1 and status = finished and started > 0 and id ~ '0'", false},
           {"duration > 0", true}, {"host = x", true}, {"experiment = ties", true}, {"world_size > 1", true}}) {
    FieldNeeds needs;
    Query::parse(where).add_needs(needs);
    RunSelection selection;
    selection.run_details = false;
    needs.apply(selection);
    EXPECT_EQ(selection.run_details, details) << where;
  }
}

TEST(Query, TheIssuesExampleAndEveryOperator) {
  Grid g;
  const auto runs = g.load();
  EXPECT_EQ(matching(runs, "prompt-length >= 5 and score.val.vqa_accuracy > 42 and not tag.broken"),
            expected(g.runs, [](const SyntheticRun& r) { return r.prompt_length >= 5 && r.accuracy > 42 && !r.broken; }));
  EXPECT_EQ(matching(runs, "levels = 1 or (levels == 3 and shared-connector = true)"),
            expected(g.runs, [](const SyntheticRun& r) { return r.levels == 1 || (r.levels == 3 && r.shared); }));
  EXPECT_EQ(matching(runs, "!(levels != 2) && seed < 2"),
            expected(g.runs, [](const SyntheticRun& r) { return r.levels == 2 && r.seed < 2; }));
  EXPECT_EQ(matching(runs, "metric.loss.last <= 0.6 || status = failed"),
            expected(g.runs, [](const SyntheticRun& r) { return r.last_loss <= 0.6 || r.status == "failed"; }));
  EXPECT_EQ(matching(runs, "shared-connector = True and lr = 0.0001"),  // canonical text and numbers
            expected(g.runs, [](const SyntheticRun& r) { return r.shared; }));
  EXPECT_EQ(matching(runs, "tag.broken"), expected(g.runs, [](const SyntheticRun& r) { return r.broken; }));
  EXPECT_EQ(matching(runs, "experiment ~ 'grid' and started >= '2023-11-14 22:13'"),
            expected(g.runs, [](const SyntheticRun& r) { return r.started >= 1699999980; }));
  EXPECT_EQ(matching(runs, "score.test.nothing > 0").size(), 0u);        // missing: false
  EXPECT_EQ(matching(runs, "score.test.nothing != 0").size(), runs.size());  // except !=
  EXPECT_EQ(matching(runs, "").size(), runs.size());
}

TEST(Query, ErrorsPointAtTheOffendingCharacter) {
  auto caret_column = [](const std::string& message) {
    const auto last = message.rfind('\n');
    return message.substr(last + 1).find('^');
  };
  // "  " indent + position of the offending token.
  auto e = error_of("prompt-length >= and x");
  EXPECT_NE(e.find("expected a value after '>='"), std::string::npos) << e;
  EXPECT_EQ(caret_column(e), 2u + 17u) << e;
  e = error_of("(levels = 1 or levels = 2");
  EXPECT_NE(e.find("expected ')'"), std::string::npos) << e;
  EXPECT_EQ(caret_column(e), 2u + 25u) << e;
  e = error_of("levels = 1 $ 2");
  EXPECT_NE(e.find("unexpected character '$'"), std::string::npos) << e;
  EXPECT_EQ(caret_column(e), 2u + 11u) << e;
  e = error_of("metric.loss.average < 1");
  EXPECT_NE(e.find("metric.KEY.SUMMARY"), std::string::npos) << e;
  EXPECT_EQ(caret_column(e), 2u) << e;
  e = error_of("host = 'abc");
  EXPECT_NE(e.find("never closed"), std::string::npos) << e;
  EXPECT_EQ(caret_column(e), 2u + 7u) << e;
  e = error_of("started > 'yesterday'");
  EXPECT_NE(e.find("not a UTC time"), std::string::npos) << e;
  e = error_of("levels = 1 levels");
  EXPECT_NE(e.find("expected 'and', 'or' or the end"), std::string::npos) << e;
  EXPECT_EQ(caret_column(e), 2u + 11u) << e;
  EXPECT_NE(error_of("5 and x").find("a value alone"), std::string::npos);
}

TEST(Query, SortsByAnyFieldMissingLast) {
  Grid g;
  auto runs = g.load();
  sort_runs(runs, parse_sort({"-score.val.vqa_accuracy"}));
  for (size_t i = 1; i < runs.size(); ++i) {
    EXPECT_GE(runs[i - 1].scores.at("val.vqa_accuracy"), runs[i].scores.at("val.vqa_accuracy"));
  }
  sort_runs(runs, parse_sort({"levels", "seed"}));
  for (size_t i = 1; i < runs.size(); ++i) {
    const auto a = std::stoi(runs[i - 1].params.at("levels")), b = std::stoi(runs[i].params.at("levels"));
    EXPECT_LE(a, b);
    if (a == b) {
      EXPECT_LE(*runs[i - 1].run.seed, *runs[i].run.seed);
    }
  }
  sort_runs(runs, parse_sort({"tag.broken"}));
  EXPECT_EQ(runs.front().tags.count("broken"), 1u);  // the one present first, the missing after
}

TEST(Statistics, FixedPoints) {
  // SplitMix64's published first output from seed 0.
  SplitMix64 g(0);
  EXPECT_EQ(g.next(), 0xE220A8397B1DCDAFULL);
  SplitMix64 h(1);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(h.below(7), 7u);
  EXPECT_DOUBLE_EQ(mean({1, 2, 3, 4}), 2.5);
  EXPECT_DOUBLE_EQ(sample_std({2, 4, 4, 4, 5, 5, 7, 9}), std::sqrt(32.0 / 7.0));
  EXPECT_FALSE(welch_t_test({1}, {1, 2}).has_value());
  EXPECT_FALSE(welch_t_test({1, 1}, {2, 2}).has_value());  // no spread: no test
  // Equal sizes and variances: Welch's t is Student's, dof 2n - 2.
  const auto w = welch_t_test({1, 2, 3}, {2, 3, 4});
  ASSERT_TRUE(w.has_value());
  EXPECT_NEAR(w->dof, 4.0, 1e-12);
  EXPECT_NEAR(w->t, -1.0 / std::sqrt(2.0 / 3.0), 1e-12);
  const auto b = bootstrap_test({1, 2, 3}, {1, 2, 3}, true, 99, 5);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->p, 1.0);  // no difference: every resample is as extreme
}

TEST(Comparison, PivotMarksBestAndMissingAndPicksTheBaseline) {
  Grid g;
  ComparisonSpec spec;
  spec.rows = {"shared-connector"};
  spec.columns = {"levels"};
  spec.values = {"score.val.vqa_accuracy", "metric.loss.last"};
  spec.baseline = parse_settings("shared-connector=true", "--baseline");
  std::vector<RunRecord> finished;
  for (auto& r : g.load()) {
    if (r.run.status == "finished") finished.push_back(std::move(r));
  }
  const auto c = compare_runs(finished, spec);
  ASSERT_EQ(c.rows.size(), 2u);
  EXPECT_EQ(c.rows[0], std::vector<std::string>{"false"});
  ASSERT_EQ(c.columns.size(), 6u);  // 2 values x levels 1, 2, 3
  EXPECT_EQ(c.columns[0].label, "score.val.vqa_accuracy [levels=1]");
  EXPECT_FALSE(c.columns[0].lower_is_better);
  EXPECT_TRUE(c.columns[3].lower_is_better);  // loss: its goal is min
  EXPECT_EQ(c.cells[0][2].n(), 0u);            // shared=false, levels=3: missing
  EXPECT_FALSE(c.cells[0][2].diff.has_value());
  // shared=true, levels=2: seeds 0..3 with the rerun of seed 1 counted once (the newer).
  const auto& cell = c.cells[1][1];
  ASSERT_EQ(cell.n(), 4u);
  std::vector<double> want;
  for (int seed = 0; seed < 4; ++seed) {
    double value = 0;
    for (const auto& r : g.runs) {
      if (r.shared && r.levels == 2 && r.seed == seed) value = r.accuracy;  // the last written is the newest
    }
    want.push_back(value);
  }
  EXPECT_EQ(cell.values, want);
  EXPECT_TRUE(cell.is_baseline);
  // Best: the higher mean for accuracy, the lower for loss.
  for (size_t k = 0; k < c.columns.size(); ++k) {
    int marked = 0;
    for (size_t r = 0; r < c.rows.size(); ++r) marked += c.cells[r][k].best;
    EXPECT_EQ(marked, 1) << k;
  }
  // Baseline differences: row false against row true, same column.
  EXPECT_DOUBLE_EQ(*c.cells[0][0].diff, c.cells[0][0].mean - c.cells[1][0].mean);
  EXPECT_TRUE(c.cells[0][0].paired);   // seeds 0..3 on both sides
  EXPECT_TRUE(c.cells[0][1].paired);   // seeds 0, 1 shared
  EXPECT_TRUE(c.cells[0][0].p_welch.has_value());

  spec.baseline = parse_settings("shared-connector=maybe", "--baseline");
  EXPECT_THROW(compare_runs(finished, spec), UsageError);
  EXPECT_THROW(parse_settings("levels", "--baseline"), UsageError);
  spec.baseline.clear();
  spec.values = {"metric.loss.mean"};
  EXPECT_THROW(compare_runs(finished, spec), UsageError);
}

TEST(Exports, EveryFormatCarriesTheSameCells) {
  Grid g;
  ComparisonSpec spec;
  spec.rows = {"shared-connector", "levels"};
  spec.values = {"score.val.cider"};
  spec.baseline = parse_settings("shared-connector=true,levels=1", "--baseline");
  std::vector<RunRecord> finished;
  for (auto& r : g.load()) {
    if (r.run.status == "finished") finished.push_back(std::move(r));
  }
  const auto c = compare_runs(finished, spec);
  const auto json = nlohmann::json::parse(export_comparison(c, TableFormat::kJson));
  ASSERT_EQ(json["cells"].size(), c.rows.size());
  for (size_t r = 0; r < c.rows.size(); ++r) {
    EXPECT_EQ(json["cells"][r]["mean"].get<double>(), c.cells[r][0].mean);
    EXPECT_EQ(json["cells"][r]["n"], c.cells[r][0].n());
  }
  const auto md = export_comparison(c, TableFormat::kMarkdown);
  EXPECT_NE(md.find("| shared-connector | levels | score.val.cider | Δ | p(t) | p(boot) |"), std::string::npos) << md;
  EXPECT_NE(md.find("**"), std::string::npos);
  EXPECT_NE(md.find("Welch"), std::string::npos);
  const auto tex = export_comparison(c, TableFormat::kLatex);
  EXPECT_NE(tex.find("\\begin{tabular}{lrrrrr}\n\\toprule\n"), std::string::npos) << tex;
  EXPECT_NE(tex.find("\\textbf{"), std::string::npos);
  EXPECT_NE(tex.find("$\\pm$"), std::string::npos);
  EXPECT_NE(tex.find("shared-connector & levels & score.val.cider & $\\Delta$"), std::string::npos) << tex;
  EXPECT_EQ(latex_escape("a_b & 50% {x} ~ #1 $ \\"),
            "a\\_b \\& 50\\% \\{x\\} \\textasciitilde{} \\#1 \\$ \\textbackslash{}");
  const auto text = export_comparison(c, TableFormat::kText);
  EXPECT_NE(text.find(" *"), std::string::npos);
  EXPECT_NE(text.find("baseline"), std::string::npos);
}

// The renderer's marks land where the frame says: every point of every series
// has its series' colour in the decoded PNG (Pillow), on linear and log axes.
TEST(Plots, MarksAreDrawnWhereTheDataIs) {
  testing::TempDir dir;
  for (bool log_x : {false, true}) {
    PlotSpec spec;
    spec.title = "loss";
    spec.x_label = "step";
    spec.y_label = "loss";
    spec.log_x = log_x;
    for (int s = 0; s < 3; ++s) {
      PlotSeries series;
      series.label = "series " + std::to_string(s);
      for (int i = 1; i <= 8; ++i) {
        series.x.push_back(log_x ? std::pow(10.0, i * 0.5) : i);
        series.y.push_back(3.0 / i + s);  // decreasing: the legend's top-right corner stays empty
        series.low.push_back(series.y.back() - 0.1);
        series.high.push_back(series.y.back() + 0.1);
      }
      spec.series.push_back(series);
    }
    const auto path = dir.path() + (log_x ? "/log.png" : "/linear.png");
    write_plot(spec, path);
    const auto frame = plot_frame(spec);
    nlohmann::json check = {{"colours", nlohmann::json::array()}, {"points", nlohmann::json::array()}};
    for (size_t s = 0; s < spec.series.size(); ++s) {
      check["colours"].push_back(plot_palette()[s]);
      for (size_t i = 0; i < spec.series[s].x.size(); ++i) {
        check["points"].push_back({frame.px(spec.series[s].x[i]), frame.py(spec.series[s].y[i]), s});
      }
    }
    const auto r = testing::run_process({EPALM_PYTHON, CHECK_PNG, path, check.dump()}, 120);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto report = nlohmann::json::parse(r.out);
    EXPECT_EQ(report["width"], 800);
    EXPECT_EQ(report["height"], 500);
    EXPECT_EQ(report["points_drawn"], 24) << report.dump();
    for (const auto& count : report["colour_pixels"]) EXPECT_GT(count.get<int>(), 100) << report.dump();
    const auto svg = plot_svg(spec);
    EXPECT_NE(svg.find("<svg"), std::string::npos);
  }
  PlotSpec bad;
  bad.log_x = true;
  bad.series.push_back({"zero", {0.0, 1.0}, {1.0, 2.0}, {}, {}, true});
  EXPECT_THROW(write_plot(bad, dir.path() + "/bad.png"), UsageError);
  bad.log_x = false;
  EXPECT_THROW(write_plot(bad, dir.path() + "/bad.gif"), UsageError);
  EXPECT_EQ(*model_size("opt-1.3b"), 1.3e9);
  EXPECT_EQ(*model_size("opt-125m"), 125e6);
  EXPECT_FALSE(model_size("vit-base-patch16-224").has_value());
}

}  // namespace
}  // namespace epalm::analysis
