#include "epalm/registry/run_recorder.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <limits>
#include <set>
#include <type_traits>
#include <thread>

#include "epalm/core/error.h"
#include "epalm/registry/hashing.h"

namespace epalm::registry {

using json = nlohmann::json;

// Where the recorded events go: the database, or a spool file.
class RunRecorder::Sink {
 public:
  virtual ~Sink() = default;
  virtual void start(const RunStart& start) = 0;
  virtual void metrics(const std::string& run_id, const std::vector<MetricPoint>& points) = 0;
  virtual void heartbeat(const std::string& run_id, double time) = 0;
  virtual void scores(const std::string& run_id, const std::string& split, const Values& scores, double time) = 0;
  virtual void artifact(const std::string& run_id, const Artifact& artifact) = 0;
  virtual void finish(const std::string& run_id, RunStatus status, std::optional<int> exit_code,
                      const std::string& error, double ended) = 0;
};

namespace {

class StoreSink : public RunRecorder::Sink {
 public:
  explicit StoreSink(const std::string& path) : store_(ResultsStore::open(path)) {}
  void start(const RunStart& start) override { store_.start_run(start); }
  void metrics(const std::string& run_id, const std::vector<MetricPoint>& points) override {
    store_.append_metrics(run_id, points);
  }
  void heartbeat(const std::string& run_id, double time) override { store_.heartbeat(run_id, time); }
  void scores(const std::string& run_id, const std::string& split, const Values& scores, double time) override {
    store_.record_scores(run_id, split, scores, time);
  }
  void artifact(const std::string& run_id, const Artifact& artifact) override {
    store_.record_artifact(run_id, artifact);
  }
  void finish(const std::string& run_id, RunStatus status, std::optional<int> exit_code, const std::string& error,
              double ended) override {
    store_.finish_run(run_id, status, exit_code, error, ended);
  }

 private:
  ResultsStore store_;
};

// One JSON object per line, each written whole with one write(2) to an
// O_APPEND file and synced on flushes, so a killed run leaves at most a
// partial last line.
class SpoolSink : public RunRecorder::Sink {
 public:
  explicit SpoolSink(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(path, "cannot open the spool file for writing");
  }
  ~SpoolSink() override { ::close(fd_); }
  void start(const RunStart& s) override {
    json p = {{"git_commit", s.provenance.git_commit}, {"git_dirty", s.provenance.git_dirty},
              {"git_diff", s.provenance.git_diff},     {"host", s.provenance.host},
              {"world_size", s.provenance.world_size}, {"command_line", s.provenance.command_line},
              {"extra", s.provenance.extra}};
    json j = {{"type", "start"}, {"run_id", s.run_id}, {"experiment", s.experiment}, {"params", s.params},
              {"provenance", p}, {"started", s.started}};
    if (s.sweep) j["sweep"] = *s.sweep;
    if (s.cell_index) j["cell_index"] = *s.cell_index;
    write(j, true);
  }
  void metrics(const std::string& run_id, const std::vector<MetricPoint>& points) override {
    json rows = json::array();
    for (const auto& p : points) rows.push_back(json::array({p.key, p.step, p.value, p.wall}));
    write({{"type", "metrics"}, {"run_id", run_id}, {"points", rows}}, true);
  }
  void heartbeat(const std::string& run_id, double time) override {
    write({{"type", "heartbeat"}, {"run_id", run_id}, {"time", time}}, false);
  }
  void scores(const std::string& run_id, const std::string& split, const Values& scores, double time) override {
    write({{"type", "scores"}, {"run_id", run_id}, {"split", split}, {"scores", scores}, {"time", time}}, true);
  }
  void artifact(const std::string& run_id, const Artifact& a) override {
    write({{"type", "artifact"}, {"run_id", run_id}, {"kind", a.kind}, {"path", a.path}, {"bytes", a.bytes},
           {"sha256", a.sha256}, {"created", a.created}},
          true);
  }
  void finish(const std::string& run_id, RunStatus status, std::optional<int> exit_code, const std::string& error,
              double ended) override {
    json j = {{"type", "finish"}, {"run_id", run_id}, {"status", to_string(status)}, {"error", error}, {"ended", ended}};
    if (exit_code) j["exit_code"] = *exit_code;
    write(j, true);
  }

 private:
  void write(const json& record, bool sync) {
    const auto line = record.dump() + "\n";
    size_t done = 0;
    while (done < line.size()) {
      const auto n = ::write(fd_, line.data() + done, line.size() - done);
      if (n < 0) throw Error(path_, "cannot write to the spool file");
      done += static_cast<size_t>(n);
    }
    if (sync) ::fdatasync(fd_);
  }
  std::string path_;
  int fd_ = -1;
};

}  // namespace

std::optional<SweepCellRef> sweep_cell_from_environment(std::size_t variant) {
  const char* sweep = std::getenv("EPALM_SWEEP");
  const char* cells = std::getenv("EPALM_SWEEP_CELL");
  if (!sweep || !*sweep || !cells || !*cells) return std::nullopt;
  // One index, or a fused job's list ("3,7,9"): the variant-th is this run's.
  std::vector<long long> indices;
  for (const char* at = cells;;) {
    char* end = nullptr;
    indices.push_back(std::strtoll(at, &end, 10));
    if (end == at || (*end != ',' && *end != '\0')) {
      throw Error("EPALM_SWEEP_CELL", "not a cell index or a comma-separated list of them: '" + std::string(cells) + "'");
    }
    if (*end == '\0') break;
    at = end + 1;
  }
  if (variant >= indices.size()) {
    throw Error("EPALM_SWEEP_CELL", "names " + std::to_string(indices.size()) + " cell(s) ('" + cells +
                                        "') but the job records variant " + std::to_string(variant));
  }
  const long long index = indices[variant];
  const char* experiment = std::getenv("EPALM_EXPERIMENT");
  return SweepCellRef{sweep, index, experiment ? experiment : ""};
}

// --- RunRecorder ------------------------------------------------------------------------

struct RunRecorder::State {
  std::unique_ptr<Sink> sink;
  RunStart start;
  RecorderOptions options;
  std::mutex mutex;
  std::vector<MetricPoint> buffer;
  double last_flush = 0;
  bool finished = false;
  std::condition_variable wake;
  bool stopping = false;
  std::thread beater;

  void flush_locked() {
    if (buffer.empty()) return;
    sink->metrics(start.run_id, buffer);
    buffer.clear();
    last_flush = now_seconds();
  }
  void stop_beater() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    if (beater.joinable()) beater.join();
  }
};

RunRecorder::RunRecorder(std::unique_ptr<Sink> sink, RunStart start, RecorderOptions options)
    : state_(std::make_unique<State>()) {
  auto& s = *state_;
  s.sink = std::move(sink);
  s.options = options;
  if (!s.sink) return;  // disabled()
  if (start.run_id.empty()) start.run_id = new_run_id();
  if (start.started == 0) start.started = now_seconds();
  s.start = std::move(start);
  s.sink->start(s.start);
  s.last_flush = now_seconds();
  if (options.heartbeat_seconds > 0) {
    s.beater = std::thread([state = state_.get()] {
      std::unique_lock<std::mutex> lock(state->mutex);
      const auto period = std::chrono::duration<double>(state->options.heartbeat_seconds);
      while (!state->wake.wait_for(lock, period, [state] { return state->stopping; })) {
        try {
          if (now_seconds() - state->last_flush >= state->options.flush_seconds) state->flush_locked();
          state->sink->heartbeat(state->start.run_id, now_seconds());
        } catch (const std::exception& e) {
          spdlog::warn("results store: heartbeat of run {} failed: {}", state->start.run_id, e.what());
        }
      }
    });
  }
}

RunRecorder RunRecorder::to_store(const std::string& db_path, RunStart start, RecorderOptions options) {
  if (options.rank != 0) return disabled();
  return RunRecorder(std::make_unique<StoreSink>(db_path), std::move(start), options);
}

RunRecorder RunRecorder::to_spool(const std::string& spool_path, RunStart start, RecorderOptions options) {
  if (options.rank != 0) return disabled();
  return RunRecorder(std::make_unique<SpoolSink>(spool_path), std::move(start), options);
}

RunRecorder RunRecorder::for_run(const std::string& db_path, RunStart start, RecorderOptions options) {
  if (const char* spool = std::getenv("EPALM_SPOOL"); spool && *spool) {
    return to_spool(spool, std::move(start), options);
  }
  return to_store(db_path, std::move(start), options);
}

RunRecorder RunRecorder::disabled() {
  RunRecorder r(nullptr, RunStart{}, RecorderOptions{});
  return r;
}

RunRecorder::RunRecorder(RunRecorder&&) noexcept = default;
RunRecorder& RunRecorder::operator=(RunRecorder&&) noexcept = default;

RunRecorder::~RunRecorder() {
  if (!state_ || !state_->sink) return;
  state_->stop_beater();
  try {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->flush_locked();
    if (!state_->finished) {
      state_->sink->finish(state_->start.run_id, RunStatus::kFailed, std::nullopt, "ended without finish",
                           now_seconds());
    }
  } catch (const std::exception& e) {
    spdlog::warn("results store: closing run {} failed: {}", state_->start.run_id, e.what());
  }
}

const std::string& RunRecorder::run_id() const { return state_->start.run_id; }
bool RunRecorder::enabled() const { return state_ && state_->sink; }

void RunRecorder::log_metrics(std::int64_t step, const Values& values) {
  if (!enabled()) return;
  auto& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  const double wall = now_seconds();
  for (const auto& [key, value] : values) s.buffer.push_back({key, step, value, wall});
  if (s.buffer.size() >= s.options.flush_rows || wall - s.last_flush >= s.options.flush_seconds) s.flush_locked();
}

void RunRecorder::flush() {
  if (!enabled()) return;
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->flush_locked();
}

void RunRecorder::heartbeat() {
  if (!enabled()) return;
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->sink->heartbeat(state_->start.run_id, now_seconds());
}

void RunRecorder::log_scores(const std::string& split, const Values& scores) {
  if (!enabled()) return;
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->flush_locked();
  state_->sink->scores(state_->start.run_id, split, scores, now_seconds());
}

void RunRecorder::add_artifact(const std::string& kind, const std::string& path) {
  if (!enabled()) return;
  Artifact a;
  a.kind = kind;
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(path, ec);
  a.path = ec ? path : absolute.string();
  a.sha256 = sha256_file(path, &a.bytes);
  a.created = now_seconds();
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->sink->artifact(state_->start.run_id, a);
}

void RunRecorder::finish(RunStatus status, std::optional<int> exit_code, const std::string& error) {
  if (!enabled()) return;
  state_->stop_beater();
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->flush_locked();
  state_->sink->finish(state_->start.run_id, status, exit_code, error, now_seconds());
  state_->finished = true;
}

// --- ingest -----------------------------------------------------------------------------

namespace {

// An integer of type T from a JSON number that is one and fits: nlohmann's
// get<T>() casts a float (3.3e54) to T, undefined behaviour (found by the
// spool fuzz target).
template <typename T>
T integer_of(const json& v, const std::string& what, const std::string& where) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())
                               : (v.get<std::int64_t>() >= static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
                                  v.get<std::int64_t>() <= static_cast<std::int64_t>(std::numeric_limits<T>::max()))) {
      return static_cast<T>(v.is_number_unsigned() ? static_cast<std::int64_t>(v.get<std::uint64_t>())
                                                   : v.get<std::int64_t>());
    }
    throw Error(where, what + " is out of range: " + v.dump());
  }
  throw Error(where, what + " must be an integer, not " + v.dump());
}

template <typename T>
T field(const json& j, const char* name, const std::string& where) {
  if (!j.contains(name)) throw Error(where, std::string("record has no '") + name + "'");
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    return integer_of<T>(j.at(name), std::string("record field '") + name + "'", where);
  } else {
    try {
      return j.at(name).get<T>();
    } catch (const json::exception& e) {
      throw Error(where, std::string("record field '") + name + "' has the wrong type: " + e.what());
    }
  }
}

}  // namespace

IngestReport ingest_spool(ResultsStore& store, const std::string& spool_path) {
  std::ifstream in(spool_path, std::ios::binary);
  if (!in) throw Error(spool_path, "cannot read the spool file");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  IngestReport report;
  std::set<std::string> started;
  size_t position = 0;
  int line_number = 0;
  while (position < content.size()) {
    const auto end = content.find('\n', position);
    const bool complete = end != std::string::npos;
    const std::string line = content.substr(position, complete ? end - position : std::string::npos);
    position = complete ? end + 1 : content.size();
    ++line_number;
    if (line.empty()) continue;
    const std::string where = spool_path + ":" + std::to_string(line_number);
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {  // parse_error, and out_of_range for a number too large
      // A run killed mid-write leaves a cut-off last line: the rest is good.
      if (!complete) {
        report.truncated_tail = true;
        break;
      }
      throw Error(where, std::string("malformed spool record: ") + e.what());
    }
    if (!j.is_object()) throw Error(where, "a spool record must be a JSON object");
    const auto type = field<std::string>(j, "type", where);
    const auto run_id = field<std::string>(j, "run_id", where);
    if (type != "start" && !started.count(run_id)) {
      throw Error(where, "a '" + type + "' record for run " + run_id + " before its 'start' record");
    }
    if (type == "start") {
      RunStart s;
      s.run_id = run_id;
      s.experiment = field<std::string>(j, "experiment", where);
      s.params = field<Params>(j, "params", where);
      s.started = field<double>(j, "started", where);
      if (j.contains("sweep")) s.sweep = field<std::string>(j, "sweep", where);
      if (j.contains("cell_index")) s.cell_index = field<std::int64_t>(j, "cell_index", where);
      const auto p = field<json>(j, "provenance", where);
      s.provenance.git_commit = field<std::string>(p, "git_commit", where);
      s.provenance.git_dirty = field<bool>(p, "git_dirty", where);
      s.provenance.git_diff = field<std::string>(p, "git_diff", where);
      s.provenance.host = field<std::string>(p, "host", where);
      s.provenance.world_size = field<int>(p, "world_size", where);
      s.provenance.command_line = field<std::string>(p, "command_line", where);
      s.provenance.extra = field<std::map<std::string, std::string>>(p, "extra", where);
      store.start_run(s);
      started.insert(run_id);
      ++report.runs;
    } else if (type == "metrics") {
      std::vector<MetricPoint> points;
      for (const auto& row : field<json>(j, "points", where)) {
        if (!row.is_array() || row.size() != 4) throw Error(where, "a metric point must be [key, step, value, wall]");
        try {
          points.push_back({row[0].get<std::string>(), integer_of<std::int64_t>(row[1], "a metric point's step", where),
                            row[2].get<double>(), row[3].get<double>()});
        } catch (const json::exception& e) {
          throw Error(where, std::string("a metric point has the wrong types: ") + e.what());
        }
      }
      store.append_metrics(run_id, points);
      report.metric_rows += static_cast<std::int64_t>(points.size());
    } else if (type == "heartbeat") {
      store.heartbeat(run_id, field<double>(j, "time", where));
    } else if (type == "scores") {
      store.record_scores(run_id, field<std::string>(j, "split", where), field<Values>(j, "scores", where),
                          field<double>(j, "time", where));
    } else if (type == "artifact") {
      store.record_artifact(run_id, {field<std::string>(j, "kind", where), field<std::string>(j, "path", where),
                                     field<std::int64_t>(j, "bytes", where), field<std::string>(j, "sha256", where),
                                     field<double>(j, "created", where)});
    } else if (type == "finish") {
      std::optional<int> code;
      if (j.contains("exit_code")) code = field<int>(j, "exit_code", where);
      RunStatus status;
      try {
        status = parse_run_status(field<std::string>(j, "status", where));
      } catch (const UsageError& e) {
        throw Error(where, e.reason());
      }
      store.finish_run(run_id, status, code,
                       field<std::string>(j, "error", where), field<double>(j, "ended", where));
    } else {
      throw Error(where, "unknown spool record type '" + type + "'");
    }
  }
  return report;
}

}  // namespace epalm::registry
