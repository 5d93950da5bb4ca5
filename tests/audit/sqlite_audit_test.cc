#include "audit/sqlite_audit.h"

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crypto/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace creditd::audit {
namespace {

std::string FreshPath(const std::string& name) {
  // Per process: test binaries of other checkouts may run at the same time.
  const std::string path = ::testing::TempDir() + std::to_string(getpid()) + "-" + name;
  std::error_code absent;  // a file not there is what we want
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix, absent);
  return path;
}

// The canonical form the tests' policy sources say they are in.
constexpr int kForm = 2;

// The text Record's policy_sha256 is the hash of.
constexpr char kStoredText[] = "the text of credit_application 1.0.0";

AuditRecord Record(int i) {
  AuditRecord r;
  r.decision_id = absl::StrCat("d-", i);
  r.time = "2026-11-22T10:00:00.000Z";
  r.decision = "credit_application";
  r.policy_name = "credit_application";
  r.policy_version = "1.0.0";
  r.policy_sha256 = crypto::Sha256Hex(kStoredText);
  r.facts_json = absl::StrCat("{\"i\": ", i, "}");
  r.result_json = "{}";
  return r;
}

// A policy's source as the server hands it over (the log does not read it).
PolicySource TinyPolicy() {
  PolicySource policy;
  policy.name = "tiny";
  policy.version = "1.0.0";
  policy.source =
      "=== tiny.credit\npolicy tiny\n  version 1.0.0\n  effective 2026-01-01\n\n"
      "input a: int\noutput x: bool = a > 1\n";
  policy.sha256 = crypto::Sha256Hex(policy.source);
  return policy;
}

TEST(SqliteAuditTest, ChainsRecordsAndVerifies) {
  const std::string path = FreshPath("chain.db");
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 25; ++i) EXPECT_TRUE((*sink)->Append(Record(t * 100 + i)).ok());
      });
    }
    for (auto& th : threads) th.join();
  }
  absl::StatusOr<VerifyResult> result = VerifyLog(path);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->ok) << result->problem;
  EXPECT_EQ(result->records, 100);
  auto record = ReadRecord(path, "d-305");
  ASSERT_TRUE(record.ok());
  ASSERT_TRUE(record->has_value());
  EXPECT_EQ((*record)->facts_json, "{\"i\": 305}");

  // Reopening continues the chain.
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->Append(Record(999)).ok());
  }
  result = VerifyLog(path);
  EXPECT_TRUE(result->ok);
  EXPECT_EQ(result->records, 101);
}

TEST(SqliteAuditTest, VerifyFindsTheFirstTamperedRecord) {
  const std::string path = FreshPath("tamper.db");
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*sink)->Append(Record(i)).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "UPDATE decisions SET result = '{\"outcome\":\"approve\"}' "
                         "WHERE sequence = 7",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  absl::StatusOr<VerifyResult> result = VerifyLog(path);
  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(result->ok);
  EXPECT_EQ(result->first_broken, 7);
}

TEST(SqliteAuditTest, FailsClosedAndRecovers) {
  const std::string path = FreshPath("fault.db");
  auto sink = SqliteAuditSink::Open(path, {});
  ASSERT_TRUE(sink.ok());
  std::atomic<bool> broken{true};
  (*sink)->SetFaultForTesting(
      [&] { return broken ? absl::UnavailableError("disk full") : absl::OkStatus(); });
  absl::Status status = (*sink)->Append(Record(1));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  broken = false;
  EXPECT_TRUE((*sink)->Append(Record(2)).ok());
  sink->reset();
  absl::StatusOr<VerifyResult> result = VerifyLog(path);
  EXPECT_TRUE(result->ok);
  EXPECT_EQ(result->records, 1);  // the failed record was not logged
  auto missing = ReadRecord(path, "d-1");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST(SqliteAuditTest, PolicySourceWaitsForTheLogToBeWritable) {
  const std::string path = FreshPath("policy_fault.db");
  const PolicySource policy = TinyPolicy();
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok());
    std::atomic<bool> broken{true};
    (*sink)->SetFaultForTesting(
        [&] { return broken ? absl::UnavailableError("disk full") : absl::OkStatus(); });
    EXPECT_EQ((*sink)->StorePolicy(policy).code(), absl::StatusCode::kUnavailable);
    broken = false;
    // The first record that commits brings the queued source with it.
    ASSERT_TRUE((*sink)->Append(Record(1)).ok());
  }
  absl::StatusOr<std::string> source = ReadPolicySource(path, policy.sha256);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ(*source, policy.source);
}

TEST(SqliteAuditTest, AsyncCallbacksRunOncePerRecordInCommitOrder) {
  const std::string path = FreshPath("async.db");
  std::mutex mutex;
  std::condition_variable all_done;
  std::vector<std::string> answered;
  int failed = 0;
  constexpr int kThreads = 4, kEach = 200;
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          AuditRecord r = Record(t * 1000 + i);
          const std::string id = r.decision_id;
          (*sink)->AppendAsync(std::move(r), [&, id](absl::Status status) {
            std::lock_guard<std::mutex> lock(mutex);
            if (!status.ok()) ++failed;
            answered.push_back(id);
            all_done.notify_all();
          });
        }
      });
    }
    for (auto& th : threads) th.join();
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(all_done.wait_for(lock, std::chrono::seconds(30),
                                  [&] { return answered.size() == kThreads * kEach; }));
  }
  EXPECT_EQ(failed, 0);
  // Callbacks came in the order the records were committed.
  std::vector<std::string> logged;
  ASSERT_TRUE(ForEachRecord(path, [&](const AuditRecord& r) {
                logged.push_back(r.decision_id);
                return true;
              }).ok());
  EXPECT_EQ(logged, answered);
  absl::StatusOr<VerifyResult> result = VerifyLog(path);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok) << result->problem;
}

// A log written before record format 2 (no log_format table, one sha256
// over every field) keeps verifying after the server appends to it.
// Writes a log as a creditd of record format `format` (1 or 2) did: the
// decisions table without kind and caller, and `records` records chained in
// that format (format 2 says so in log_format; format 1 logs had no table).
void WriteOldLog(const std::string& path, int format, int records) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const std::string schema = absl::StrCat(
      "CREATE TABLE decisions (sequence INTEGER PRIMARY KEY, decision_id TEXT NOT NULL UNIQUE, "
      "time TEXT NOT NULL, customer_id TEXT NOT NULL, request_id TEXT NOT NULL, decision TEXT "
      "NOT NULL, policy_name TEXT NOT NULL, policy_version TEXT NOT NULL, policy_sha256 TEXT NOT "
      "NULL, facts TEXT NOT NULL, result TEXT NOT NULL, previous_hash TEXT NOT NULL, hash TEXT "
      "NOT NULL);",
      format >= 2 ? " CREATE TABLE log_format (first_sequence INTEGER PRIMARY KEY, format "
                    "INTEGER NOT NULL); INSERT INTO log_format VALUES (1, 2);"
                  : "");
  ASSERT_EQ(sqlite3_exec(db, schema.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  std::string previous;
  for (int i = 1; i <= records; ++i) {
    AuditRecord r = Record(i);
    r.sequence = i;
    r.format = format;
    r.previous_hash = previous;
    r.hash = RecordHash(r);
    previous = r.hash;
    const std::string sql =
        absl::StrCat("INSERT INTO decisions VALUES (", i, ", '", r.decision_id, "', '", r.time,
                     "', '', '', '", r.decision, "', '", r.policy_name, "', '", r.policy_version,
                     "', '", r.policy_sha256, "', '", r.facts_json, "', '", r.result_json, "', '",
                     r.previous_hash, "', '", r.hash, "');");
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
  }
  sqlite3_close(db);
}

TEST(SqliteAuditTest, LogsFromTheFirstFormatStillVerify) {
  const std::string path = FreshPath("format1.db");
  WriteOldLog(path, 1, 3);
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->Append(Record(4)).ok());
    ASSERT_TRUE((*sink)->Append(Record(5)).ok());
  }
  absl::StatusOr<VerifyResult> result = VerifyLog(path);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok) << result->problem;
  EXPECT_EQ(result->records, 5);
  std::vector<int> formats;
  ASSERT_TRUE(ForEachRecord(path, [&](const AuditRecord& r) {
                formats.push_back(r.format);
                return true;
              }).ok());
  EXPECT_EQ(formats, (std::vector<int>{1, 1, 1, kLogFormat, kLogFormat}));
  // A change to a first-format record is still found.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE decisions SET facts = '{}' WHERE sequence = 2", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  result = VerifyLog(path);
  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(result->ok);
  EXPECT_EQ(result->first_broken, 2);
}

// Async mode while the log fails: records wait in the queue (more than one
// group's worth), StorePolicy answers at once instead of waiting behind them,
// and everything is written once the log recovers.
TEST(SqliteAuditTest, AsyncModeKeepsRecordsAndAnswersStorePolicyWhileFailing) {
  const std::string path = FreshPath("async_fault.db");
  const PolicySource policy = TinyPolicy();
  SqliteOptions options;
  options.durability = Durability::kAsync;
  {
    auto sink = SqliteAuditSink::Open(path, options);
    ASSERT_TRUE(sink.ok());
    std::atomic<bool> broken{true};
    (*sink)->SetFaultForTesting(
        [&] { return broken ? absl::UnavailableError("disk full") : absl::OkStatus(); });
    constexpr int kRecords = 5000;
    for (int i = 0; i < kRecords; ++i) ASSERT_TRUE((*sink)->Append(Record(i)).ok());
    auto stored = std::async(std::launch::async, [&] { return (*sink)->StorePolicy(policy); });
    ASSERT_EQ(stored.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_EQ(stored.get().code(), absl::StatusCode::kUnavailable);
    broken = false;
    // Flush reports the failure until the writer's next try succeeds.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!(*sink)->Flush().ok() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE((*sink)->Flush().ok());
  }
  absl::StatusOr<VerifyResult> result = VerifyLog(path);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok) << result->problem;
  EXPECT_EQ(result->records, 5000);
  EXPECT_TRUE(ReadPolicySource(path, policy.sha256).ok());
}

TEST(SqliteAuditTest, HashesChainContentAndPlace) {
  AuditRecord r = Record(1);
  r.sequence = 1;
  const std::string content = ContentHash(r);
  EXPECT_EQ(content.size(), 64u);
  EXPECT_EQ(RecordHash(r), ChainHash("", 1, content));
  // The same content at another place in the chain hashes differently.
  EXPECT_NE(ChainHash("", 2, content), ChainHash("", 1, content));
  EXPECT_NE(ChainHash("x", 1, content), ChainHash("", 1, content));
  r.facts_json = "{\"i\": 2}";
  EXPECT_NE(ContentHash(r), content);
}

// From format 3 a record names its kind and caller, and both are covered by
// its hash: changing who asked is found like changing what was decided.
TEST(SqliteAuditTest, CallerAndKindAreLoggedAndCoveredByTheHash) {
  const std::string path = FreshPath("caller.db");
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    AuditRecord decision = Record(1);
    decision.caller = "spiffe://example.test/orders";
    ASSERT_TRUE((*sink)->Append(decision).ok());
    AuditRecord reload;
    reload.decision_id = "r-1";
    reload.time = "2026-11-22T10:00:01.000Z";
    reload.kind = kReloadRecord;
    reload.caller = "ops-admin";
    reload.facts_json = "{}";
    reload.result_json = "{\"accepted\": true}";
    ASSERT_TRUE((*sink)->Append(reload).ok());
  }
  auto record = ReadRecord(path, "d-1");
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->caller, "spiffe://example.test/orders");
  EXPECT_EQ((*record)->kind, kDecisionRecord);
  record = ReadRecord(path, "r-1");
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->kind, kReloadRecord);
  EXPECT_EQ((*record)->caller, "ops-admin");
  absl::StatusOr<VerifyResult> result = VerifyLog(path);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok) << result->problem;
  for (const char* sql : {"UPDATE decisions SET caller = 'someone-else' WHERE sequence = 1",
                          "UPDATE decisions SET kind = 'decision' WHERE sequence = 2"}) {
    const std::string copy = FreshPath("caller-tampered.db");
    std::error_code error;
    ASSERT_TRUE(std::filesystem::copy_file(path, copy, error)) << error.message();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(copy.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    result = VerifyLog(copy);
    ASSERT_TRUE(result.ok());
    EXPECT_FALSE(result->ok) << sql;
  }
}

// A log written in format 2 (no kind or caller columns) is upgraded in place
// when opened for writing, and verifies across the change.
TEST(SqliteAuditTest, LogsFromFormatTwoGainCallerColumnsAndStillVerify) {
  const std::string path = FreshPath("format2.db");
  WriteOldLog(path, 2, 2);
  // Read-only, before the upgrade: the old columns read as their defaults.
  absl::StatusOr<VerifyResult> result = VerifyLog(path);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->ok) << result->problem;
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    AuditRecord r = Record(3);
    r.caller = "alice";
    ASSERT_TRUE((*sink)->Append(r).ok());
  }
  result = VerifyLog(path);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok) << result->problem;
  EXPECT_EQ(result->records, 3);
  std::vector<std::string> callers;
  std::vector<int> formats;
  ASSERT_TRUE(ForEachRecord(path, [&](const AuditRecord& r) {
                callers.push_back(r.caller);
                formats.push_back(r.format);
                return true;
              }).ok());
  EXPECT_EQ(callers, (std::vector<std::string>{"", "", "alice"}));
  EXPECT_EQ(formats, (std::vector<int>{2, 2, kLogFormat}));
}

// A stalled disk must not grow memory without bound: once max_pending
// records wait, AppendAsync answers Unavailable at once, in durable mode too.
TEST(SqliteAuditTest, QueueIsBoundedWhileTheWriterStalls) {
  const std::string path = FreshPath("bounded.db");
  SqliteOptions options;
  options.max_pending = 10;
  options.max_batch = 4;
  auto sink = SqliteAuditSink::Open(path, options);
  ASSERT_TRUE(sink.ok());
  std::mutex mutex;
  std::condition_variable cv;
  bool stalled = true;
  (*sink)->SetFaultForTesting([&] {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return !stalled; });
    return absl::OkStatus();
  });
  std::atomic<int> refused{0};
  std::atomic<int> written{0};
  for (int i = 0; i < 40; ++i) {
    (*sink)->AppendAsync(Record(i), [&](absl::Status status) {
      if (status.ok()) {
        ++written;
      } else {
        EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
        ++refused;
      }
    });
  }
  // At most one batch with the writer plus max_pending queued.
  EXPECT_GE(refused.load(), 40 - 4 - 10);
  {
    std::lock_guard<std::mutex> lock(mutex);
    stalled = false;
  }
  cv.notify_all();
  EXPECT_TRUE((*sink)->Flush().ok());
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (written + refused < 40 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(written + refused, 40);
  EXPECT_LE(written.load(), 14);
}

TEST(SqliteAuditTest, OneSinkHoldsTheLogAndOthersReadItsSnapshot) {
  const std::string path = FreshPath("held.db");
  const std::string snapshot = path + ".snapshot";
  std::error_code error;
  std::filesystem::remove(snapshot, error);
  auto sink = SqliteAuditSink::Open(path, {});
  ASSERT_TRUE(sink.ok()) << sink.status();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*sink)->Append(Record(i)).ok());
  // No WAL index in a shared file another process could break.
  EXPECT_FALSE(std::filesystem::exists(path + "-shm", error));

  // A second writer is refused, not left to fail every commit.
  auto second = SqliteAuditSink::Open(path, {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use by another process"), std::string::npos)
      << second.status();

  // Readers are pointed at the snapshot.
  absl::StatusOr<VerifyResult> live = VerifyLog(path);
  ASSERT_FALSE(live.ok());
  EXPECT_EQ(live.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(live.status().message().find(".snapshot"), std::string::npos) << live.status();
  EXPECT_EQ(ReadRecord(path, "d-1").status().code(), absl::StatusCode::kFailedPrecondition);

  // A snapshot taken while appends go on holds at least what was committed
  // when it was asked for, verifies, and leaves the log writable.
  std::atomic<bool> stop{false};
  std::thread appender([&] {
    for (int i = 100; !stop; ++i) ASSERT_TRUE((*sink)->Append(Record(i)).ok());
  });
  std::promise<absl::Status> done;
  (*sink)->Snapshot(snapshot, [&](absl::Status status) { done.set_value(std::move(status)); });
  const absl::Status status = done.get_future().get();
  stop = true;
  appender.join();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_FALSE(std::filesystem::exists(snapshot + ".tmp", error));
  absl::StatusOr<VerifyResult> copy = VerifyLog(snapshot);
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_TRUE(copy->ok) << copy->problem;
  EXPECT_GE(copy->records, 20);
  auto record = ReadRecord(snapshot, "d-19");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_TRUE(record->has_value());
  ASSERT_TRUE((*sink)->Append(Record(99999)).ok());

  // Closed, the log opens again, for writing and reading.
  sink->reset();
  EXPECT_TRUE(VerifyLog(path).ok());
  EXPECT_TRUE(SqliteAuditSink::Open(path, {}).ok());
}

TEST(SqliteAuditTest, SnapshotsNotBegunWhenTheLogClosesAreAnswered) {
  const std::string path = FreshPath("snapshot_close.db");
  std::vector<absl::Status> results;
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->Append(Record(1)).ok());
    for (int i = 0; i < 3; ++i) {
      (*sink)->Snapshot(absl::StrCat(path, ".copy", i),
                        [&](absl::Status status) { results.push_back(std::move(status)); });
    }
  }
  // Every request is answered exactly once, done or refused.
  EXPECT_EQ(results.size(), 3u);
}

TEST(SqliteAuditTest, SnapshotToAnUnwritablePlaceFails) {
  const std::string path = FreshPath("snapshot_fail.db");
  auto sink = SqliteAuditSink::Open(path, {});
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Append(Record(1)).ok());
  std::promise<absl::Status> done;
  (*sink)->Snapshot(::testing::TempDir() + "no-such-directory/copy.db",
                    [&](absl::Status status) { done.set_value(std::move(status)); });
  const absl::Status status = done.get_future().get();
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("no-such-directory"), std::string::npos) << status;
  ASSERT_TRUE((*sink)->Append(Record(2)).ok());
}

// The report: with the last page of a 50-record log overwritten, verify and
// replay said "49 records, intact" (the read loop stopped at SQLite's error
// and returned OK), and ReadRecord called an I/O error "not found".
TEST(SqliteAuditTest, ALogThatCannotBeReadToItsEndIsAnErrorNotAShorterLog) {
  const std::string path = FreshPath("torn_page.db");
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok());
    for (int i = 1; i <= 50; ++i) ASSERT_TRUE((*sink)->Append(Record(i)).ok());
  }
  ASSERT_TRUE(VerifyLog(path).ok());
  // The records' pages are the last ones written: overwrite the file's last
  // page with garbage.
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(path, error);
  ASSERT_FALSE(error);
  ASSERT_GE(size, 8192u);
  {
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fseek(f, static_cast<long>(size - 4096), SEEK_SET), 0);
    const std::string garbage(4096, '\x5a');
    ASSERT_EQ(std::fwrite(garbage.data(), 1, garbage.size(), f), garbage.size());
    ASSERT_EQ(std::fclose(f), 0);
  }
  absl::StatusOr<VerifyResult> result = VerifyLog(path);
  if (result.ok()) {
    // Reading may also stop at a record whose bytes changed; never "intact".
    EXPECT_FALSE(result->ok && result->records == 50) << "the damage went unseen";
    EXPECT_FALSE(result->ok) << result->records << " records, intact";
  } else {
    EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << result.status();
  }
  int64_t visited = 0;
  const absl::Status read = ForEachRecord(path, [&](const AuditRecord&) {
    ++visited;
    return true;
  });
  EXPECT_FALSE(read.ok() && visited < 50) << "read " << visited << " records and said OK";
  // A record on the damaged page is an error, not "not found".
  auto record = ReadRecord(path, "d-50");
  EXPECT_FALSE(record.ok() && !record->has_value()) << "an unreadable record read as missing";
}

// The report: a NUL byte in customer_id was hashed in full but read back
// cut at the NUL, so verify called the record tampered with and show
// printed a different customer.
TEST(SqliteAuditTest, TextReadsBackByteForByteNulBytesIncluded) {
  const std::string path = FreshPath("nul.db");
  AuditRecord r = Record(1);
  r.customer_id = std::string("c-1\0hidden", 10);
  r.request_id = std::string("\0", 1);
  r.facts_json = std::string("{\"a\": \"x\0y\"}", 12);
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->Append(r).ok());
  }
  absl::StatusOr<VerifyResult> result = VerifyLog(path);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->ok) << result->problem;
  auto read = ReadRecord(path, "d-1");
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->customer_id, r.customer_id);
  EXPECT_EQ((*read)->request_id, r.request_id);
  EXPECT_EQ((*read)->facts_json, r.facts_json);
}

// From format 5 a decision's result is the answer's protobuf bytes: every
// byte value, NUL included, reads back and is hashed exactly; it is kept as
// a BLOB, a reload's JSON result as text.
TEST(SqliteAuditTest, AnswerBytesReadBackByteForByteAndAreHashedExactly) {
  const std::string path = FreshPath("answer_bytes.db");
  std::string bytes;
  for (int b = 0; b < 256; ++b) bytes.push_back(static_cast<char>(b));
  bytes += std::string("\0\0\xff", 3);
  AuditRecord r = Record(1);
  r.result_json = bytes;
  ASSERT_TRUE(ResultIsAnswerBytes(r));
  AuditRecord reload = Record(2);
  reload.kind = kReloadRecord;
  reload.result_json = "{\"accepted\": true}";
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->Append(r).ok());
    ASSERT_TRUE((*sink)->Append(reload).ok());
  }
  absl::StatusOr<VerifyResult> result = VerifyLog(path);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->ok) << result->problem;
  auto read = ReadRecord(path, "d-1");
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->result_json, bytes);

  // Every byte counts: one changed, or a trailing NUL dropped, is another
  // hash.
  AuditRecord changed = r;
  changed.result_json.back() = '\xfe';
  EXPECT_NE(ContentHash(changed), ContentHash(r));
  changed.result_json = bytes.substr(0, bytes.size() - 2) + std::string(1, '\xff');
  EXPECT_NE(ContentHash(changed), ContentHash(r));

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  std::vector<std::string> types;
  ASSERT_EQ(sqlite3_exec(
                db, "SELECT typeof(result) FROM decisions ORDER BY sequence",
                [](void* out, int, char** values, char**) {
                  static_cast<std::vector<std::string>*>(out)->push_back(values[0]);
                  return 0;
                },
                &types, nullptr),
            SQLITE_OK);
  EXPECT_EQ(types, (std::vector<std::string>{"blob", "text"}));
  // A byte changed in the file breaks the chain at that record.
  std::string forged = bytes;
  forged[0] = '\x01';
  sqlite3_stmt* update = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE decisions SET result = ? WHERE sequence = 1", -1,
                               &update, nullptr),
            SQLITE_OK);
  sqlite3_bind_blob64(update, 1, forged.data(), forged.size(), SQLITE_STATIC);
  EXPECT_EQ(sqlite3_step(update), SQLITE_DONE);
  sqlite3_finalize(update);
  sqlite3_close(db);
  result = VerifyLog(path);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->ok);
  EXPECT_EQ(result->first_broken, 1);
}

// The log's format is covered by each record's hash: a record cannot be
// passed off as one of an older format (hashed without its caller, read
// under looser rules) by editing the format table.
TEST(SqliteAuditTest, EditingTheFormatTableBreaksTheChain) {
  const std::string path = FreshPath("format_table.db");
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok());
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE((*sink)->Append(Record(i)).ok());
  }
  ASSERT_TRUE(VerifyLog(path)->ok);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE log_format SET format = 3", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  absl::StatusOr<VerifyResult> result = VerifyLog(path);
  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(result->ok);
  EXPECT_EQ(result->first_broken, 1);
}

TEST(SqliteAuditTest, ALogKeepsItsIdentity) {
  const std::string path = FreshPath("identity.db");
  std::string id;
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok());
    id = (*sink)->identity().log_id;
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ((*sink)->identity().chain_id, "main");
  }
  auto sink = SqliteAuditSink::Open(path, {});
  ASSERT_TRUE(sink.ok());
  EXPECT_EQ((*sink)->identity().log_id, id);
  sink->reset();
  absl::StatusOr<LogIdentity> read = ReadLogIdentity(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->log_id, id);
  const std::string other = FreshPath("identity2.db");
  auto second = SqliteAuditSink::Open(other, {});
  ASSERT_TRUE(second.ok());
  EXPECT_NE((*second)->identity().log_id, id);
}

// The source of a tiny policy `name` at `version` whose rule compares with
// `limit`, as the server hands it over: the log reads only its fields.
std::shared_ptr<const PolicySource> Version(const std::string& version, int limit,
                                            const std::string& name = "tiny") {
  auto policy = std::make_shared<PolicySource>();
  policy->name = name;
  policy->version = version;
  policy->source =
      absl::StrCat("=== ", name, ".credit\npolicy ", name, "\n  version ", version,
                   "\n  effective 2026-01-01\n\ninput a: int\noutput x: bool = a > ", limit, "\n");
  policy->sha256 = crypto::Sha256Hex(policy->source);
  policy->canonical_form = kForm;
  return policy;
}

int64_t Count(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    n = sqlite3_column_int64(s, 0);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

// The registry of record: a name and version is bound to one sha256 the
// first time its text is stored, forever, across restarts; other text for it
// is refused and never stored.
TEST(SqliteAuditTest, StoringAVersionBindsItToItsTextForever) {
  const std::string path = FreshPath("bind.db");
  const auto v1 = Version("1.0.0", 1);
  const auto v1_changed = Version("1.0.0", 2);
  const auto v2 = Version("2.0.0", 3);
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->StorePolicy(*v1).ok());
    ASSERT_TRUE((*sink)->StorePolicy(*v1).ok());  // bound already: nothing to do
    absl::Status refused = (*sink)->StorePolicy(*v1_changed);
    EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(refused.message()),
                ::testing::HasSubstr("version 1.0.0 of `tiny` is bound to sha256 " + v1->sha256));
    ASSERT_TRUE((*sink)->StorePolicy(*v2).ok());
    absl::StatusOr<std::vector<StoredPolicy>> stored = (*sink)->StoredVersions();
    ASSERT_TRUE(stored.ok());
    ASSERT_EQ(stored->size(), 2u);
    EXPECT_EQ((*stored)[0].sha256, v1->sha256);
    EXPECT_EQ((*stored)[0].source, v1->source);
    EXPECT_EQ((*stored)[0].canonical_form, kForm);
    EXPECT_EQ((*stored)[0].first_served.size(), 24u) << (*stored)[0].first_served;
  }
  // The refused text was never stored.
  EXPECT_FALSE(ReadPolicySource(path, v1_changed->sha256).ok());
  // After a restart the binding holds: the same versions, the same texts.
  auto sink = SqliteAuditSink::Open(path, {});
  ASSERT_TRUE(sink.ok()) << sink.status();
  EXPECT_EQ((*sink)->StorePolicy(*v1_changed).code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<std::vector<StoredPolicy>> again = (*sink)->StoredVersions();
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 2u);
  EXPECT_EQ((*again)[0].sha256, v1->sha256);
  EXPECT_EQ((*again)[1].version, "2.0.0");
  sink->reset();  // held while open
  absl::StatusOr<std::vector<StoredPolicy>> read = ReadStoredVersions(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].first_served, (*again)[0].first_served);
}

// A log from before the registry of record holds two texts for 1.0.0 (an
// earlier creditd stored every text it loaded, and served the second after a
// restart) and decisions made with both: 1.0.0 binds to the text of its
// earliest record. A version only a reload record shows served binds to
// that; one no record shows served stays unbound. The records verify as
// before.
TEST(SqliteAuditTest, OlderLogBindsEachVersionToTheTextOfItsEarliestRecord) {
  const std::string path = FreshPath("migrate.db");
  const auto first = Version("1.0.0", 1);
  const auto second = Version("1.0.0", 2);
  const auto reloaded = Version("2.0.0", 3);
  const auto never = Version("3.0.0", 4);
  {
    // Written by a creditd of record format 3 without bindings.
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok());
    AuditRecord refused_reload;
    refused_reload.decision_id = "r-0";
    refused_reload.time = "2026-11-01T09:00:00.000Z";
    refused_reload.kind = kReloadRecord;
    refused_reload.caller = "start";
    refused_reload.facts_json = "{}";
    refused_reload.result_json = R"({"accepted": false, "errors": 1, "policies": []})";
    ASSERT_TRUE((*sink)->Append(refused_reload).ok());
    for (auto [id, policy, time] : {std::make_tuple("d-1", second, "2026-11-02T10:00:00.000Z"),
                                    std::make_tuple("d-2", first, "2026-11-03T10:00:00.000Z")}) {
      AuditRecord r = Record(1);
      r.decision_id = id;
      r.time = time;
      r.policy_name = r.decision = "tiny";
      r.policy_sha256 = policy->sha256;
      ASSERT_TRUE((*sink)->Append(r).ok());
    }
    AuditRecord reload;
    reload.decision_id = "r-1";
    reload.time = "2026-11-04T09:00:00.000Z";
    reload.kind = kReloadRecord;
    reload.caller = "signal";
    reload.facts_json = "{}";
    reload.result_json = absl::StrCat(
        R"({"accepted": true, "errors": 0, "policies": [{"name": "tiny", "version": "2.0.0", )",
        R"("sha256": ")", reloaded->sha256, R"("}]})");
    ASSERT_TRUE((*sink)->Append(reload).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE versions", nullptr, nullptr, nullptr), SQLITE_OK);
  for (const auto& policy : {first, second, reloaded, never}) {
    sqlite3_stmt* s = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO policies VALUES (?, ?, ?, ?)", -1, &s, nullptr),
              SQLITE_OK);
    const std::string fields[] = {policy->sha256, policy->name, policy->version, policy->source};
    for (int i = 0; i < 4; ++i)
      sqlite3_bind_text(s, i + 1, fields[i].c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  // Read before any creditd opens it: as it will be once opened.
  absl::StatusOr<std::vector<StoredPolicy>> before = ReadStoredVersions(path);
  ASSERT_TRUE(before.ok()) << before.status();
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    absl::StatusOr<std::vector<StoredPolicy>> stored = (*sink)->StoredVersions();
    ASSERT_TRUE(stored.ok());
    ASSERT_EQ(stored->size(), 2u);
    EXPECT_EQ((*stored)[0].version, "1.0.0");
    EXPECT_EQ((*stored)[0].sha256, second->sha256);
    EXPECT_EQ((*stored)[0].source, second->source);
    EXPECT_EQ((*stored)[0].first_served, "2026-11-02T10:00:00.000Z");
    EXPECT_EQ((*stored)[0].canonical_form, 1);
    EXPECT_EQ((*stored)[1].version, "2.0.0");
    EXPECT_EQ((*stored)[1].sha256, reloaded->sha256);
    EXPECT_EQ((*stored)[1].first_served, "2026-11-04T09:00:00.000Z");
    ASSERT_EQ(before->size(), 2u);
    EXPECT_EQ((*before)[0].sha256, (*stored)[0].sha256);
    EXPECT_EQ((*before)[1].sha256, (*stored)[1].sha256);
    // The other text of 1.0.0 is refused from now on; 3.0.0 binds when served.
    EXPECT_EQ((*sink)->StorePolicy(*first).code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_TRUE((*sink)->StorePolicy(*never).ok());
  }
  EXPECT_EQ(Count(path, "SELECT count(*) FROM versions"), 3);
  absl::StatusOr<VerifyResult> result = VerifyLog(path);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok) << result->problem;
  EXPECT_EQ(result->records, 4);
  // Served with two texts before bindings: worth a note, not a failure.
  EXPECT_TRUE(result->registry_problems.empty());
  ASSERT_EQ(result->registry_notes.size(), 1u);
  EXPECT_THAT(result->registry_notes[0],
              ::testing::HasSubstr("tiny 1.0.0 was served with 2 texts before versions were "
                                   "bound; bound to " +
                                   second->sha256));
}

// Logs of record formats 1 and 2 hold decisions only (no kind column): the
// migration binds from them, and they keep verifying.
TEST(SqliteAuditTest, FormatTwoLogBindsFromItsDecisions) {
  const std::string path = FreshPath("migrate_format2.db");
  WriteOldLog(path, 2, 2);
  const auto tiny = Version("1.0.0", 1, "credit_application");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  // The records say credit_application 1.0.0, the sha256 of kStoredText.
  const std::string sql = absl::StrCat(
      "CREATE TABLE policies (sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT "
      "NULL, source TEXT NOT NULL); INSERT INTO policies VALUES ('",
      crypto::Sha256Hex(kStoredText), "', 'credit_application', '1.0.0', '", kStoredText, "');");
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  absl::StatusOr<std::vector<StoredPolicy>> read = ReadStoredVersions(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].sha256, crypto::Sha256Hex(kStoredText));
  EXPECT_EQ((*read)[0].first_served, "2026-11-22T10:00:00.000Z");
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    EXPECT_EQ((*sink)->StorePolicy(*tiny).code(), absl::StatusCode::kFailedPrecondition);
  }
  absl::StatusOr<VerifyResult> result = VerifyLog(path);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok) << result->problem;
}

// The stored texts and the bindings are outside the chain: verify checks
// them against it, so a text edited in place or a version rebound to another
// text does not pass as intact.
TEST(SqliteAuditTest, VerifyChecksTheStoredTextsAndBindingsAgainstTheChain) {
  const std::string path = FreshPath("registry_verify.db");
  const auto v1 = Version("1.0.0", 1);
  const auto other = Version("1.0.0", 2);
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->StorePolicy(*v1).ok());
    AuditRecord r = Record(1);
    r.policy_name = r.decision = "tiny";
    r.policy_sha256 = v1->sha256;
    ASSERT_TRUE((*sink)->Append(r).ok());
  }
  absl::StatusOr<VerifyResult> clean = VerifyLog(path);
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_TRUE(clean->ok);
  EXPECT_TRUE(clean->registry_problems.empty()) << clean->registry_problems[0];

  auto exec = [&](const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    sqlite3_close(db);
  };
  exec("UPDATE policies SET source = replace(source, 'a > 1', 'a > 9')");
  absl::StatusOr<VerifyResult> edited = VerifyLog(path);
  ASSERT_TRUE(edited.ok());
  EXPECT_TRUE(edited->ok);  // the chain itself is whole
  ASSERT_EQ(edited->registry_problems.size(), 1u);
  EXPECT_THAT(edited->registry_problems[0],
              ::testing::HasSubstr("the stored text of tiny 1.0.0 does not hash to its sha256"));
  // Nor does the log open to serve it.
  auto refused = SqliteAuditSink::Open(path, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("the stored text of version 1.0.0 of `tiny` does not hash"));

  exec(absl::StrCat("UPDATE policies SET source = replace(source, 'a > 9', 'a > 1');",
                    "INSERT INTO policies VALUES ('", other->sha256, "', 'tiny', '1.0.0', '",
                    other->source, "');", "UPDATE versions SET sha256 = '", other->sha256, "'"));
  absl::StatusOr<VerifyResult> rebound = VerifyLog(path);
  ASSERT_TRUE(rebound.ok());
  ASSERT_EQ(rebound->registry_problems.size(), 1u);
  EXPECT_THAT(rebound->registry_problems[0], ::testing::HasSubstr("(the binding was changed)"));
}

}  // namespace
}  // namespace creditd::audit
