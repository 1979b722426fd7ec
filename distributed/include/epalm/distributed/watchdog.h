// Guards against a dead or stuck rank: every collective in flight is
// registered with a start time; a thread checks them and, when one has not
// finished within the timeout, calls the timeout action (the backends abort
// the whole job with a message naming the collective), so no rank waits forever.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace epalm::distributed {

class Watchdog {
 public:
  using Clock = std::chrono::steady_clock;
  // `on_timeout` gets a message naming the collective and the timeout; it is
  // called from the watchdog's thread and should not return.
  Watchdog(std::chrono::milliseconds timeout, std::function<void(const std::string&)> on_timeout);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Registers a collective described as `what`; `finished`, when given, is
  // polled by the watchdog's thread (for work the host never waits on, such as
  // GPU collectives) and ends the entry when it says true. Returns its id.
  std::uint64_t begin(std::string what, std::function<bool()> finished = {});
  // Ends the entry (idempotent).
  void end(std::uint64_t id);
  std::chrono::milliseconds timeout() const { return timeout_; }
  // Collectives in flight now.
  size_t in_flight() const;

 private:
  struct Entry {
    std::string what;
    Clock::time_point start;
    std::function<bool()> finished;
  };
  void run();

  std::chrono::milliseconds timeout_;
  std::function<void(const std::string&)> on_timeout_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::uint64_t, Entry> entries_;
  std::uint64_t next_id_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

// "2.5 s", "10 min": a timeout as people read it.
std::string describe_duration(std::chrono::milliseconds d);

}  // namespace epalm::distributed
