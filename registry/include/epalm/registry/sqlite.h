// A thin RAII layer over the SQLite C API: one connection, prepared
// statements, and write transactions that wait out other writers instead of
// failing with "database is locked". Every error names the database file.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "epalm/core/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace epalm::registry {

class Database;

// A failed SQLite call; code() is SQLite's (extended) result code.
class SqliteError : public Error {
 public:
  SqliteError(std::string where, std::string reason, int code) : Error(std::move(where), std::move(reason)), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

class Statement {
 public:
  Statement(Database& db, const std::string& sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept;

  // Parameters are 1-based, as in SQLite.
  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, const char* value);
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind_null(int index);
  Statement& bind(int index, const std::optional<std::string>& value);
  Statement& bind(int index, const std::optional<std::int64_t>& value);
  Statement& bind(int index, const std::optional<double>& value);

  // Advances; true while a row is available.
  bool step();
  // Runs to completion (statements without rows).
  void run();
  void reset();

  bool is_null(int column) const;
  std::string text(int column) const;
  // The text without a copy; valid until the next step() or reset(). For
  // looking rows up while reading thousands of them.
  std::string_view text_view(int column) const;
  std::int64_t integer(int column) const;
  double real(int column) const;
  std::optional<std::string> optional_text(int column) const;
  std::optional<double> optional_real(int column) const;
  std::optional<std::int64_t> optional_integer(int column) const;

 private:
  Database* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  enum class Mode { kReadWrite, kReadOnly };
  // Opens (creating in read-write mode) with WAL-friendly settings: busy
  // timeout, foreign keys, synchronous=NORMAL. Throws epalm::Error naming path.
  Database(const std::string& path, Mode mode);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

  void execute(const std::string& sql);
  std::int64_t changes() const;
  std::int64_t last_insert_rowid() const;

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT. When another writer holds
  // the lock past the busy timeout, rolls back and retries with capped,
  // jittered back-off for up to `retry_budget_s`; only then throws.
  void write(const std::function<void()>& body, double retry_budget_s = 600);
  // The same under BEGIN EXCLUSIVE (schema migrations).
  void write_exclusive(const std::function<void()>& body);

  // Throws epalm::Error naming the file for a failed SQLite call.
  [[noreturn]] void fail(int code, const std::string& doing) const;

 private:
  void transaction(const char* begin, const std::function<void()>& body, double retry_budget_s);
  std::string path_;
  sqlite3* db_ = nullptr;
};

// True for the SQLite result codes that mean "another connection holds the lock".
bool is_busy(int code);

}  // namespace epalm::registry
