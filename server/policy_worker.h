#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace creditd::server {

// One thread for the slow policy work callers can ask for (ValidatePolicy's
// parse, check and analysis; Reload's load, compile and store), so that
// gRPC's callback threads never wait for it. Jobs run one at a time in the
// order submitted; at most `max_queued` wait.
class PolicyWorker {
 public:
  explicit PolicyWorker(size_t max_queued);
  // Runs the jobs still queued, then stops.
  ~PolicyWorker();

  // Queues `job`; false (and nothing queued) when `max_queued` jobs wait.
  bool TrySubmit(std::function<void()> job);

 private:
  void Run();

  const size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace creditd::server
