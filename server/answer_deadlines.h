#pragma once

// Answers unary calls that carry no deadline of their own when the server's
// default deadline passes first. One deadline for every such call means
// arrival order is deadline order: a FIFO and one sweeping thread replace a
// timer per call.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/time/time.h"

namespace creditd::server {

// An answer that must be given exactly once, by whichever comes first.
class PendingAnswer {
 public:
  // Claims the answer; true for the first caller only.
  bool Claim() { return !given_.exchange(true); }
  // Whether it has been claimed.
  bool Given() const { return given_.load(); }

 private:
  std::atomic<bool> given_{false};
};

class AnswerDeadlines {
 public:
  // `expire` runs (on the sweeping thread) for every tracked answer still
  // unclaimed `deadline` after it was tracked, once the sweeper claims it.
  // A zero deadline tracks nothing.
  explicit AnswerDeadlines(absl::Duration deadline);
  ~AnswerDeadlines();  // stops the sweeper; expires nothing further

  // Tracks `answer`; `expire` is called if the deadline claims it.
  void Track(std::shared_ptr<PendingAnswer> answer, std::function<void()> expire);

 private:
  struct Entry {
    absl::Time due;
    std::shared_ptr<PendingAnswer> answer;
    std::function<void()> expire;
  };
  void Sweep();

  const absl::Duration deadline_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Entry> entries_;  // oldest first, so in order of due time
  bool stopping_ = false;
  std::thread sweeper_;
};

}  // namespace creditd::server
