// The filtered read of the log: time bounds, old logs, and errors that
// must not pass for fewer records.
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/sqlite_audit.h"
#include "gtest/gtest.h"

namespace creditd::audit {
namespace {

std::string FreshPath(const std::string& name) {
  const std::string path = ::testing::TempDir() + name;
  std::error_code absent;  // a file not there is what we want
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix, absent);
  return path;
}

std::vector<int64_t> Matching(const std::string& path, const RecordFilter& filter) {
  std::vector<int64_t> sequences;
  absl::Status status = ForEachMatchingRecord(path, filter, [&](const AuditRecord& r) {
    sequences.push_back(r.sequence);
    return true;
  });
  EXPECT_TRUE(status.ok()) << status;
  absl::StatusOr<int64_t> count = CountMatchingRecords(path, filter);
  EXPECT_TRUE(count.ok()) << count.status();
  if (count.ok()) {
    EXPECT_EQ(*count, static_cast<int64_t>(sequences.size()));
  }
  return sequences;
}

TEST(LogTimeBoundTest, WritesTimesAsTheLogDoes) {
  EXPECT_EQ(*LogTimeBound("2026-11-22"), "2026-11-22T00:00:00.000Z");
  EXPECT_EQ(*LogTimeBound("2026-11-22T10:00:00Z"), "2026-11-22T10:00:00.000Z");
  EXPECT_EQ(*LogTimeBound("2026-11-22T10:00:00.5+02:00"), "2026-11-22T08:00:00.500Z");
  EXPECT_EQ(*LogTimeBound("2026-01-01T00:30:00+01:00"), "2025-12-31T23:30:00.000Z");
  EXPECT_EQ(*LogTimeBound("2028-02-29T23:59:59.999-00:30"), "2028-03-01T00:29:59.999Z");
  // Between two milliseconds: the later one.
  EXPECT_EQ(*LogTimeBound("2026-11-22T10:00:00.0001Z"), "2026-11-22T10:00:00.001Z");
  EXPECT_EQ(*LogTimeBound("2026-11-22T23:59:59.9999Z"), "2026-11-23T00:00:00.000Z");
  EXPECT_EQ(*LogTimeBound("0000-01-01"), "0000-01-01T00:00:00.000Z");
}

TEST(LogTimeBoundTest, RefusesWhatIsNotAnRfc3339TimeOrADate) {
  for (const char* text : {"", "yesterday", "2026-11-22T10:00:00", "2026-02-30",
                           "2026-11-22 10:00:00Z", "22/11/2026", "12026-11-22", "+2026-11-22",
                           "2026-11-22 ", "2026-11-22T25:00:00Z", "0000-01-01T00:30:00+01:00"}) {
    absl::StatusOr<std::string> bound = LogTimeBound(text);
    EXPECT_EQ(bound.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
  EXPECT_EQ(LogTimeBound("soon").status().message(),
            "`soon` is not a time: write RFC 3339 with an offset (2026-11-22T10:00:00Z, "
            "2026-11-22T11:00:00+01:00) or a date (2026-11-22)");
}

TEST(RecordFilterTest, MatchesEveryFieldSetAndBindsItsValues) {
  const std::string path = FreshPath("filter.db");
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    for (int i = 1; i <= 4; ++i) {
      AuditRecord r;
      r.decision_id = absl::StrCat("d", i);
      r.time = absl::StrCat("2026-11-0", i, "T00:00:00.000Z");
      r.customer_id = i % 2 == 0 ? "even" : "odd";
      r.decision = "credit_application";
      // Format 4: the outcome is read from the result's JSON.
      r.format = kHashedFormatFormat;
      r.result_json = i == 4 ? "{\"outcome\": {\"nested\": 1}}" : "{\"outcome\": \"approve\"}";
      ASSERT_TRUE((*sink)->Append(r).ok());
    }
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE log_format SET format = 4", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  {
    // Format 5: the record's outcome field; its result is bytes.
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    AuditRecord r;
    r.decision_id = "d5";
    r.time = "2026-11-05T00:00:00.000Z";
    r.customer_id = "odd";
    r.decision = "credit_application";
    r.result_json = std::string("\x12\x07approve\0", 10);
    r.outcome = "approve";
    ASSERT_TRUE((*sink)->Append(r).ok());
  }
  EXPECT_EQ(Matching(path, {}), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  RecordFilter even;
  even.customer_id = "even";
  EXPECT_EQ(Matching(path, even), (std::vector<int64_t>{2, 4}));
  even.since = "2026-11-03";
  EXPECT_EQ(Matching(path, even), (std::vector<int64_t>{4}));
  // Values are bound, never part of the SQL.
  RecordFilter injected;
  injected.customer_id = "x' OR '1'='1";
  EXPECT_TRUE(Matching(path, injected).empty());
  // Only an outcome that is a string matches, in either format.
  RecordFilter outcome;
  outcome.outcome = "approve";
  EXPECT_EQ(Matching(path, outcome), (std::vector<int64_t>{1, 2, 3, 5}));
  outcome.outcome = "{\"nested\":1}";
  EXPECT_TRUE(Matching(path, outcome).empty());
  RecordFilter bad;
  bad.until = "tomorrow";
  absl::Status status = ForEachMatchingRecord(path, bad, [](const AuditRecord&) { return true; });
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message().substr(0, 7), "until: ");
  EXPECT_EQ(CountMatchingRecords(path, bad).status().code(), absl::StatusCode::kInvalidArgument);
}

// A log from before records had a kind and a caller, read without being
// migrated: every record is a decision.
TEST(RecordFilterTest, ALogWithoutKindsHoldsDecisionsAlone) {
  const std::string path = FreshPath("filter_format1.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE decisions (sequence INTEGER PRIMARY KEY, decision_id TEXT, "
                         "time TEXT, customer_id TEXT, request_id TEXT, decision TEXT, "
                         "policy_name TEXT, policy_version TEXT, policy_sha256 TEXT, facts TEXT, "
                         "result TEXT, previous_hash TEXT, hash TEXT);"
                         "INSERT INTO decisions VALUES (1, 'a', '2020-01-01T00:00:00.000Z', 'c', "
                         "'r', 'd', 'p', '1', 's', '{}', '{}', '', 'h1');"
                         "INSERT INTO decisions VALUES (2, 'b', '2020-01-02T00:00:00.000Z', 'c', "
                         "'r', 'd', 'p', '1', 's', '{}', '{}', 'h1', 'h2');",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  RecordFilter decisions;
  decisions.kind = kDecisionRecord;
  EXPECT_EQ(Matching(path, decisions), (std::vector<int64_t>{1, 2}));
  RecordFilter reloads;
  reloads.kind = kReloadRecord;
  EXPECT_TRUE(Matching(path, reloads).empty());
}

TEST(RecordFilterTest, ALogThatCannotBeReadToItsEndIsDataLoss) {
  const std::string path = FreshPath("filter_corrupt.db");
  constexpr int kRecords = 400;
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    for (int i = 1; i <= kRecords; ++i) {
      AuditRecord r;
      r.decision_id = absl::StrCat("d", i);
      r.time = "2026-11-01T00:00:00.000Z";
      r.facts_json = absl::StrCat("{\"pad\": \"", std::string(1000, 'x'), "\"}");
      ASSERT_TRUE((*sink)->Append(r).ok());
    }
  }
  std::error_code error;
  ASSERT_FALSE(std::filesystem::exists(path + "-wal", error) &&
               std::filesystem::file_size(path + "-wal", error) > 0);
  // A page in the middle of the records, overwritten.
  const uintmax_t size = std::filesystem::file_size(path, error);
  ASSERT_FALSE(error) << error.message();
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(size / 2 / 4096 * 4096));
    file << std::string(4096, '\xa5');
  }
  int64_t visited = 0;
  absl::Status status = ForEachMatchingRecord(path, {}, [&](const AuditRecord&) {
    ++visited;
    return true;
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_LT(visited, kRecords);
  EXPECT_NE(status.message().find("cannot be read past record"), absl::string_view::npos) << status;
  // A count that reads the records fails too. (count(*) alone may count the
  // decision ids' index, which is intact.)
  RecordFilter decisions;
  decisions.kind = kDecisionRecord;
  EXPECT_EQ(CountMatchingRecords(path, decisions).status().code(), absl::StatusCode::kDataLoss);
}

// Reading a log in ranges, as readers that split it between threads do:
// the same records as one read, only the fields asked for.
TEST(RecordRangesTest, RangesReadWhatOneReadDoes) {
  const std::string path = FreshPath("ranges.db");
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    for (int i = 1; i <= 50; ++i) {
      AuditRecord r;
      r.decision_id = absl::StrCat("d", i);
      r.time = "2026-11-01T00:00:00.000Z";
      r.decision = i % 3 == 0 ? "b" : "a";
      r.facts_json = absl::StrCat("{\"i\": ", i, "}");
      ASSERT_TRUE((*sink)->Append(r).ok());
    }
  }
  RecordFilter filter;
  filter.decision = "a";
  std::vector<std::string> whole;
  ASSERT_TRUE(ForEachMatchingRecord(path, filter, [&](const AuditRecord& r) {
                whole.push_back(absl::StrCat(r.sequence, " ", r.decision_id, " ", r.format));
                return true;
              }).ok());
  ASSERT_EQ(whole.size(), 34u);
  absl::StatusOr<std::unique_ptr<RecordRanges>> ranges =
      RecordRanges::Open(path, filter, {&AuditRecord::decision_id});
  ASSERT_TRUE(ranges.ok()) << ranges.status();
  EXPECT_EQ((*ranges)->first_sequence(), 1);
  EXPECT_EQ((*ranges)->last_sequence(), 50);
  std::vector<std::string> parts;
  for (int64_t first = 1; first <= 50; first += 7) {
    ASSERT_TRUE((*ranges)
                    ->ForEach(first, first + 6,
                              [&](AuditRecord& r) {
                                EXPECT_TRUE(r.facts_json.empty());
                                EXPECT_TRUE(r.decision.empty());
                                parts.push_back(
                                    absl::StrCat(r.sequence, " ", r.decision_id, " ", r.format));
                                return true;
                              })
                    .ok());
  }
  EXPECT_EQ(parts, whole);
  // Every field when none is named; a visitor that stops, stops.
  absl::StatusOr<std::unique_ptr<RecordRanges>> all = RecordRanges::Open(path, {});
  ASSERT_TRUE(all.ok()) << all.status();
  int visited = 0;
  ASSERT_TRUE((*all)
                  ->ForEach(3, 50,
                            [&](AuditRecord& r) {
                              EXPECT_EQ(r.facts_json, "{\"i\": 3}");
                              EXPECT_EQ(r.decision, "b");
                              EXPECT_EQ(r.hash.size(), 64u);
                              ++visited;
                              return false;
                            })
                  .ok());
  EXPECT_EQ(visited, 1);
  // A log without records: an empty span.
  const std::string empty = FreshPath("ranges_empty.db");
  ASSERT_TRUE(SqliteAuditSink::Open(empty, {}).ok());
  absl::StatusOr<std::unique_ptr<RecordRanges>> none = RecordRanges::Open(empty, {});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_GT((*none)->first_sequence(), (*none)->last_sequence());
  // The filter's errors, as ForEachMatchingRecord's.
  RecordFilter bad;
  bad.since = "soon";
  EXPECT_EQ(RecordRanges::Open(path, bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RecordRanges::Open(FreshPath("ranges_absent.db"), {}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(RecordRangesTest, ARangeThatCannotBeReadIsDataLoss) {
  const std::string path = FreshPath("ranges_corrupt.db");
  constexpr int kRecords = 400;
  {
    auto sink = SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    for (int i = 1; i <= kRecords; ++i) {
      AuditRecord r;
      r.decision_id = absl::StrCat("d", i);
      r.time = "2026-11-01T00:00:00.000Z";
      r.facts_json = absl::StrCat("{\"pad\": \"", std::string(1000, 'x'), "\"}");
      ASSERT_TRUE((*sink)->Append(r).ok());
    }
  }
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(path, error);
  ASSERT_FALSE(error) << error.message();
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(size / 2 / 4096 * 4096));
    file << std::string(4096, '\xa5');
  }
  absl::StatusOr<std::unique_ptr<RecordRanges>> ranges = RecordRanges::Open(path, {});
  ASSERT_TRUE(ranges.ok()) << ranges.status();
  int64_t visited = 0;
  std::vector<absl::Status> failed;
  for (int64_t first = 1; first <= kRecords; first += 50) {
    absl::Status status = (*ranges)->ForEach(first, first + 49, [&](AuditRecord&) {
      ++visited;
      return true;
    });
    if (!status.ok()) failed.push_back(status);
  }
  ASSERT_FALSE(failed.empty());
  EXPECT_LT(visited, kRecords);
  for (const absl::Status& status : failed) {
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
    EXPECT_NE(status.message().find("cannot be read past record"), absl::string_view::npos)
        << status;
  }
}

}  // namespace
}  // namespace creditd::audit
