#include "epalm/registry/store_integrity.h"

#include <sqlite3.h>

#include "epalm/registry/sqlite.h"

namespace epalm::registry {

std::vector<std::string> integrity_problems(Database& db, bool full, int limit) {
  std::vector<std::string> problems;
  try {
    Statement check(db, std::string("PRAGMA ") + (full ? "integrity_check" : "quick_check") + "(" +
                            std::to_string(limit) + ")");
    while (check.step()) {
      const auto line = check.text(0);
      if (line != "ok") problems.push_back(line);
    }
  } catch (const SqliteError& e) {
    if ((e.code() & 0xff) == SQLITE_NOTADB) throw;  // not a database at all: the caller says so
    // SQLITE_CORRUPT / NOTADB while reading the schema or the pages themselves.
    problems.push_back(e.reason());
  }
  return problems;
}

std::string recovery_advice(const std::string& path) {
  return "`epalm results check --results " + path +
         "` lists every problem; recover what is readable into a new file with `sqlite3 " + path +
         " .recover | sqlite3 " + path + ".recovered` and point --results (EPALM_RESULTS) at it, or move the file "
         "away to start a new database; nothing was read or written";
}

void require_sound(Database& db) {
  const auto problems = integrity_problems(db, /*full=*/false, 1);
  if (problems.empty()) return;
  throw Error(db.path(), "the results database file is corrupt (SQLite's quick check: " + problems.front() + "); " +
                             recovery_advice(db.path()));
}

}  // namespace epalm::registry
