#pragma once

// Work on batches of items on every core, with the results handed back in
// the order the batches were submitted: for verbs that re-run many logged
// decisions (audit replay) and report them in log order.

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace creditd::cli {

template <typename Item>
class OrderedBatches {
 public:
  // `work` runs on the workers, one item at a time, and must be safe to run
  // on several items at once; `done` runs on the submitting thread, once per
  // item, in submission order.
  OrderedBatches(std::function<void(Item&)> work, std::function<void(const Item&)> done)
      : work_(std::move(work)), done_(std::move(done)) {
    const size_t workers = std::max(1u, std::thread::hardware_concurrency());
    for (size_t i = 0; i < workers; ++i) workers_.emplace_back([this] { Work(); });
  }
  OrderedBatches(const OrderedBatches&) = delete;
  OrderedBatches& operator=(const OrderedBatches&) = delete;
  ~OrderedBatches() { Finish(); }

  // Queues `items`, and hands back every batch finished so far in order.
  // Waits while more than two batches per worker are queued, so memory stays
  // bounded whatever the input's size.
  void Submit(std::vector<Item> items) {
    if (items.empty()) return;
    auto batch = std::make_shared<Batch>();
    batch->items = std::move(items);
    std::unique_lock<std::mutex> lock(mutex_);
    todo_.push_back(batch);
    order_.push_back(std::move(batch));
    wake_.notify_all();
    HandBack(lock, 2 * workers_.size());
  }

  // Waits for every batch submitted and hands them back.
  void Drain() {
    std::unique_lock<std::mutex> lock(mutex_);
    HandBack(lock, 0);
  }

  // Waits for every batch and hands them back; stops the workers. Nothing
  // may be submitted after.
  void Finish() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (closing_) return;
    HandBack(lock, 0);
    closing_ = true;
    wake_.notify_all();
    lock.unlock();
    for (std::thread& worker : workers_) worker.join();
  }

 private:
  struct Batch {
    std::vector<Item> items;
    bool finished = false;
  };

  // Hands back finished batches from the front until at most `pending`
  // remain; the results are handed back unlocked.
  void HandBack(std::unique_lock<std::mutex>& lock, size_t pending) {
    while (!order_.empty()) {
      if (!order_.front()->finished) {
        if (order_.size() <= pending) return;
        wake_.wait(lock, [this] { return order_.front()->finished; });
      }
      std::shared_ptr<Batch> batch = std::move(order_.front());
      order_.pop_front();
      lock.unlock();
      for (const Item& item : batch->items) done_(item);
      lock.lock();
    }
  }

  void Work() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return closing_ || !todo_.empty(); });
      if (todo_.empty()) return;  // closing, nothing left
      std::shared_ptr<Batch> batch = std::move(todo_.front());
      todo_.pop_front();
      lock.unlock();
      for (Item& item : batch->items) work_(item);
      lock.lock();
      batch->finished = true;
      wake_.notify_all();
    }
  }

  const std::function<void(Item&)> work_;
  const std::function<void(const Item&)> done_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Batch>> todo_;   // not started yet
  std::deque<std::shared_ptr<Batch>> order_;  // not handed back yet, in order
  bool closing_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace creditd::cli
