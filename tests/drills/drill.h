// What every drill shares: the real `epalm` binary, the train fixtures' tiny
// models and data (tests/cli/make_train_fixtures.py, make_data_fixtures.py),
// and a reader of the results database through SQLite's own C API.
#pragma once

#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "process.h"

namespace epalm::drills {

namespace fs = std::filesystem;

inline std::map<std::string, std::string> quiet() { return {{"EPALM_LOG_LEVEL", "warn"}}; }

// The binary under drill: this build's, or EPALM_DRILLS_EPALM (an older
// build, to see a drill fail where the fix is missing).
inline std::string executable() {
  const char* other = std::getenv("EPALM_DRILLS_EPALM");
  return other != nullptr && *other != '\0' ? other : EPALM_EXECUTABLE;
}

inline std::vector<std::string> epalm_argv(std::vector<std::string> args) {
  args.insert(args.begin(), executable());
  return args;
}

inline testing::ProcessResult epalm(std::vector<std::string> args, int timeout = 300,
                                    std::map<std::string, std::string> environment = quiet()) {
  return testing::run_process(epalm_argv(std::move(args)), timeout, environment);
}

inline std::string models(const std::string& name) { return std::string(EPALM_TRAIN_FIXTURES) + "/" + name; }
inline std::string data_root() { return std::string(EPALM_DATA_FIXTURES) + "/root"; }

// A run's configuration: tiny models, 2 levels into layers [1, 4), its
// checkpoint in <dir>/run and its records in <dir>/results.sqlite; `extra`
// lines ("key = value") replace or add settings.
inline std::string train_config(const testing::TempDir& dir, const std::string& extra = "",
                                const std::string& task = "vqa", const std::string& split = "karpathy_train") {
  std::vector<std::pair<std::string, std::string>> values = {
      {"task", task}, {"data-root", data_root()}, {"train-split", split}, {"decoder", models("opt")},
      {"encoder", models("vit")}, {"levels", "2"}, {"start-layer", "1"}, {"end-layer", "4"},
      {"prompt-length", "3"}, {"batch-size", "2"}, {"lr", "1e-3"}, {"prompt-lr", "1e-3"}, {"warmup-steps", "1"},
      {"loader-threads", "2"}, {"device", "cpu"}, {"feature-cache", "off"}, {"output-dir", dir.path() + "/run"},
      {"results", dir.path() + "/results.sqlite"}};
  std::istringstream lines(extra);
  for (std::string line; std::getline(lines, line);) {
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    const auto key = line.substr(0, eq), value = line.substr(eq + 3);
    bool replaced = false;
    for (auto& [k, v] : values) {
      if (k == key) v = value, replaced = true;
    }
    if (!replaced) values.emplace_back(key, value);
  }
  std::string text;
  for (const auto& [k, v] : values) text += k + " = " + v + "\n";
  return dir.write("run.ini", text);
}

// Rows of `sql` on the database at `path`, every column as text ("" for NULL).
inline std::vector<std::vector<std::string>> query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::vector<std::vector<std::string>> rows;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + path);
  }
  sqlite3_busy_timeout(db, 30000);  // a run may be writing (or creating) it right now
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    const std::string message = sqlite3_errmsg(db);
    sqlite3_close(db);
    throw std::runtime_error(path + ": " + message + " in " + sql);
  }
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
      const auto* text = sqlite3_column_text(stmt, c);
      row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

// Runs `sql` (statements without rows) on the database at `path`.
inline void execute(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  sqlite3_busy_timeout(db, 30000);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  const std::string text = message ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  if (rc != SQLITE_OK) throw std::runtime_error(path + ": " + text + " in " + sql);
}

inline std::string query_one(const std::string& path, const std::string& sql) {
  const auto rows = query(path, sql);
  return rows.empty() || rows[0].empty() ? "" : rows[0][0];
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The first capture of `pattern` in `text`, or "".
inline std::string capture(const std::string& text, const std::string& pattern) {
  std::smatch m;
  return std::regex_search(text, m, std::regex(pattern)) ? std::string(m[1]) : std::string();
}

}  // namespace epalm::drills
