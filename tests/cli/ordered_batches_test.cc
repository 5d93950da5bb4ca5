#include "cli/ordered_batches.h"

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace creditd::cli {
namespace {

struct Item {
  int index = 0;
  int result = 0;
  std::thread::id worker;
};

// Every item is worked on once, off the submitting thread, and handed back
// on it in submission order, across batches of uneven sizes and work that
// takes uneven time; Drain hands back everything submitted and work goes on.
TEST(OrderedBatchesTest, HandsBackEveryItemInOrderOnTheSubmittingThread) {
  const std::thread::id submitter = std::this_thread::get_id();
  std::vector<int> handed_back;
  std::set<std::thread::id> workers;
  std::atomic<int> worked{0};
  OrderedBatches<Item> batches(
      [&worked](Item& item) {
        // The first items of a batch take longest, so later batches finish
        // first.
        if (item.index % 97 < 3) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        item.result = item.index * 2;
        item.worker = std::this_thread::get_id();
        ++worked;
      },
      [&](const Item& item) {
        EXPECT_EQ(std::this_thread::get_id(), submitter);
        EXPECT_EQ(item.result, item.index * 2);
        EXPECT_NE(item.worker, submitter);
        workers.insert(item.worker);
        handed_back.push_back(item.index);
      });
  int next = 0;
  for (int size : {1, 97, 5, 300, 0, 64, 97, 2, 1000}) {
    std::vector<Item> batch;
    for (int k = 0; k < size; ++k) batch.push_back({next++, 0, {}});
    batches.Submit(std::move(batch));
    if (size == 300) {
      batches.Drain();
      EXPECT_EQ(static_cast<int>(handed_back.size()), next);
    }
  }
  batches.Finish();
  ASSERT_EQ(static_cast<int>(handed_back.size()), next);
  EXPECT_EQ(worked.load(), next);
  for (int k = 0; k < next; ++k) ASSERT_EQ(handed_back[k], k);
  EXPECT_GE(workers.size(), 1u);
}

}  // namespace
}  // namespace creditd::cli
