#include "server/answer_deadlines.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "absl/time/clock.h"

namespace creditd::server {

AnswerDeadlines::AnswerDeadlines(absl::Duration deadline) : deadline_(deadline) {
  if (deadline_ > absl::ZeroDuration()) sweeper_ = std::thread([this] { Sweep(); });
}

AnswerDeadlines::~AnswerDeadlines() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
}

void AnswerDeadlines::Track(std::shared_ptr<PendingAnswer> answer, std::function<void()> expire) {
  if (deadline_ <= absl::ZeroDuration()) return;
  const absl::Time due = absl::Now() + deadline_;
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.push_back({due, std::move(answer), std::move(expire)});
}

void AnswerDeadlines::Sweep() {
  // Precision: a tenth of the deadline, between 1 and 100 ms.
  const absl::Duration tick =
      std::max(absl::Milliseconds(1), std::min(deadline_ / 10, absl::Milliseconds(100)));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, absl::ToChronoMilliseconds(tick), [&] { return stopping_; });
    if (stopping_) break;
    const absl::Time now = absl::Now();
    std::vector<Entry> expired;
    // Answered entries leave from the front as they come to it; unanswered
    // ones leave when they are due.
    while (!entries_.empty()) {
      Entry& front = entries_.front();
      if (!front.answer->Given() && front.due > now) break;
      if (front.due <= now) expired.push_back(std::move(front));
      entries_.pop_front();
    }
    lock.unlock();
    for (Entry& entry : expired) {
      if (entry.answer->Claim()) entry.expire();
    }
    expired.clear();
    lock.lock();
  }
}

}  // namespace creditd::server
