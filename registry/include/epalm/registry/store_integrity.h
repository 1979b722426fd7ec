// Whether a results database's file is sound: SQLite's quick check when a
// store is opened (a damaged file is refused before anything reads or writes
// it), its full integrity check for `epalm results check`.
#pragma once

#include <string>
#include <vector>

namespace epalm::registry {

class Database;

// The problems SQLite's `PRAGMA quick_check` (full: `integrity_check`) finds,
// at most `limit` of them; empty when the file is sound. A file too damaged
// to check is one problem saying so.
std::vector<std::string> integrity_problems(Database& db, bool full, int limit = 100);

// Throws epalm::Error naming the file, its first problem, and how to see
// every problem and recover, when the quick check finds any.
void require_sound(Database& db);

// What a user does about a damaged results database at `path`.
std::string recovery_advice(const std::string& path);

}  // namespace epalm::registry
