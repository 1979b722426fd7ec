#include "epalm/distributed/watchdog.h"

#include <algorithm>
#include <sstream>
#include <vector>

namespace epalm::distributed {

Watchdog::Watchdog(std::chrono::milliseconds timeout, std::function<void(const std::string&)> on_timeout)
    : timeout_(timeout), on_timeout_(std::move(on_timeout)), thread_([this] { run(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::uint64_t Watchdog::begin(std::string what, std::function<bool()> finished) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto id = next_id_++;
  entries_.emplace(id, Entry{std::move(what), Clock::now(), std::move(finished)});
  return id;
}

void Watchdog::end(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.erase(id);
}

size_t Watchdog::in_flight() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

void Watchdog::run() {
  // Checks often enough to fire within ~10% of the timeout, at most every 100 ms.
  const auto period = std::clamp(timeout_ / 10, std::chrono::milliseconds(1), std::chrono::milliseconds(100));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, period, [this] { return stopping_; });
    if (stopping_) return;
    const auto now = Clock::now();
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.finished && it->second.finished()) {
        it = entries_.erase(it);
        continue;
      }
      if (now - it->second.start > timeout_) {
        const auto message = it->second.what + " has not finished after " + describe_duration(timeout_) +
                             " (the collective timeout): a rank died, is stuck, or issued different collectives";
        lock.unlock();
        on_timeout_(message);
        return;
      }
      ++it;
    }
  }
}

std::string describe_duration(std::chrono::milliseconds d) {
  std::ostringstream s;
  const double seconds = static_cast<double>(d.count()) / 1000.0;
  if (seconds >= 120 && d.count() % 60000 == 0) s << d.count() / 60000 << " min";
  else s << seconds << " s";
  return s.str();
}

}  // namespace epalm::distributed
