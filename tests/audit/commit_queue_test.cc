#include "audit/commit_queue.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace creditd::audit {
namespace {

AuditRecord Record(int i) {
  AuditRecord r;
  r.decision_id = absl::StrCat("d-", i);
  r.time = "2026-11-22T10:00:00.000Z";
  r.decision = "dunning";
  r.facts_json = absl::StrCat("{\"i\": ", i, "}");
  r.result_json = "{}";
  return r;
}

// A store in memory that fails on cue. Each fault concerns one step of the
// transaction; `hold` keeps Begin waiting until released, so that a test can
// queue a whole group behind it.
class FakeStore : public RecordStore {
 public:
  absl::StatusOr<ChainHead> ReadHead() override {
    std::lock_guard<std::mutex> lock(mutex_);
    ++head_reads;
    if (committed.empty()) return ChainHead{};
    return ChainHead{committed.back().sequence, committed.back().hash};
  }
  absl::Status Begin() override {
    std::unique_lock<std::mutex> lock(mutex_);
    held_in_begin = hold;
    released_.wait(lock, [&] { return !hold; });
    held_in_begin = false;
    ++begins;
    if (!begin_fault.ok()) return begin_fault;
    transaction.clear();
    policies_in_transaction.clear();
    return absl::OkStatus();
  }
  absl::Status InsertPolicy(const PolicySource& policy) override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::string& stored : policies) {
      if (stored == policy.sha256) return absl::OkStatus();
    }
    policies_in_transaction.push_back(policy.sha256);
    return absl::OkStatus();
  }
  absl::Status Insert(const AuditRecord& record) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (insert_fault) {
      if (absl::Status status = insert_fault(record); !status.ok()) return status;
    }
    transaction.push_back(record);
    return absl::OkStatus();
  }
  absl::Status Commit() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!commit_fault.ok()) {
      // A torn write: the data reached the disk, the commit said otherwise.
      if (torn) Persist();
      return commit_fault;
    }
    Persist();
    return absl::OkStatus();
  }
  void Rollback() override {
    std::lock_guard<std::mutex> lock(mutex_);
    transaction.clear();
    policies_in_transaction.clear();
  }

  void Hold() {
    std::lock_guard<std::mutex> lock(mutex_);
    hold = true;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      hold = false;
    }
    released_.notify_all();
  }
  template <typename F>
  void Set(F change) {
    std::lock_guard<std::mutex> lock(mutex_);
    change(*this);
  }
  std::vector<AuditRecord> Committed() {
    std::lock_guard<std::mutex> lock(mutex_);
    return committed;
  }
  std::vector<std::string> Policies() {
    std::lock_guard<std::mutex> lock(mutex_);
    return policies;
  }

  // Under mutex_ (through Set, or the accessors).
  absl::Status begin_fault;
  absl::Status commit_fault;
  bool torn = false;
  std::function<absl::Status(const AuditRecord&)> insert_fault;
  std::vector<AuditRecord> transaction;
  std::vector<std::string> policies_in_transaction;
  std::vector<AuditRecord> committed;
  std::vector<std::string> policies;
  int begins = 0;
  int head_reads = 0;
  bool hold = false;
  bool held_in_begin = false;  // the writer waits in Begin

 private:
  void Persist() {
    committed.insert(committed.end(), transaction.begin(), transaction.end());
    policies.insert(policies.end(), policies_in_transaction.begin(), policies_in_transaction.end());
    transaction.clear();
    policies_in_transaction.clear();
  }

  std::mutex mutex_;
  std::condition_variable released_;
};

// The chain is whole: sequences 1..n, each hash over its predecessor.
void ExpectWholeChain(const std::vector<AuditRecord>& records) {
  std::string previous;
  for (size_t i = 0; i < records.size(); ++i) {
    const AuditRecord& r = records[i];
    EXPECT_EQ(r.sequence, static_cast<int64_t>(i + 1));
    EXPECT_EQ(r.previous_hash, previous) << "record " << r.sequence;
    EXPECT_EQ(r.hash, RecordHash(r)) << "record " << r.sequence;
    previous = r.hash;
  }
}

// Queues `n` records (durable, without blocking) behind a held store, then
// releases it: they commit as one group. Returns each record's answer, in
// the order queued.
std::vector<absl::Status> OneGroup(CommitQueue& queue, FakeStore& store, int first, int n) {
  store.Hold();
  // A record that takes the writer into the held Begin, so the n queue up
  // behind it as the next group.
  std::promise<absl::Status> plug;
  queue.AppendAsync(Record(first - 1), [&](absl::Status s) { plug.set_value(s); });
  while (true) {
    bool waiting = false;
    store.Set([&](FakeStore& s) { waiting = s.held_in_begin; });
    if (waiting) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::vector<std::promise<absl::Status>> answers(static_cast<size_t>(n));
  std::vector<std::future<absl::Status>> results;
  for (int i = 0; i < n; ++i) {
    results.push_back(answers[static_cast<size_t>(i)].get_future());
    queue.AppendAsync(Record(first + i), [&answers, i](absl::Status s) {
      answers[static_cast<size_t>(i)].set_value(std::move(s));
    });
  }
  store.Release();
  plug.get_future().wait();
  std::vector<absl::Status> statuses;
  for (auto& r : results) statuses.push_back(r.get());
  return statuses;
}

TEST(CommitQueueTest, CommitsGroupsAndChainsThem) {
  FakeStore store;
  CommitQueue queue(store, {});
  ASSERT_TRUE(queue.Start().ok());
  for (const absl::Status& s : OneGroup(queue, store, 1, 50)) EXPECT_TRUE(s.ok()) << s;
  ASSERT_TRUE(queue.Append(Record(1000)).ok());
  const std::vector<AuditRecord> committed = store.Committed();
  ASSERT_EQ(committed.size(), 52u);
  ExpectWholeChain(committed);
  EXPECT_EQ(queue.Committed().sequence, 52);
  EXPECT_EQ(queue.Committed().hash, committed.back().hash);
}

TEST(CommitQueueTest, AConstraintOnOneRecordFailsThatCallerAlone) {
  FakeStore store;
  std::vector<std::string> reported;
  QueueOptions options;
  options.on_record_failed = [&](const AuditRecord& r, const absl::Status&) {
    reported.push_back(r.decision_id);
  };
  CommitQueue queue(store, options);
  ASSERT_TRUE(queue.Start().ok());
  store.Set([](FakeStore& s) {
    s.insert_fault = [](const AuditRecord& r) {
      if (r.decision_id == "d-13") return absl::AlreadyExistsError("UNIQUE constraint failed");
      if (r.decision_id == "d-17") return absl::InvalidArgumentError("string or blob too big");
      return absl::OkStatus();
    };
  });
  const std::vector<absl::Status> answers = OneGroup(queue, store, 10, 10);
  for (int i = 0; i < 10; ++i) {
    const int id = 10 + i;
    if (id == 13 || id == 17) {
      EXPECT_EQ(answers[static_cast<size_t>(i)].code(), absl::StatusCode::kInternal) << id;
    } else {
      EXPECT_TRUE(answers[static_cast<size_t>(i)].ok()) << id << answers[static_cast<size_t>(i)];
    }
  }
  const std::vector<AuditRecord> committed = store.Committed();
  ASSERT_EQ(committed.size(), 9u);  // the plug and 8 of the group
  ExpectWholeChain(committed);
  EXPECT_EQ(reported, (std::vector<std::string>{"d-13", "d-17"}));
}

// Errors of the transaction (busy, I/O, a full disk) fail the whole group;
// the next group commits and the chain has no gap.
TEST(CommitQueueTest, AnErrorOfTheTransactionFailsTheGroupAndTheNextOneCommits) {
  struct Fault {
    const char* name;
    std::function<void(FakeStore&)> set;
  };
  const std::vector<Fault> faults = {
      {"busy at begin",
       [](FakeStore& s) { s.begin_fault = absl::UnavailableError("database is locked"); }},
      {"I/O error on insert",
       [](FakeStore& s) {
         s.insert_fault = [](const AuditRecord& r) {
           return r.decision_id == "d-23" ? absl::UnavailableError("disk I/O error")
                                          : absl::OkStatus();
         };
       }},
      {"full disk at commit",
       [](FakeStore& s) { s.commit_fault = absl::UnavailableError("database or disk is full"); }},
  };
  for (const Fault& fault : faults) {
    SCOPED_TRACE(fault.name);
    FakeStore store;
    CommitQueue queue(store, {});
    ASSERT_TRUE(queue.Start().ok());
    ASSERT_TRUE(queue.Append(Record(1)).ok());
    store.Set([&](FakeStore& s) { fault.set(s); });
    // The plug of OneGroup fails too while the fault lasts (but for the
    // insert fault, which concerns d-23's transaction only).
    const std::vector<absl::Status> answers = OneGroup(queue, store, 20, 5);
    for (const absl::Status& s : answers) EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    store.Set([](FakeStore& s) {
      s.begin_fault = absl::OkStatus();
      s.commit_fault = absl::OkStatus();
      s.insert_fault = nullptr;
    });
    ASSERT_TRUE(queue.Append(Record(99)).ok());
    const std::vector<AuditRecord> committed = store.Committed();
    ExpectWholeChain(committed);
    for (const AuditRecord& r : committed) EXPECT_NE(r.decision_id, "d-20");
    EXPECT_EQ(committed.back().decision_id, "d-99");
  }
}

// A commit that failed may have reached the disk all the same: the queue
// reads the head again, so the next record chains onto what is there.
TEST(CommitQueueTest, ATornWriteIsFollowedFromWhatTheStoreHolds) {
  FakeStore store;
  CommitQueue queue(store, {});
  ASSERT_TRUE(queue.Start().ok());
  ASSERT_TRUE(queue.Append(Record(1)).ok());
  store.Set([](FakeStore& s) {
    s.commit_fault = absl::UnavailableError("disk I/O error");
    s.torn = true;
  });
  EXPECT_EQ(queue.Append(Record(2)).code(), absl::StatusCode::kUnavailable);
  store.Set([](FakeStore& s) { s.commit_fault = absl::OkStatus(); });
  ASSERT_TRUE(queue.Append(Record(3)).ok());
  const std::vector<AuditRecord> committed = store.Committed();
  ASSERT_EQ(committed.size(), 3u);  // d-2 did land
  ExpectWholeChain(committed);
  int reads = 0;
  store.Set([&](FakeStore& s) { reads = s.head_reads; });
  EXPECT_EQ(reads, 2);  // at start, and after the failed commit
}

TEST(CommitQueueTest, APolicyIsStoredWithTheNextGroupThatCommits) {
  FakeStore store;
  CommitQueue queue(store, {});
  ASSERT_TRUE(queue.Start().ok());
  store.Set([](FakeStore& s) { s.begin_fault = absl::UnavailableError("disk I/O error"); });
  EXPECT_FALSE(
      queue.StorePolicy({"abc", "p", "1.0.0", "text", 1, "2026-11-30T12:00:00.000Z"}).ok());
  EXPECT_TRUE(store.Policies().empty());
  store.Set([](FakeStore& s) { s.begin_fault = absl::OkStatus(); });
  ASSERT_TRUE(queue.Append(Record(1)).ok());
  EXPECT_EQ(store.Policies(), (std::vector<std::string>{"abc"}));
  ASSERT_TRUE(queue.StorePolicy({"abc", "p", "1.0.0", "text", 1, "2026-11-30T12:00:00.000Z"}).ok());
  EXPECT_EQ(store.Policies().size(), 1u);
}

// Async mode: the failure is told at once (nobody waits on a commit to hear
// it), records wait and are written once the store recovers; at a close
// that cannot write them, their number comes back as DataLoss.
TEST(CommitQueueTest, AsyncModeTellsFailuresAtOnceAndCountsWhatItCouldNotWrite) {
  FakeStore store;
  std::mutex mutex;
  std::vector<std::string> states;
  QueueOptions options;
  options.durability = Durability::kAsync;
  options.on_state = [&](const absl::Status& s) {
    std::lock_guard<std::mutex> lock(mutex);
    states.push_back(s.ok() ? "ok" : std::string(s.message()));
  };
  auto queue = std::make_unique<CommitQueue>(store, options);
  ASSERT_TRUE(queue->Start().ok());
  store.Set(
      [](FakeStore& s) { s.commit_fault = absl::UnavailableError("database or disk is full"); });
  for (int i = 1; i <= 30; ++i) ASSERT_TRUE(queue->Append(Record(i)).ok());
  for (int tries = 0; tries < 500; ++tries) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!states.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_EQ(states, (std::vector<std::string>{"database or disk is full"}));
  }
  EXPECT_EQ(queue->Flush().code(), absl::StatusCode::kUnavailable);
  store.Set([](FakeStore& s) { s.commit_fault = absl::OkStatus(); });
  // Flush answers at once while the store fails; the queue retries by itself.
  bool flushed = false;
  for (int tries = 0; tries < 500 && !flushed; ++tries) {
    flushed = queue->Flush().ok();
    if (!flushed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(flushed);
  EXPECT_EQ(store.Committed().size(), 30u);
  ExpectWholeChain(store.Committed());
  {
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_EQ(states, (std::vector<std::string>{"database or disk is full", "ok"}));
  }

  store.Set(
      [](FakeStore& s) { s.commit_fault = absl::UnavailableError("database or disk is full"); });
  for (int i = 31; i <= 37; ++i) ASSERT_TRUE(queue->Append(Record(i)).ok());
  const absl::Status closed = queue->Close(absl::Milliseconds(300));
  EXPECT_EQ(closed.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(closed.message().find("7 decisions were answered but could not be written"),
            std::string::npos)
      << closed;
  EXPECT_EQ(store.Committed().size(), 30u);
  EXPECT_EQ(queue->Append(Record(40)).code(), absl::StatusCode::kUnavailable);
}

TEST(CommitQueueTest, CloseWritesWhatIsQueuedWhenItCan) {
  FakeStore store;
  QueueOptions options;
  options.durability = Durability::kAsync;
  CommitQueue queue(store, options);
  ASSERT_TRUE(queue.Start().ok());
  for (int i = 1; i <= 100; ++i) ASSERT_TRUE(queue.Append(Record(i)).ok());
  EXPECT_TRUE(queue.Close(absl::Seconds(30)).ok());
  EXPECT_EQ(store.Committed().size(), 100u);
}

TEST(CommitQueueTest, WaitingCallersHearWhenTheQueueClosesWithoutWritingThem) {
  FakeStore store;
  CommitQueue queue(store, {});
  ASSERT_TRUE(queue.Start().ok());
  store.Set([](FakeStore& s) { s.commit_fault = absl::UnavailableError("disk I/O error"); });
  std::promise<absl::Status> answer;
  queue.AppendAsync(Record(1), [&](absl::Status s) { answer.set_value(std::move(s)); });
  EXPECT_EQ(answer.get_future().get().code(), absl::StatusCode::kUnavailable);
  const absl::Status closed = queue.Close(absl::Milliseconds(100));
  EXPECT_TRUE(closed.ok() || absl::IsUnavailable(closed)) << closed;
  EXPECT_TRUE(store.Committed().empty());
}

// What the queue tells whoever watches it (creditd's metrics): each group's
// size, what of it was written, how long it took and how it ended; the
// depth; and in async mode the records answered but never written.
TEST(CommitQueueTest, TellsEachGroupItsDepthAndWhatAsyncModeDropped) {
  FakeStore store;
  std::mutex mutex;
  std::vector<GroupCommit> groups;
  QueueOptions options;
  options.on_group_commit = [&](const GroupCommit& group) {
    std::lock_guard<std::mutex> lock(mutex);
    groups.push_back(group);
  };
  size_t dropped_in_durable_mode = 0;
  options.on_records_dropped = [&](size_t n) { dropped_in_durable_mode += n; };
  CommitQueue queue(store, options);
  ASSERT_TRUE(queue.Start().ok());
  EXPECT_EQ(queue.Depth(), 0u);
  store.Set([](FakeStore& s) {
    s.insert_fault = [](const AuditRecord& r) {
      return r.decision_id == "d-13" ? absl::AlreadyExistsError("UNIQUE constraint failed")
                                     : absl::OkStatus();
    };
  });
  OneGroup(queue, store, 10, 10);
  ASSERT_TRUE(queue.Flush().ok());
  {
    std::lock_guard<std::mutex> lock(mutex);
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[0].records, 1u);  // the plug
    EXPECT_EQ(groups[0].written, 1u);
    EXPECT_EQ(groups[1].records, 10u);
    EXPECT_EQ(groups[1].written, 9u);  // d-13 refused alone; its caller heard
    EXPECT_TRUE(groups[1].status.ok());
    EXPECT_GE(groups[1].latency, absl::ZeroDuration());
  }
  // Durable mode drops nothing: a record refused alone was never answered OK.
  EXPECT_EQ(dropped_in_durable_mode, 0u);

  // While a group waits in Begin, the queue's depth counts it and those
  // behind it.
  store.Set([](FakeStore& s) { s.insert_fault = nullptr; });
  store.Hold();
  std::promise<absl::Status> first;
  queue.AppendAsync(Record(100), [&](absl::Status s) { first.set_value(s); });
  std::vector<std::promise<absl::Status>> more(3);
  for (int i = 0; i < 3; ++i) {
    queue.AppendAsync(Record(101 + i), [&more, i](absl::Status s) {
      more[static_cast<size_t>(i)].set_value(std::move(s));
    });
  }
  EXPECT_EQ(queue.Depth(), 4u);
  store.Release();
  first.get_future().wait();
  for (auto& m : more) m.get_future().wait();
  ASSERT_TRUE(queue.Flush().ok());
  EXPECT_EQ(queue.Depth(), 0u);

  // A group that fails is told with its error and nothing written.
  store.Set([](FakeStore& s) { s.commit_fault = absl::UnavailableError("disk I/O error"); });
  EXPECT_EQ(queue.Append(Record(200)).code(), absl::StatusCode::kUnavailable);
  {
    std::lock_guard<std::mutex> lock(mutex);
    ASSERT_FALSE(groups.empty());
    EXPECT_EQ(groups.back().records, 1u);
    EXPECT_EQ(groups.back().written, 0u);
    EXPECT_EQ(groups.back().status.code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_EQ(dropped_in_durable_mode, 0u);
}

TEST(CommitQueueTest, AsyncModeCountsTheRecordsItAnsweredButCouldNotWrite) {
  FakeStore store;
  std::atomic<size_t> dropped{0};
  std::atomic<size_t> written{0};
  QueueOptions options;
  options.durability = Durability::kAsync;
  options.on_records_dropped = [&](size_t n) { dropped += n; };
  options.on_group_commit = [&](const GroupCommit& group) { written += group.written; };
  CommitQueue queue(store, options);
  ASSERT_TRUE(queue.Start().ok());
  // One refused alone: answered, never written.
  store.Set([](FakeStore& s) {
    s.insert_fault = [](const AuditRecord& r) {
      return r.decision_id == "d-3" ? absl::InvalidArgumentError("string or blob too big")
                                    : absl::OkStatus();
    };
  });
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(queue.Append(Record(i)).ok());
  ASSERT_TRUE(queue.Flush().ok());
  EXPECT_EQ(dropped.load(), 1u);
  EXPECT_EQ(written.load(), 4u);
  // Those still queued when Close gives up on a failing store.
  store.Set([](FakeStore& s) { s.commit_fault = absl::UnavailableError("disk is full"); });
  for (int i = 10; i < 16; ++i) ASSERT_TRUE(queue.Append(Record(i)).ok());
  EXPECT_EQ(queue.Close(absl::Milliseconds(100)).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(dropped.load(), 7u);
  EXPECT_EQ(written.load(), 4u);
  EXPECT_EQ(store.Committed().size(), 4u);
}

TEST(CommitQueueTest, BetweenCommitsRunsWhenWokenUntilItIsDone) {
  FakeStore store;
  std::atomic<int> steps{0};
  QueueOptions options;
  options.between_commits = [&] { return ++steps < 5; };
  CommitQueue queue(store, options);
  ASSERT_TRUE(queue.Start().ok());
  queue.Wake();
  for (int tries = 0; tries < 500 && steps < 5; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(steps.load(), 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(steps.load(), 5);  // done: not called again until woken
  ASSERT_TRUE(queue.Append(Record(1)).ok());
  EXPECT_EQ(steps.load(), 5);
}

}  // namespace
}  // namespace creditd::audit
