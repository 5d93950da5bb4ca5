// creditctl audit list and export: filters, escaping, the JSONL and CSV
// formats, the formula guard, writing through a temporary file, and the
// progress bar (on a terminal only).
#include "cli/audit_review.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/decision.h"
#include "audit/sqlite_audit.h"
#include "cli/audit_render.h"
#include "cli/creditctl.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/cli/cli_run.h"

namespace creditd::cli {
namespace {

// Whether `path` exists, without throwing: an error reads as "not there".
bool Exists(const std::string& path) {
  std::error_code error;
  return std::filesystem::exists(path, error);
}

using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string FreshPath(const std::string& name) {
  // Per process: test binaries of other checkouts may run at the same time.
  const std::string path = ::testing::TempDir() + std::to_string(getpid()) + "-" + name;
  std::error_code absent;  // a file not there is what we want
  for (const char* suffix : {"", "-wal", "-shm", ".tmp"}) {
    std::filesystem::remove(path + suffix, absent);
  }
  return path;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

audit::AuditRecord Decision(const std::string& id, const std::string& time,
                            const std::string& customer, const std::string& request,
                            const std::string& decision, const std::string& version,
                            const std::string& facts, const std::string& outcome,
                            const std::string& caller) {
  audit::AuditRecord r;
  r.decision_id = id;
  r.time = time;
  r.customer_id = customer;
  r.request_id = request;
  r.decision = r.policy_name = decision;
  r.policy_version = version;
  r.policy_sha256 = "sha-" + version;
  r.facts_json = facts;
  // The answer as the server logs it (format 5): its deterministic bytes.
  credit::v1::Decision answer;
  answer.set_decision(decision);
  answer.set_outcome(outcome);
  r.result_json = api::DeterministicBytes(answer);
  r.outcome = outcome;
  r.caller = caller;
  return r;
}

// Six records: decisions of two names, three versions and three outcomes
// over two months, a reload, and two records of hostile text (separators,
// quotes, line breaks, NUL bytes, terminal escapes, formulas, bytes that
// are not UTF-8, facts that are not JSON, a result that is not a decision).
std::vector<audit::AuditRecord> ReviewRecords() {
  std::vector<audit::AuditRecord> records;
  records.push_back(Decision("d1", "2026-11-01T09:00:00.000Z", "C-1", "q1", "credit_application",
                             "1.0.0", R"({"income": "5000.00", "years": 6})", "approve", "alice"));
  records.push_back(Decision("d2", "2026-11-15T12:30:00.000Z", "C-2", "\rq2", "order_release",
                             "2.0.0", R"({"amount": "12.50"})", "hold", "bob"));
  audit::AuditRecord reload;
  reload.kind = audit::kReloadRecord;
  reload.decision_id = "d3";
  reload.time = "2026-11-20T00:00:00.000Z";
  reload.facts_json = "{}";
  reload.result_json = R"({"accepted": true, "errors": 0, "policies": []})";
  reload.caller = "signal";
  records.push_back(reload);
  records.push_back(Decision("d4", "2026-11-30T23:59:59.999Z", "C-1", "\tq4", "credit_application",
                             "1.1.0", R"({"income": "10.00"})", "decline", "alice"));
  records.push_back(Decision("d5", "2026-12-01T00:00:00.000Z", "=cmd|' /C calc'!A0", "a,b\"c\r\nd",
                             "credit_application", "1.0.0",
                             "{\"name\": \"x\\u0000y\", \"raw\": \"\xff\"}", "approve",
                             "eve\n6  forged\x1b[2J\xc2\x9b\x33\x31m"));
  records.push_back(Decision("d6", "2026-12-02T08:00:00.000Z", std::string("C\0-6", 4), "-2+3",
                             "credit_application", "1.0.0", "not json, \"quoted\"\n", "",
                             "@SUM(A1)\xc3("));
  // Damaged: a result that is not a decision.
  records.back().result_json = "{\"outcome\": \"approve\"";
  return records;
}

// Writes `records` to a fresh log and closes it (the log is held while
// open); returns them as the log read them back, sequence and hashes set.
std::vector<audit::AuditRecord> WriteLog(const std::string& path,
                                         const std::vector<audit::AuditRecord>& records) {
  {
    auto sink = audit::SqliteAuditSink::Open(path, {});
    EXPECT_TRUE(sink.ok()) << sink.status();
    if (!sink.ok()) return {};
    for (const audit::AuditRecord& r : records) EXPECT_TRUE((*sink)->Append(r).ok());
  }
  std::vector<audit::AuditRecord> read;
  EXPECT_TRUE(audit::ForEachRecord(path, [&](const audit::AuditRecord& r) {
                read.push_back(r);
                return true;
              }).ok());
  EXPECT_EQ(read.size(), records.size());
  return read;
}

std::string ReviewLog(const std::string& name, std::vector<audit::AuditRecord>* read = nullptr) {
  const std::string path = FreshPath(name);
  std::vector<audit::AuditRecord> records = WriteLog(path, ReviewRecords());
  if (read != nullptr) *read = std::move(records);
  return path;
}

// ---------------------------------------------------------------------------
// list

constexpr char kListHeader[] =
    "SEQ  TIME                      ID  DECISION            VERSION  OUTCOME  CUSTOMER            "
    "CALLER\n";

TEST(AuditListTest, OneAlignedLinePerRecordWithLogTextEscaped) {
  const std::string log = ReviewLog("list_all.db");
  CliRun run = Creditctl({"audit", "list", log});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  EXPECT_THAT(run.err, IsEmpty());
  EXPECT_EQ(run.out,
            std::string(kListHeader) +
                "  1  2026-11-01T09:00:00.000Z  d1  credit_application  1.0.0    approve  C-1   "
                "              alice\n"
                "  2  2026-11-15T12:30:00.000Z  d2  order_release       2.0.0    hold     C-2   "
                "              bob\n"
                "  3  2026-11-20T00:00:00.000Z  d3  -                   -        -        -     "
                "              signal\n"
                "  4  2026-11-30T23:59:59.999Z  d4  credit_application  1.1.0    decline  C-1   "
                "              alice\n"
                "  5  2026-12-01T00:00:00.000Z  d5  credit_application  1.0.0    approve  =cmd|"
                "' /C calc'!A0  eve\\x0a6  forged\\x1b[2J\\u{009b}31m\n"
                "  6  2026-12-02T08:00:00.000Z  d6  credit_application  1.0.0    -        C\\x00-"
                "6             @SUM(A1)\\xc3(\n");
}

// The sequences `list` prints with `filters`, one per line (the first
// column, after the header).
std::string ListedSequences(const std::string& log, std::vector<std::string> filters) {
  std::vector<std::string> args = {"audit", "list", log};
  args.insert(args.end(), filters.begin(), filters.end());
  CliRun run = Creditctl(args);
  EXPECT_EQ(run.code, kExitOk) << run.err;
  std::string sequences;
  for (absl::string_view line : absl::StrSplit(run.out, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "SEQ")) continue;
    std::vector<absl::string_view> columns = absl::StrSplit(line, ' ', absl::SkipEmpty());
    absl::StrAppend(&sequences, sequences.empty() ? "" : " ", columns[0]);
  }
  return sequences;
}

TEST(AuditListTest, EachFilterAlone) {
  const std::string log = ReviewLog("list_filters.db");
  EXPECT_EQ(ListedSequences(log, {}), "1 2 3 4 5 6");
  // --since inclusive, --until exclusive, a date is midnight UTC.
  EXPECT_EQ(ListedSequences(log, {"--since", "2026-11-15", "--until", "2026-12-01"}), "2 3 4");
  EXPECT_EQ(ListedSequences(log, {"--since", "2026-12-01T00:00:00Z"}), "5 6");
  EXPECT_EQ(ListedSequences(log, {"--since", "2026-12-01T01:00:00+01:00"}), "5 6");
  EXPECT_EQ(ListedSequences(log, {"--since", "2026-12-01T00:00:00.001Z"}), "6");
  EXPECT_EQ(ListedSequences(log, {"--until", "2026-11-30T23:59:59.999Z"}), "1 2 3");
  // Between two milliseconds: the record at .999 is before the bound.
  EXPECT_EQ(ListedSequences(log, {"--until", "2026-11-30T23:59:59.9985Z"}), "1 2 3");
  EXPECT_EQ(ListedSequences(log, {"--until", "2026-11-30T23:59:59.9995Z"}), "1 2 3 4");
  EXPECT_EQ(ListedSequences(log, {"--decision", "order_release"}), "2");
  EXPECT_EQ(ListedSequences(log, {"--customer", "C-1"}), "1 4");
  EXPECT_EQ(ListedSequences(log, {"--customer", "=cmd|' /C calc'!A0"}), "5");
  EXPECT_EQ(ListedSequences(log, {"--customer", std::string("C\0-6", 4)}), "6");
  EXPECT_EQ(ListedSequences(log, {"--customer", "C"}), "");
  // The record's outcome: a reload and the damaged record have none.
  EXPECT_EQ(ListedSequences(log, {"--outcome", "approve"}), "1 5");
  EXPECT_EQ(ListedSequences(log, {"--outcome", "decline"}), "4");
  EXPECT_EQ(ListedSequences(log, {"--version", "1.0.0"}), "1 5 6");
  EXPECT_EQ(ListedSequences(log, {"--kind", "reload"}), "3");
  EXPECT_EQ(ListedSequences(log, {"--kind", "decision"}), "1 2 4 5 6");
  EXPECT_EQ(ListedSequences(log, {"--limit", "2"}), "1 2");
  EXPECT_EQ(ListedSequences(log, {"--customer", "C-1", "--outcome", "approve"}), "1");
  EXPECT_EQ(ListedSequences(log, {"--version", "1.0.0", "--limit", "2"}), "1 5");
}

TEST(AuditListTest, ColumnsFitTheMatchingRecords) {
  const std::string log = ReviewLog("list_widths.db");
  CliRun run = Creditctl({"audit", "list", log, "--decision", "order_release"});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  EXPECT_EQ(run.out,
            "SEQ  TIME                      ID  DECISION       VERSION  OUTCOME  CUSTOMER  CALLER\n"
            "  2  2026-11-15T12:30:00.000Z  d2  order_release  2.0.0    hold     C-2       bob\n");
  CliRun reloads = Creditctl({"audit", "list", log, "--kind", "reload"});
  ASSERT_EQ(reloads.code, kExitOk) << reloads.err;
  EXPECT_EQ(reloads.out,
            "SEQ  TIME                      ID  DECISION  VERSION  OUTCOME  CUSTOMER  CALLER\n"
            "  3  2026-11-20T00:00:00.000Z  d3  -         -        -        -         signal\n");
}

TEST(AuditListTest, NoMatchingRecordIsSaidOnStderr) {
  const std::string log = ReviewLog("list_none.db");
  CliRun run = Creditctl({"audit", "list", log, "--customer", "nobody"});
  EXPECT_EQ(run.code, kExitOk);
  EXPECT_THAT(run.out, IsEmpty());
  EXPECT_THAT(run.err, HasSubstr("no matching records"));
}

TEST(AuditListTest, BadFilterValuesAreUsageErrorsNamingTheFlag) {
  const std::string log = ReviewLog("list_bad.db");
  struct Case {
    std::vector<std::string> flags;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{"--since", "yesterday"}, "--since: `yesterday` is not a time"},
           {{"--since", "2026-11-31"}, "--since: `2026-11-31` is not a time"},
           {{"--since", "2026-11-01T10:00:00"}, "--since: `2026-11-01T10:00:00` is not a time"},
           {{"--since", " 2026-11-01"}, "--since: ` 2026-11-01` is not a time"},
           {{"--until", "2026-13-01"}, "--until: `2026-13-01` is not a time"},
           {{"--until", "+2026-11-01"}, "--until: `+2026-11-01` is not a time"},
           {{"--kind", "audit"}, "--kind"},
           {{"--limit", "0"}, "--limit"},
       }) {
    std::vector<std::string> args = {"audit", "list", log};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    CliRun run = Creditctl(args);
    EXPECT_EQ(run.code, kExitUsage) << c.says;
    EXPECT_THAT(run.err, HasSubstr(c.says));
    EXPECT_THAT(run.out, IsEmpty());
  }
}

TEST(AuditListTest, AMissingLogIsAUsageError) {
  CliRun run = Creditctl({"audit", "list", ::testing::TempDir() + "no_such_log.db"});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("cannot open the audit log"));
}

TEST(ShownTextTest, EscapesWhatATerminalWouldActOn) {
  EXPECT_EQ(ShownText("plain text, caf\xc3\xa9"), "plain text, caf\xc3\xa9");
  EXPECT_EQ(ShownText(std::string("a\0b\r\n\x1b[1m\x7f", 10)), "a\\x00b\\x0d\\x0a\\x1b[1m\\x7f");
  EXPECT_EQ(ShownText("\xc2\x9b"
                      "2J"),
            "\\u{009b}2J");  // CSI as one UTF-8 character
  EXPECT_EQ(ShownText("\xe2\x80\xae"
                      "txt.exe"),
            "\\u{202e}txt.exe");  // right-to-left override
  EXPECT_EQ(ShownText("\xe2\x80\xa8"), "\\u{2028}");
  EXPECT_EQ(ShownText("\\x0a"), "\\\\x0a");  // cannot pass for an escape
  EXPECT_EQ(ShownText("\xff\xc0\xaf\xed\xa0\x80"),
            "\\xff\\xc0\\xaf\\xed\\xa0\\x80");  // not UTF-8, overlong, surrogate
}

// ---------------------------------------------------------------------------
// export --format jsonl

// What the export writes for each record, exactly; sequence and hashes from
// the log.
std::vector<std::string> ExpectedJsonl(const std::vector<audit::AuditRecord>& r) {
  auto tail = [](const audit::AuditRecord& record) {
    return absl::StrCat(",\"challenger\":\"\",\"via\":\"\",\"previous_hash\":\"",
                        record.previous_hash, "\",\"hash\":\"", record.hash,
                        "\",\"chain\":\"\",\"format\":", audit::kLogFormat, "}");
  };
  return {
      absl::StrCat(
          R"({"sequence":1,"decision_id":"d1","time":"2026-11-01T09:00:00.000Z","customer_id":"C-1",)",
          R"("request_id":"q1","decision":"credit_application","policy_name":"credit_application",)",
          R"("policy_version":"1.0.0","policy_sha256":"sha-1.0.0",)",
          R"("facts":{"income":"5000.00","years":6},)",
          R"("result":{"decision":"credit_application","outcome":"approve"},)",
          R"("kind":"decision","caller":"alice","outcome":"approve")", tail(r[0])),
      absl::StrCat(
          R"({"sequence":2,"decision_id":"d2","time":"2026-11-15T12:30:00.000Z","customer_id":"C-2",)",
          R"("request_id":"\rq2","decision":"order_release","policy_name":"order_release",)",
          R"("policy_version":"2.0.0","policy_sha256":"sha-2.0.0","facts":{"amount":"12.50"},)",
          R"("result":{"decision":"order_release","outcome":"hold"},"kind":"decision",)",
          R"("caller":"bob","outcome":"hold")", tail(r[1])),
      absl::StrCat(
          R"({"sequence":3,"decision_id":"d3","time":"2026-11-20T00:00:00.000Z","customer_id":"",)",
          R"("request_id":"","decision":"","policy_name":"","policy_version":"",)",
          R"("policy_sha256":"","facts":{},"result":{"accepted":true,"errors":0,"policies":[]},)",
          R"("kind":"reload","caller":"signal","outcome":"")", tail(r[2])),
      absl::StrCat(
          R"({"sequence":4,"decision_id":"d4","time":"2026-11-30T23:59:59.999Z","customer_id":"C-1",)",
          R"("request_id":"\tq4","decision":"credit_application","policy_name":"credit_application",)",
          R"("policy_version":"1.1.0","policy_sha256":"sha-1.1.0","facts":{"income":"10.00"},)",
          R"("result":{"decision":"credit_application","outcome":"decline"},"kind":"decision",)",
          R"("caller":"alice","outcome":"decline")", tail(r[3])),
      absl::StrCat(R"({"sequence":5,"decision_id":"d5","time":"2026-12-01T00:00:00.000Z",)",
                   R"("customer_id":"=cmd|' /C calc'!A0","request_id":"a,b\"c\r\nd",)",
                   R"("decision":"credit_application","policy_name":"credit_application",)",
                   R"("policy_version":"1.0.0","policy_sha256":"sha-1.0.0",)",
                   R"("facts":{"name":"x\u0000y","raw":"\ufffd"},)",
                   R"("result":{"decision":"credit_application","outcome":"approve"},)",
                   R"("kind":"decision","caller":"eve\n6  forged\u001b[2J\u009b31m",)",
                   R"("outcome":"approve")", tail(r[4])),
      absl::StrCat(
          R"({"sequence":6,"decision_id":"d6","time":"2026-12-02T08:00:00.000Z",)",
          R"("customer_id":"C\u0000-6","request_id":"-2+3","decision":"credit_application",)",
          R"("policy_name":"credit_application","policy_version":"1.0.0",)",
          R"("policy_sha256":"sha-1.0.0","facts":"not json, \"quoted\"\n",)",
          R"("result":"{\"outcome\": \"approve\"","kind":"decision","caller":"@SUM(A1)\ufffd(",)",
          R"("outcome":"")", tail(r[5])),
  };
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  EXPECT_EQ(lines.back(), "") << "the text does not end with a line break";
  lines.pop_back();
  return lines;
}

TEST(AuditExportTest, JsonlIsOneExactObjectPerRecord) {
  std::vector<audit::AuditRecord> records;
  const std::string log = ReviewLog("export_jsonl.db", &records);
  CliRun run = Creditctl({"audit", "export", log, "--format", "jsonl"});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  EXPECT_THAT(run.err, IsEmpty());
  EXPECT_THAT(Lines(run.out), ::testing::ElementsAreArray(ExpectedJsonl(records)));
}

std::string Str(const rapidjson::Value& v) {
  return std::string(v.GetString(), v.GetStringLength());
}

// Each line parsed back, as strict JSON (UTF-8 validated), holds the
// record: every text field (those that are UTF-8; the others are checked
// exactly above), and facts and result equal to the record's as JSON.
TEST(AuditExportTest, JsonlParsesBackToTheRecords) {
  std::vector<audit::AuditRecord> records;
  const std::string log = ReviewLog("export_jsonl_parse.db", &records);
  CliRun run = Creditctl({"audit", "export", log, "--format", "jsonl"});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  const std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), records.size());
  constexpr unsigned kStrict =
      rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag;
  for (size_t i = 0; i < lines.size(); ++i) {
    const audit::AuditRecord& r = records[i];
    SCOPED_TRACE(r.decision_id);
    rapidjson::Document line;
    line.Parse<kStrict>(lines[i].data(), lines[i].size());
    ASSERT_FALSE(line.HasParseError()) << lines[i];
    ASSERT_TRUE(line.IsObject());
    EXPECT_EQ(line.MemberCount(), std::size(audit::kRecordFields) + 5);
    EXPECT_EQ(Str(line["sequence"]), absl::StrCat(r.sequence));
    EXPECT_EQ(Str(line["format"]), absl::StrCat(r.format));
    for (const audit::RecordField& field : audit::kRecordFields) {
      // A decision's answer is exported as JSON (RenderResult).
      absl::StatusOr<std::string> rendered = RenderResult(r);
      const std::string& value =
          audit::IsBinaryField(field, r) && rendered.ok() ? *rendered : r.*field.member;
      if (value.find_first_of("\xff\xc3") != std::string::npos) continue;  // checked exactly
      const rapidjson::Value& got = line[field.column];
      if (field.member == &audit::AuditRecord::facts_json ||
          field.member == &audit::AuditRecord::result_json) {
        rapidjson::Document original;
        original.Parse<kStrict>(value.data(), value.size());
        if (original.HasParseError()) {
          ASSERT_TRUE(got.IsString()) << field.column;
          EXPECT_EQ(Str(got), value) << field.column;
        } else {
          EXPECT_TRUE(got == original) << field.column;
        }
        continue;
      }
      ASSERT_TRUE(got.IsString()) << field.column;
      EXPECT_EQ(Str(got), value) << field.column;
    }
    EXPECT_EQ(Str(line["previous_hash"]), r.previous_hash);
    EXPECT_EQ(Str(line["hash"]), r.hash);
  }
}

TEST(AuditExportTest, JsonValuesAreCompactedOrKeptAsStrings) {
  auto value = [](absl::string_view json) {
    std::string out;
    AppendJsonValue(json, &out);
    return out;
  };
  EXPECT_EQ(value(" {\n  \"a\" : [1, 2.50, -3e2, true, null],\n  \"b\": {}\n}\n "),
            R"({"a":[1,2.50,-3e2,true,null],"b":{}})");
  EXPECT_EQ(value(R"("caf\u00e9 \ud83d\ude00")"), "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
  EXPECT_EQ(value("{\"a\": \"\xe2\x80\xa8\"}"), R"({"a":"\u2028"})");
  EXPECT_EQ(value(""), R"("")");
  EXPECT_EQ(value("{} {}"), R"("{} {}")");
  EXPECT_EQ(value(absl::StrCat("{}", std::string(1, '\0'), "{\"more\": 1}")),
            R"("{}\u0000{\"more\": 1}")");
  EXPECT_EQ(value("{\"a\": \"\x01\"}"), R"("{\"a\": \"\u0001\"}")");
  // Deep nesting is read without recursion.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(value(deep), deep);
}

// ---------------------------------------------------------------------------
// export --format csv

std::string ExpectedCsv(const std::vector<audit::AuditRecord>& r) {
  auto chain = [](const audit::AuditRecord& record) {
    return absl::StrCat(",,,", record.previous_hash, ",", record.hash, ",,", audit::kLogFormat,
                        "\r\n");
  };
  return absl::StrCat(
      "sequence,decision_id,time,customer_id,request_id,decision,policy_name,policy_version,"
      "policy_sha256,facts,result,kind,caller,outcome,challenger,via,previous_hash,hash,chain,"
      "format\r\n",
      "1,d1,2026-11-01T09:00:00.000Z,C-1,q1,credit_application,credit_application,1.0.0,"
      "sha-1.0.0,\"{\"\"income\"\": \"\"5000.00\"\", \"\"years\"\": 6}\",\"{\"\"decision\"\":"
      "\"\"credit_application\"\",\"\"outcome\"\":\"\"approve\"\"}\",decision,alice,approve",
      chain(r[0]),
      "2,d2,2026-11-15T12:30:00.000Z,C-2,\"'\rq2\",order_release,order_release,2.0.0,"
      "sha-2.0.0,\"{\"\"amount\"\": \"\"12.50\"\"}\",\"{\"\"decision\"\":\"\"order_release\"\","
      "\"\"outcome\"\":\"\"hold\"\"}\",decision,bob,hold",
      chain(r[1]),
      "3,d3,2026-11-20T00:00:00.000Z,,,,,,,{},\"{\"\"accepted\"\": true, \"\"errors\"\": 0, "
      "\"\"policies\"\": []}\",reload,signal,",
      chain(r[2]),
      "4,d4,2026-11-30T23:59:59.999Z,C-1,'\tq4,credit_application,credit_application,1.1.0,"
      "sha-1.1.0,\"{\"\"income\"\": \"\"10.00\"\"}\",\"{\"\"decision\"\":"
      "\"\"credit_application\"\",\"\"outcome\"\":\"\"decline\"\"}\",decision,alice,decline",
      chain(r[3]),
      "5,d5,2026-12-01T00:00:00.000Z,'=cmd|' /C calc'!A0,\"a,b\"\"c\r\nd\",credit_application,"
      "credit_application,1.0.0,sha-1.0.0,\"{\"\"name\"\": \"\"x\\u0000y\"\", \"\"raw\"\": "
      "\"\"\xef\xbf\xbd\"\"}\",\"{\"\"decision\"\":\"\"credit_application\"\","
      "\"\"outcome\"\":\"\"approve\"\"}\",decision,"
      "\"eve\n6  forged\x1b[2J\xc2\x9b"
      "31m\",approve",
      chain(r[4]), "6,d6,2026-12-02T08:00:00.000Z,C", std::string(1, '\0'),
      "-6,'-2+3,credit_application,",
      "credit_application,1.0.0,sha-1.0.0,\"not json, \"\"quoted\"\"\n\",\"{\"\"outcome\"\": "
      "\"\"approve\"\"\",decision,'@SUM(A1)\xef\xbf\xbd(,",
      chain(r[5]));
}

TEST(AuditExportTest, CsvIsRfc4180WithAHeaderAndTheFormulaGuard) {
  std::vector<audit::AuditRecord> records;
  const std::string log = ReviewLog("export_csv.db", &records);
  CliRun run = Creditctl({"audit", "export", log, "--format", "csv"});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  EXPECT_THAT(run.err, IsEmpty());
  EXPECT_EQ(run.out, ExpectedCsv(records));
}

// A reader of RFC 4180, as a spreadsheet's import is: records of fields,
// quoted fields may hold anything, "" is a quote.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1, std::vector<std::string>(1));
  size_t i = 0;
  while (i < text.size()) {
    std::string& field = rows.back().back();
    if (text[i] == '"' && field.empty()) {
      for (++i; i < text.size(); ++i) {
        if (text[i] != '"') {
          field += text[i];
        } else if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          ++i;
          break;
        }
      }
    } else if (text[i] == ',') {
      rows.back().emplace_back();
      ++i;
    } else if (text.compare(i, 2, "\r\n") == 0) {
      rows.emplace_back(1);
      i += 2;
    } else {
      field += text[i++];
    }
  }
  EXPECT_EQ(rows.back(), std::vector<std::string>(1)) << "no line break after the last record";
  rows.pop_back();
  return rows;
}

TEST(AuditExportTest, CsvReadsBackToTheRecordsWithFormulasDefused) {
  std::vector<audit::AuditRecord> records;
  const std::string log = ReviewLog("export_csv_parse.db", &records);
  CliRun run = Creditctl({"audit", "export", log, "--format", "csv"});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  const std::vector<std::vector<std::string>> rows = ParseCsv(run.out);
  ASSERT_EQ(rows.size(), records.size() + 1);
  EXPECT_EQ(rows[0][0], "sequence");
  for (size_t i = 0; i < records.size(); ++i) {
    const audit::AuditRecord& r = records[i];
    SCOPED_TRACE(r.decision_id);
    const std::vector<std::string>& row = rows[i + 1];
    ASSERT_EQ(row.size(), std::size(audit::kRecordFields) + 5);
    std::vector<std::string> want = {absl::StrCat(r.sequence)};
    for (const audit::RecordField& field : audit::kRecordFields) {
      // A decision's answer is exported as JSON (RenderResult).
      absl::StatusOr<std::string> rendered = RenderResult(r);
      want.push_back(audit::IsBinaryField(field, r) && rendered.ok() ? *rendered : r.*field.member);
    }
    want.insert(want.end(), {r.previous_hash, r.hash, r.chain, absl::StrCat(r.format)});
    for (size_t k = 0; k < want.size(); ++k) {
      std::string value = want[k];
      if (value.find_first_of("\xff\xc3") != std::string::npos) continue;  // checked exactly
      if (!value.empty() && std::string("=+-@\t\r").find(value[0]) != std::string::npos) {
        value = "'" + value;
      }
      EXPECT_EQ(row[k], value) << rows[0][k];
    }
  }
  // The guard: no cell begins with what starts a formula.
  EXPECT_EQ(rows[5][3], "'=cmd|' /C calc'!A0");
  EXPECT_EQ(rows[6][4], "'-2+3");
  EXPECT_EQ(rows[6][12], "'@SUM(A1)\xef\xbf\xbd(");
  EXPECT_EQ(rows[4][4], "'\tq4");
  EXPECT_EQ(rows[2][4], "'\rq2");
}

TEST(AuditExportTest, FiltersAndLimitApplyToExports) {
  std::vector<audit::AuditRecord> records;
  const std::string log = ReviewLog("export_filters.db", &records);
  CliRun run = Creditctl(
      {"audit", "export", log, "--format", "jsonl", "--customer", "C-1", "--since", "2026-11-02"});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  EXPECT_EQ(run.out, ExpectedJsonl(records)[3] + "\n");
  CliRun limited =
      Creditctl({"audit", "export", log, "--format", "csv", "--kind", "decision", "--limit", "1"});
  ASSERT_EQ(limited.code, kExitOk) << limited.err;
  EXPECT_EQ(ParseCsv(limited.out).size(), 2u);
  EXPECT_THAT(limited.out, HasSubstr("\r\n1,d1,"));
  CliRun none = Creditctl({"audit", "export", log, "--format", "csv", "--outcome", "nothing"});
  ASSERT_EQ(none.code, kExitOk) << none.err;
  EXPECT_EQ(
      none.out,
      "sequence,decision_id,time,customer_id,request_id,decision,policy_name,"
      "policy_version,policy_sha256,facts,result,kind,caller,outcome,challenger,via,previous_hash,"
      "hash,chain,format\r\n");
  CliRun bad = Creditctl({"audit", "export", log, "--format", "xml"});
  EXPECT_EQ(bad.code, kExitUsage);
  EXPECT_THAT(bad.err, HasSubstr("--format"));
  CliRun bad_time = Creditctl({"audit", "export", log, "--format", "csv", "--until", "soon"});
  EXPECT_EQ(bad_time.code, kExitUsage);
  EXPECT_THAT(bad_time.err, HasSubstr("--until: `soon` is not a time"));
}

// ---------------------------------------------------------------------------
// export --output

TEST(AuditExportTest, OutputFileHoldsTheExportAndNothingIsLeftBeside) {
  const std::string log = ReviewLog("export_output.db");
  const std::string file = FreshPath("export_output.csv");
  // A temporary file left by an export that was killed is replaced.
  std::ofstream(file + ".tmp") << "stale";
  CliRun to_file = Creditctl({"audit", "export", log, "--format", "csv", "--output", file});
  ASSERT_EQ(to_file.code, kExitOk) << to_file.err;
  EXPECT_EQ(to_file.out, "6 records written to " + file + "\n");
  CliRun to_stdout = Creditctl({"audit", "export", log, "--format", "csv"});
  EXPECT_EQ(Slurp(file), to_stdout.out);
  EXPECT_FALSE(Exists(file + ".tmp"));
  struct stat st;
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);  // customer data: its owner's alone
}

TEST(AuditExportTest, AnOutputThatCannotBeCreatedIsAnErrorAndNoFile) {
  const std::string log = ReviewLog("export_nodir.db");
  const std::string missing_dir = ::testing::TempDir() + "no_such_dir/out.csv";
  CliRun run = Creditctl({"audit", "export", log, "--format", "csv", "-o", missing_dir});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("cannot create `" + missing_dir + ".tmp`"));
  EXPECT_THAT(run.out, IsEmpty());
  EXPECT_FALSE(Exists(missing_dir));
  // A directory that is a file (refused even to root, unlike permissions).
  const std::string not_a_dir = FreshPath("export_not_a_dir");
  std::ofstream(not_a_dir) << "a file";
  CliRun under_file =
      Creditctl({"audit", "export", log, "--format", "jsonl", "-o", not_a_dir + "/out.jsonl"});
  EXPECT_EQ(under_file.code, kExitUsage);
  EXPECT_THAT(under_file.err, HasSubstr("Not a directory"));
}

TEST(AuditExportTest, AFailedWriteLeavesTheFileAsItWas) {
  // About 250 KB of export.
  const std::string log = FreshPath("export_full.db");
  std::vector<audit::AuditRecord> records;
  for (int i = 0; i < 200; ++i) {
    records.push_back(Decision(
        absl::StrCat("d", i), "2026-11-01T09:00:00.000Z", "C-1", "q", "credit_application", "1.0.0",
        absl::StrCat(R"({"pad": ")", std::string(1000, 'x'), R"("})"), "approve", "alice"));
  }
  WriteLog(log, records);
  const std::string file = FreshPath("export_full.jsonl");
  std::ofstream(file) << "the previous export\n";
  // A file size limit stands in for a full disk: writes past it fail
  // (EFBIG) as they would with ENOSPC.
  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct sigaction ignore = {}, previous = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ignore, &previous), 0);
  struct rlimit small = saved;
  small.rlim_cur = 64 << 10;  // more than the reader's 32 KiB "-shm" file
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  CliRun run = Creditctl({"audit", "export", log, "--format", "jsonl", "-o", file});
  setrlimit(RLIMIT_FSIZE, &saved);
  sigaction(SIGXFSZ, &previous, nullptr);
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("cannot write `" + file + ".tmp`: File too large; `" + file +
                                 "` is left as it was"));
  EXPECT_THAT(run.out, IsEmpty());
  EXPECT_EQ(Slurp(file), "the previous export\n");
  EXPECT_FALSE(Exists(file + ".tmp"));
}

TEST(AuditExportTest, AFailedWriteToStandardOutputIsAnError) {
  const std::string log = ReviewLog("export_stdout_fails.db");
  struct Refusing : std::streambuf {
    int overflow(int) override { return traits_type::eof(); }
    std::streamsize xsputn(const char*, std::streamsize) override { return 0; }
  } refusing;
  std::ostream out(&refusing);
  std::ostringstream err;
  EXPECT_EQ(RunCreditctl({"audit", "export", log, "--format", "csv"}, out, err), kExitUsage);
  EXPECT_THAT(err.str(), HasSubstr("cannot write the export to standard output"));
}

TEST(AuditExportTest, RefusesToWriteOverTheLog) {
  const std::string log = ReviewLog("export_over_log.db");
  CliRun run = Creditctl({"audit", "export", log, "--format", "csv", "-o", log});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("--output: `" + log + "` is the audit log itself"));
  CliRun list = Creditctl({"audit", "list", log});
  EXPECT_EQ(list.code, kExitOk) << list.err;
}

// ---------------------------------------------------------------------------
// The progress bar

TEST(ProgressBarTest, RedrawsAtMostTenTimesASecondAndEndsTheLine) {
  std::ostringstream out;
  std::chrono::steady_clock::time_point now;
  ProgressBar bar(out, 200, [&] { return now; });
  bar.Update(1);  // the first update draws
  EXPECT_EQ(out.str(), "\r[..............................]   0%  1/200 records");
  out.str("");
  now += std::chrono::milliseconds(99);
  bar.Update(50);
  EXPECT_THAT(out.str(), IsEmpty());
  now += std::chrono::milliseconds(1);
  bar.Update(100);
  EXPECT_EQ(out.str(), "\r[###############...............]  50%  100/200 records");
  out.str("");
  bar.Finish(200);
  EXPECT_EQ(out.str(), "\r[##############################] 100%  200/200 records\n");
  out.str("");
  bar.Abandon();  // the line has ended already
  EXPECT_THAT(out.str(), IsEmpty());
}

TEST(ProgressBarTest, AbandonEndsALineDrawn) {
  std::ostringstream out;
  ProgressBar bar(out, 0);
  bar.Update(0);
  bar.Abandon();
  EXPECT_EQ(out.str(), "\r[##############################] 100%  0/0 records\n");
}

// Runs the creditctl binary with stderr on `stderr_fd`; returns its exit
// status. Its stdout goes to /dev/null.
int RunBinary(const std::vector<std::string>& args, int stderr_fd) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    dup2(stderr_fd, STDERR_FILENO);
    std::vector<char*> argv = {const_cast<char*>(CREDITCTL_BINARY)};
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execv(CREDITCTL_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ReadAll(int fd) {
  std::string text;
  char buffer[4096];
  ssize_t n;
  // A terminal's master side reads EIO once the other side has closed.
  while ((n = read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  return text;
}

TEST(AuditExportProgressTest, NoBarWhenStderrIsNotATerminal) {
  const std::string log = ReviewLog("progress_pipe.db");
  const std::string file = FreshPath("progress_pipe.csv");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = RunBinary({"audit", "export", log, "--format", "csv", "-o", file}, fds[1]);
  close(fds[1]);
  const std::string err = ReadAll(fds[0]);
  close(fds[0]);
  EXPECT_EQ(Wait(pid), kExitOk);
  EXPECT_THAT(err, IsEmpty());
  EXPECT_TRUE(Exists(file));
  // Nor in-process, whatever the test's own stderr is.
  CliRun run = Creditctl({"audit", "export", log, "--format", "jsonl"});
  EXPECT_EQ(run.code, kExitOk);
  EXPECT_THAT(run.err, IsEmpty());
}

TEST(AuditExportProgressTest, ABarOnATerminal) {
  const std::string log = ReviewLog("progress_tty.db");
  const std::string file = FreshPath("progress_tty.csv");
  const int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0) GTEST_SKIP() << "no pseudo-terminals here";
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  const int terminal = open(ptsname(master), O_RDWR | O_NOCTTY);
  ASSERT_GE(terminal, 0);
  const pid_t pid = RunBinary(
      {"audit", "export", log, "--format", "csv", "-o", file, "--kind", "decision"}, terminal);
  close(terminal);
  const std::string err = ReadAll(master);
  close(master);
  EXPECT_EQ(Wait(pid), kExitOk);
  // The terminal turns \n into \r\n.
  EXPECT_THAT(err, HasSubstr("\r[##############################] 100%  5/5 records\r\n"));
  EXPECT_TRUE(Exists(file));
}

}  // namespace
}  // namespace creditd::cli
