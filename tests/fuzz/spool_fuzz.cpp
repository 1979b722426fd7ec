// libFuzzer target for spool files (JSON lines a run records away from the
// database; registry/src/run_recorder.cpp ingest_spool) loaded into a real
// SQLite results database: any input must load or throw epalm::Error naming
// file:line, and loading the same file again must change nothing.
#include "epalm/core/error.h"
#include "epalm/registry/results_store.h"
#include "epalm/registry/run_recorder.h"
#include "epalm/registry/sqlite.h"
#include "fuzz_input.h"

namespace {

std::int64_t rows(epalm::registry::ResultsStore& store) {
  epalm::registry::Statement s(store.database(),
                               "SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM metrics) + "
                               "(SELECT count(*) FROM scores) + (SELECT count(*) FROM artifacts)");
  return s.step() ? s.integer(0) : -1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto store = epalm::registry::ResultsStore::open(epalm::fuzz::folder() + "/results.sqlite");
  const auto path = epalm::fuzz::write("run.jsonl", std::string(reinterpret_cast<const char*>(data), size));
  try {
    epalm::registry::ingest_spool(store, path);
  } catch (const epalm::Error& e) {
    epalm::fuzz::check(e.where().rfind(path, 0) == 0, "the error names the spool file");
    return 0;
  }
  const auto before = rows(store);
  epalm::registry::ingest_spool(store, path);
  epalm::fuzz::check(rows(store) == before, "ingesting a spool twice changes nothing");
  return 0;
}
