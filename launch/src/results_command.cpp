// `epalm results tag|note|ingest|check`: annotate runs, load spool files,
// check the database file.
#include <filesystem>
#include <iostream>

#include "command.h"
#include "epalm/distributed/world.h"
#include "epalm/core/error.h"
#include "epalm/registry/run_recorder.h"
#include "epalm/registry/sqlite.h"
#include "epalm/registry/store_integrity.h"
#include "results_settings.h"

namespace epalm::cli {

namespace {

// A spool file, or every *.jsonl under a folder (a sweep's or a job's output).
std::vector<std::string> spool_files(const std::string& target) {
  namespace fs = std::filesystem;
  if (!fs::exists(target)) throw Error(target, "no such spool file or folder");
  if (!fs::is_directory(target)) return {target};
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(target)) {
    if (entry.is_regular_file() && entry.path().extension() == ".jsonl") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw Error(target, "no *.jsonl spool files under this folder");
  return files;
}

int tag(const Invocation& in) {
  const auto& o = in.options;
  auto store = registry::ResultsStore::open(results_path(o));
  const auto id = store.resolve_run_id(required(o, "target", "epalm results tag <run> key[=value]"));
  const auto text = required(o, "value", "epalm results tag <run> key[=value]");
  const auto eq = text.find('=');
  store.tag_run(id, text.substr(0, eq), eq == std::string::npos ? "" : text.substr(eq + 1));
  std::cout << "tagged " << id << " " << text << "\n";
  return kExitOk;
}

int note(const Invocation& in) {
  const auto& o = in.options;
  auto store = registry::ResultsStore::open(results_path(o));
  const auto id = store.resolve_run_id(required(o, "target", "epalm results note <run> \"text\""));
  store.note_run(id, required(o, "value", "epalm results note <run> \"text\""));
  std::cout << "noted " << id << "\n";
  return kExitOk;
}

int ingest(const Invocation& in) {
  const auto& o = in.options;
  const auto target = required(o, "target", "epalm results ingest <spool.jsonl or folder>");
  auto store = registry::ResultsStore::open(results_path(o));
  analysis::Table t({"spool", "runs", "metric rows", "note"});
  for (const auto& file : spool_files(target)) {
    const auto report = registry::ingest_spool(store, file);
    t.add_row({file, std::to_string(report.runs), std::to_string(report.metric_rows),
               report.truncated_tail ? "last line cut off (run killed mid-write); the rest loaded" : ""});
  }
  const double stale_after = o["stale-after"].as<double>();
  if (stale_after > 0) store.reap_stale(stale_after);
  std::cout << t.render(table_format(o));
  return kExitOk;
}

int check(const Invocation& in) {
  const auto& o = in.options;
  // Opened as a plain SQLite file: the store itself refuses a damaged one.
  const auto path = results_path(o);
  if (!std::filesystem::is_regular_file(path)) throw Error(path, "no results database here");
  registry::Database db(path, registry::Database::Mode::kReadOnly);
  const auto problems = registry::integrity_problems(db, /*full=*/true);
  if (problems.empty()) {
    std::cout << path << ": ok (SQLite's integrity check found no problem)\n";
    return kExitOk;
  }
  std::cout << path << ": " << problems.size() << (problems.size() >= 100 ? "+" : "")
            << " problems (SQLite's integrity check):\n";
  for (const auto& p : problems) std::cout << "  " << p << "\n";
  throw Error(path, "the results database file is corrupt; " + registry::recovery_advice(path));
}

int run_results(const Invocation& in) {
  if (in.world.rank() != 0) return kExitOk;
  return run_action(in, {{"tag", tag}, {"note", note}, {"ingest", ingest}, {"check", check}});
}

}  // namespace

Command results_command() {
  return {"results",
          "Annotate runs and load spool files into the results store.\n\n"
          "  epalm results tag <run> key[=value]\n"
          "  epalm results note <run> \"text\"\n"
          "  epalm results ingest <spool.jsonl | folder>   idempotent: loading again changes nothing\n"
          "  epalm results check                          SQLite's full integrity check of --results\n\n"
          "A run recorded where the database cannot live (a node without the shared disk) writes a\n"
          "spool file (JSON lines); ingest loads it. <run> is an id or a unique prefix of one.",
          [](po::options_description& settings) {
            add_results_settings(settings);
            settings.add_options()                                                                   //
                ("action", po::value<std::string>(), "tag, note, ingest or check (the first argument)")         //
                ("target", po::value<std::string>(), "the run (tag, note) or the spool file/folder (ingest)")  //
                ("value", po::value<std::string>(), "tag: key[=value]; note: the text")                   //
                ("stale-after", po::value<double>()->default_value(300),
                 "ingest: seconds without a heartbeat after which an unfinished run is stale");
          },
          run_results, {"action", "target", "value"}};
}

}  // namespace epalm::cli
