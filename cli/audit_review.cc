// creditctl audit list|export DB: a reviewer's view of the decision log.
// `list` prints one aligned line per record; `export` writes every field of
// every record as JSON Lines or CSV. Both take the same filters.
#include "cli/audit_review.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "audit/sqlite_store.h"
#include "cli/audit_render.h"
#include "cli/output.h"
#include "rapidjson/document.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"

namespace creditd::cli {

namespace {

// ---------------------------------------------------------------------------
// Text.

struct CodePoint {
  char32_t value;
  size_t length;  // 0: text[i] does not begin well-formed UTF-8
};

// The code point at text[i]. Overlong forms, surrogates and values past
// U+10FFFF are not well-formed (Unicode table 3-7).
CodePoint DecodeUtf8(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return {lead, 1};
  size_t length;
  char32_t value;
  unsigned char low = 0x80, high = 0xbf;  // the second byte's range
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
    value = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    value = lead & 0x0f;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    value = lead & 0x07;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return {0, 0};
  }
  if (text.size() - i < length) return {0, 0};
  for (size_t k = 1; k < length; ++k) {
    const unsigned char b = byte(k);
    if (k == 1 ? (b < low || b > high) : (b < 0x80 || b > 0xbf)) return {0, 0};
    value = (value << 6) | (b & 0x3f);
  }
  return {value, length};
}

// Characters a terminal does not show as themselves: C1 controls (U+009B
// is CSI to some terminals), line and paragraph separators, and the marks
// and overrides that reorder bidirectional text.
bool Invisible(char32_t c) {
  return (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
         (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

// `text` with each byte that is not part of well-formed UTF-8 as U+FFFD.
std::string ValidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const CodePoint c = DecodeUtf8(text, i);
    if (c.length == 0) {
      out += "\xef\xbf\xbd";
      ++i;
    } else {
      out.append(text.data() + i, c.length);
      i += c.length;
    }
  }
  return out;
}

// Re-writes SAX events as compact JSON: no whitespace, numbers as written
// (kParseNumbersAsStringsFlag), strings through AppendJsonString.
class CompactJson {
 public:
  explicit CompactJson(std::string* out) : out_(out) {}

  bool Null() { return Scalar("null"); }
  bool Bool(bool b) { return Scalar(b ? "true" : "false"); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    return Scalar(absl::string_view(s, n));
  }
  bool String(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    BeforeValue();
    AppendJsonString(absl::string_view(s, n), out_);
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    BeforeValue();
    AppendJsonString(absl::string_view(s, n), out_);
    out_->push_back(':');
    after_key_ = true;
    return true;
  }
  bool StartObject() { return Open('{'); }
  bool EndObject(rapidjson::SizeType /*members*/) { return Close('}'); }
  bool StartArray() { return Open('['); }
  bool EndArray(rapidjson::SizeType /*elements*/) { return Close(']'); }
  // Never called with kParseNumbersAsStringsFlag: numbers come as RawNumber.
  bool Int(int) { return false; }
  bool Uint(unsigned) { return false; }
  bool Int64(int64_t) { return false; }
  bool Uint64(uint64_t) { return false; }
  bool Double(double) { return false; }

 private:
  void BeforeValue() {
    if (after_key_) {
      after_key_ = false;
    } else if (!first_.empty()) {
      if (!first_.back()) out_->push_back(',');
      first_.back() = false;
    }
  }
  bool Scalar(absl::string_view text) {
    BeforeValue();
    out_->append(text.data(), text.size());
    return true;
  }
  bool Open(char c) {
    BeforeValue();
    out_->push_back(c);
    first_.push_back(true);
    return true;
  }
  bool Close(char c) {
    out_->push_back(c);
    first_.pop_back();
    return true;
  }

  std::string* out_;
  std::vector<bool> first_;  // per open container: nothing written in it yet
  bool after_key_ = false;
};

// The decision's outcome, as the --outcome filter reads it
// (audit::RecordFilter): the record's outcome field from format 5, before it
// the result's top-level "outcome" string; empty when there is none (a
// reload).
std::string Outcome(const audit::AuditRecord& record) {
  if (record.format >= audit::kAnswerAsSentFormat) return record.outcome;
  const std::string& result_json = record.result_json;
  if (result_json.find('\0') != std::string::npos) return "";
  rapidjson::Document document;
  document.Parse<rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag>(
      result_json.data(), result_json.size());
  if (document.HasParseError() || !document.IsObject()) return "";
  const auto outcome = document.FindMember("outcome");
  if (outcome == document.MemberEnd() || !outcome->value.IsString()) return "";
  return std::string(outcome->value.GetString(), outcome->value.GetStringLength());
}

// ---------------------------------------------------------------------------
// Records as lines.

bool IsJsonField(const audit::RecordField& field) {
  return field.member == &audit::AuditRecord::facts_json ||
         field.member == &audit::AuditRecord::result_json ||
         field.member == &audit::AuditRecord::challenger;
}

// A field as exported: as stored, except a result kept as the answer's
// bytes (format 5), which is exported as JSON (RenderResult); bytes that are
// not a decision are exported as they are, for `audit verify` to report.
std::string Exported(const audit::RecordField& field, const audit::AuditRecord& r) {
  if (audit::IsBinaryField(field, r)) {
    absl::StatusOr<std::string> json =
        field.member == &audit::AuditRecord::challenger ? RenderChallenger(r) : RenderResult(r);
    if (json.ok()) return *std::move(json);
  }
  return r.*field.member;
}

// The fields an export writes, in this order: the sequence, the log's
// record fields in its own order (kRecordFields), the chain, the format.
std::string CsvHeader() {
  std::string header = "sequence";
  for (const audit::RecordField& field : audit::kRecordFields) {
    absl::StrAppend(&header, ",", field.column);
  }
  return header + ",previous_hash,hash,chain,format\r\n";
}

void AppendCsvRecord(const audit::AuditRecord& r, std::string* out) {
  AppendCsvField(absl::StrCat(r.sequence), out);
  for (const audit::RecordField& field : audit::kRecordFields) {
    out->push_back(',');
    AppendCsvField(Exported(field, r), out);
  }
  out->push_back(',');
  AppendCsvField(r.previous_hash, out);
  out->push_back(',');
  AppendCsvField(r.hash, out);
  out->push_back(',');
  AppendCsvField(r.chain, out);
  absl::StrAppend(out, ",", r.format, "\r\n");
}

void AppendJsonlRecord(const audit::AuditRecord& r, std::string* out) {
  absl::StrAppend(out, "{\"sequence\":", r.sequence);
  for (const audit::RecordField& field : audit::kRecordFields) {
    absl::StrAppend(out, ",\"", field.column, "\":");
    if (IsJsonField(field)) {
      AppendJsonValue(Exported(field, r), out);
    } else {
      AppendJsonString(r.*field.member, out);
    }
  }
  *out += ",\"previous_hash\":";
  AppendJsonString(r.previous_hash, out);
  *out += ",\"hash\":";
  AppendJsonString(r.hash, out);
  *out += ",\"chain\":";
  AppendJsonString(r.chain, out);
  absl::StrAppend(out, ",\"format\":", r.format, "}\n");
}

// `list`'s columns.
constexpr size_t kListColumns = 8;
using ListRow = std::array<std::string, kListColumns>;
const ListRow& ListHeader() {
  static const ListRow header = {"SEQ",     "TIME",    "ID",       "DECISION",
                                 "VERSION", "OUTCOME", "CUSTOMER", "CALLER"};
  return header;
}

ListRow ToListRow(const audit::AuditRecord& r) {
  auto shown = [](absl::string_view text) { return text.empty() ? "-" : ShownText(text); };
  return {absl::StrCat(r.sequence), shown(r.time),     shown(r.decision_id), shown(r.decision),
          shown(r.policy_version),  shown(Outcome(r)), shown(r.customer_id), shown(r.caller)};
}

// Characters, for padding: ShownText writes well-formed UTF-8.
size_t Width(absl::string_view shown) {
  return static_cast<size_t>(std::count_if(shown.begin(), shown.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  }));
}

void PrintListRow(const ListRow& row, const std::array<size_t, kListColumns>& widths,
                  std::ostream& out) {
  std::string line;
  for (size_t i = 0; i < kListColumns; ++i) {
    const size_t pad = widths[i] - Width(row[i]);
    if (i > 0) line += "  ";
    if (i == 0) line.append(pad, ' ');  // the sequence, aligned right
    line += row[i];
    if (i > 0 && i + 1 < kListColumns) line.append(pad, ' ');
  }
  line += '\n';
  out << line;
}

// ---------------------------------------------------------------------------
// The verbs.

struct ReviewFlags {
  std::string db;
  audit::RecordFilter filter;
  int64_t limit = 0;  // 0: every matching record
  std::string format;
  std::string output;
};

// A progress bar only where a person watches it: creditctl's own stderr,
// on a terminal, unless the export itself goes to that terminal, where the
// bar would be drawn over its lines. Never in a pipe, a file or a test's
// stream.
bool ShowProgress(const ReviewFlags& flags, const Context& context) {
  const bool export_on_terminal =
      flags.output.empty() && &context.out == &std::cout && isatty(STDOUT_FILENO) == 1;
  return &context.err == &std::cerr && isatty(STDERR_FILENO) == 1 && !export_on_terminal;
}

// A log that cannot be read or an output that cannot be written: exit 2,
// as for any file creditctl cannot use.
void ReportFailure(const absl::Status& status, Context& context) {
  context.err << "creditctl: " << status.message() << "\n";
  context.exit_code = kExitUsage;
}

// Two passes over the matching records, so that the columns line up without
// holding the records in memory: the widths, then the lines.
void List(const ReviewFlags& flags, Context& context) {
  auto each_row = [&](const std::function<void(const ListRow&)>& use) {
    int64_t seen = 0;
    return audit::ForEachMatchingRecord(flags.db, flags.filter, [&](const audit::AuditRecord& r) {
      use(ToListRow(r));
      return flags.limit == 0 || ++seen < flags.limit;
    });
  };
  std::array<size_t, kListColumns> widths;
  for (size_t i = 0; i < kListColumns; ++i) widths[i] = Width(ListHeader()[i]);
  int64_t rows = 0;
  absl::Status status = each_row([&](const ListRow& row) {
    ++rows;
    for (size_t i = 0; i < kListColumns; ++i) widths[i] = std::max(widths[i], Width(row[i]));
  });
  if (!status.ok()) return ReportFailure(status, context);
  if (rows == 0) {
    context.err << "creditctl: no matching records in " << ShownText(flags.db) << "\n";
    return;
  }
  PrintListRow(ListHeader(), widths, context.out);
  status = each_row([&](const ListRow& row) { PrintListRow(row, widths, context.out); });
  if (!status.ok()) return ReportFailure(status, context);
  if (!context.out.flush()) {
    context.err << "creditctl: cannot write to standard output\n";
    context.exit_code = kExitUsage;
  }
}

void Export(const ReviewFlags& flags, Context& context) {
  std::unique_ptr<Output> output;
  if (flags.output.empty()) {
    output = std::make_unique<StreamOutput>(context.out);
  } else {
    std::error_code error;
    if (std::filesystem::equivalent(flags.output, flags.db, error)) {
      context.err << "creditctl: --output: `" << ShownText(flags.output)
                  << "` is the audit log itself\n";
      context.exit_code = kExitUsage;
      return;
    }
    absl::StatusOr<std::unique_ptr<FileOutput>> file = FileOutput::Create(flags.output);
    if (!file.ok()) return ReportFailure(file.status(), context);
    output = *std::move(file);
  }
  std::optional<ProgressBar> bar;
  if (ShowProgress(flags, context)) {
    absl::StatusOr<int64_t> total = audit::CountMatchingRecords(flags.db, flags.filter);
    if (!total.ok()) return ReportFailure(total.status(), context);
    bar.emplace(context.err, flags.limit > 0 ? std::min(*total, flags.limit) : *total);
  }
  const bool csv = flags.format == "csv";
  if (csv) output->Write(CsvHeader());
  int64_t done = 0;
  std::string text;
  absl::Status status =
      audit::ForEachMatchingRecord(flags.db, flags.filter, [&](const audit::AuditRecord& r) {
        text.clear();
        if (csv) {
          AppendCsvRecord(r, &text);
        } else {
          AppendJsonlRecord(r, &text);
        }
        if (!output->Write(text)) return false;  // Finish says why
        ++done;
        if (bar) bar->Update(done);
        return flags.limit == 0 || done < flags.limit;
      });
  if (status.ok()) status = output->Finish();
  if (!status.ok()) {
    if (bar) bar->Abandon();
    return ReportFailure(status, context);
  }
  if (bar) bar->Finish(done);
  if (!flags.output.empty()) {
    context.out << done << (done == 1 ? " record" : " records") << " written to "
                << ShownText(flags.output) << "\n";
  }
}

CLI::Validator TimeBound() {
  return CLI::Validator(
      [](std::string& text) {
        absl::StatusOr<std::string> bound = audit::LogTimeBound(text);
        return bound.ok() ? std::string() : std::string(bound.status().message());
      },
      "TIME");
}

void AddFilterOptions(CLI::App& command, const std::shared_ptr<ReviewFlags>& flags) {
  command
      .add_option("db", flags->db,
                  "the audit log: a SQLite file, or a PostgreSQL connection string (the records "
                  "of every replica's chain, in the order written)")
      ->required();
  auto set = [flags](std::optional<std::string> audit::RecordFilter::*field) {
    return [flags, field](const std::string& value) { flags->filter.*field = value; };
  };
  command
      .add_option_function<std::string>(
          "--since", set(&audit::RecordFilter::since),
          "records at or after this time: RFC 3339 with an offset, or a date (midnight UTC)")
      ->check(TimeBound());
  command
      .add_option_function<std::string>("--until", set(&audit::RecordFilter::until),
                                        "records before this time (not at it), as --since")
      ->check(TimeBound());
  command.add_option_function<std::string>("--decision", set(&audit::RecordFilter::decision),
                                           "records of this decision");
  command.add_option_function<std::string>("--customer", set(&audit::RecordFilter::customer_id),
                                           "records of this customer id");
  command.add_option_function<std::string>("--outcome", set(&audit::RecordFilter::outcome),
                                           "decisions with this outcome");
  command.add_option_function<std::string>("--version", set(&audit::RecordFilter::policy_version),
                                           "records of this policy version");
  command
      .add_option_function<std::string>("--kind", set(&audit::RecordFilter::kind),
                                        "decision or reload records alone")
      ->check(
          CLI::IsMember(std::vector<std::string>{audit::kDecisionRecord, audit::kReloadRecord}));
  command.add_option("--limit", flags->limit, "at most this many records, the first in sequence")
      ->check(CLI::PositiveNumber);
}

}  // namespace

// ---------------------------------------------------------------------------
// Exposed for tests.

std::string ShownText(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const CodePoint c = DecodeUtf8(text, i);
    if (c.length == 0 || c.value < 0x20 || c.value == 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<unsigned char>(text[i]));
      ++i;
      continue;
    }
    if (c.value == '\\') {
      out += "\\\\";
    } else if (Invisible(c.value)) {
      absl::StrAppendFormat(&out, "\\u{%04x}", static_cast<uint32_t>(c.value));
    } else {
      out.append(text.data() + i, c.length);
    }
    i += c.length;
  }
  return out;
}

void AppendJsonString(absl::string_view text, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < text.size();) {
    const CodePoint c = DecodeUtf8(text, i);
    if (c.length == 0) {
      *out += "\\ufffd";
      ++i;
      continue;
    }
    switch (c.value) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (c.value < 0x20 || (c.value >= 0x7f && c.value <= 0x9f) || c.value == 0x2028 ||
            c.value == 0x2029) {
          absl::StrAppendFormat(out, "\\u%04x", static_cast<uint32_t>(c.value));
        } else {
          out->append(text.data() + i, c.length);
        }
    }
    i += c.length;
  }
  out->push_back('"');
}

void AppendJsonValue(absl::string_view json, std::string* out) {
  // rapidjson reads a NUL byte as the end of its input; raw, one is never
  // JSON anyway.
  if (json.find('\0') == absl::string_view::npos) {
    std::string compact;
    CompactJson handler(&compact);
    rapidjson::MemoryStream stream(json.data(), json.size());
    rapidjson::Reader reader;
    // Without encoding validation: bytes that are not UTF-8 reach
    // AppendJsonString, which replaces them, and the value keeps its shape.
    if (!reader
             .Parse<rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag>(stream,
                                                                                            handler)
             .IsError()) {
      out->append(compact);
      return;
    }
  }
  AppendJsonString(json, out);
}

void AppendCsvField(absl::string_view text, std::string* out) {
  std::string value = ValidUtf8(text);
  if (!value.empty() && absl::string_view("=+-@\t\r").find(value[0]) != absl::string_view::npos) {
    value.insert(0, 1, '\'');
  }
  if (value.find_first_of(",\"\r\n") == std::string::npos) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (char c : value) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

ProgressBar::ProgressBar(std::ostream& out, int64_t total, Clock clock)
    : out_(out), total_(total), clock_(std::move(clock)) {}

void ProgressBar::Update(int64_t done) {
  const std::chrono::steady_clock::time_point now = clock_();
  if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  Draw(done);
}

void ProgressBar::Finish(int64_t done) {
  Draw(done);
  out_ << "\n" << std::flush;
  drawn_ = false;
}

void ProgressBar::Abandon() {
  if (drawn_) out_ << "\n" << std::flush;
  drawn_ = false;
}

void ProgressBar::Draw(int64_t done) {
  constexpr int64_t kWidth = 30;
  const int64_t percent = total_ <= 0 ? 100 : std::clamp<int64_t>(done * 100 / total_, 0, 100);
  const int64_t filled = percent * kWidth / 100;
  out_ << absl::StrFormat(
              "\r[%s%s] %3d%%  %d/%d records", std::string(static_cast<size_t>(filled), '#'),
              std::string(static_cast<size_t>(kWidth - filled), '.'), percent, done, total_)
       << std::flush;
  drawn_ = true;
}

void AddAuditReviewCommands(CLI::App& audit, Context& context) {
  auto list_flags = std::make_shared<ReviewFlags>();
  auto* list = audit.add_subcommand(
      "list",
      "One line per record: sequence, time, id, decision, version, outcome, customer, "
      "caller");
  AddFilterOptions(*list, list_flags);
  list->footer(
      "Filters combine (all must match) and compare exactly. --since is inclusive, --until\n"
      "exclusive; a date means midnight UTC. Text from the log is shown with control\n"
      "characters escaped (\\xNN, \\u{XXXX}, \\\\); an empty field shows as -.\n"
      "Examples:\n"
      "  creditctl audit list creditd-audit.db --since 2026-11-01 --until 2026-12-01\n"
      "  creditctl audit list creditd-audit.db --customer C-1042 --outcome decline");
  list->callback([&context, list_flags] { List(*list_flags, context); });

  auto export_flags = std::make_shared<ReviewFlags>();
  auto* exporting =
      audit.add_subcommand("export", "Every field of every matching record, as JSON Lines or CSV");
  AddFilterOptions(*exporting, export_flags);
  exporting->add_option("--format", export_flags->format, "jsonl or csv")
      ->required()
      ->check(CLI::IsMember({"jsonl", "csv"}));
  exporting
      ->add_option("-o,--output", export_flags->output,
                   "write to FILE (through FILE.tmp, renamed when complete; mode 0600) "
                   "instead of standard output")
      ->type_name("FILE");
  exporting->footer(
      "Fields: sequence, the record's fields in the log's order, previous_hash, hash, format.\n"
      "jsonl: one JSON object per line; facts and result embedded as JSON values when they\n"
      "parse (numbers as written), else as strings. csv: RFC 4180 with a header row and CRLF\n"
      "line ends. A CSV field beginning with =, +, -, @, tab or CR gets a leading ' so that\n"
      "no spreadsheet runs it as a formula (OWASP): that changes the value, so take exact\n"
      "values from jsonl. Bytes that are not UTF-8 become U+FFFD in both. A progress bar goes\n"
      "to stderr when it is a terminal (and the export does not go to it).\n"
      "Examples:\n"
      "  creditctl audit export creditd-audit.db --format csv --since 2026-11-01 -o nov.csv\n"
      "  creditctl audit export creditd-audit.db --format jsonl --kind decision | jq .result");
  exporting->callback([&context, export_flags] { Export(*export_flags, context); });
}

}  // namespace creditd::cli
