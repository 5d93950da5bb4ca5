#include "audit/record.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crypto/sha256.h"

namespace creditd::audit {

bool ResultIsAnswerBytes(const AuditRecord& record) {
  return record.kind == kDecisionRecord && record.format >= kAnswerAsSentFormat;
}

bool IsBinaryField(const RecordField& field, const AuditRecord& record) {
  if (field.member == &AuditRecord::challenger) return !record.challenger.empty();
  return field.member == &AuditRecord::result_json && ResultIsAnswerBytes(record);
}

std::string ContentHash(const AuditRecord& r) {
  crypto::Sha256 hash;
  auto add = [&hash](absl::string_view field) {
    // "LENGTH:" without snprintf's cost, on the request path of every record.
    char length[24];
    char* end = std::to_chars(length, length + sizeof length - 1, field.size()).ptr;
    *end++ = ':';
    hash.Update(absl::string_view(length, static_cast<size_t>(end - length)));
    hash.Update(field);
    hash.Update(";");
  };
  for (const RecordField& field : kRecordFields) {
    if (field.since_format <= r.format) add(r.*field.member);
  }
  if (r.format >= kHashedFormatFormat) add(absl::StrCat("format ", r.format));
  return hash.HexDigest();
}

std::string ChainHash(const std::string& previous_hash, int64_t sequence,
                      const std::string& content_hash) {
  return crypto::Sha256Hex(absl::StrCat(previous_hash, ";", sequence, ";", content_hash));
}

std::string RecordHash(const AuditRecord& r) {
  if (r.format >= 2) return ChainHash(r.previous_hash, r.sequence, ContentHash(r));
  std::string data;
  for (const std::string* field :
       {&r.previous_hash, &r.decision_id, &r.time, &r.customer_id, &r.request_id, &r.decision,
        &r.policy_name, &r.policy_version, &r.policy_sha256, &r.facts_json, &r.result_json}) {
    absl::StrAppend(&data, field->size(), ":", *field, ";");
  }
  absl::StrAppend(&data, r.sequence);
  return crypto::Sha256Hex(data);
}

absl::StatusOr<std::string> LogTimeBound(absl::string_view text) {
  auto invalid = [text] {
    return absl::InvalidArgumentError(
        absl::StrCat("`", absl::CHexEscape(text.substr(0, 64)), text.size() > 64 ? "…" : "",
                     "` is not a time: write RFC 3339 with an offset (2026-11-22T10:00:00Z, "
                     "2026-11-22T11:00:00+01:00) or a date (2026-11-22)"));
  };
  // absl's parser takes more than RFC 3339 (years of any length, spaces
  // around): the date must be YYYY-MM-DD, and nothing may surround it.
  const bool date_shaped =
      text.size() >= 10 && absl::ascii_isdigit(text[0]) && absl::ascii_isdigit(text[1]) &&
      absl::ascii_isdigit(text[2]) && absl::ascii_isdigit(text[3]) && text[4] == '-' &&
      absl::ascii_isdigit(text[5]) && absl::ascii_isdigit(text[6]) && text[7] == '-' &&
      absl::ascii_isdigit(text[8]) && absl::ascii_isdigit(text[9]);
  if (!date_shaped || std::any_of(text.begin(), text.end(), [](char c) {
        return absl::ascii_isspace(static_cast<unsigned char>(c));
      })) {
    return invalid();
  }
  absl::Time time;
  std::string error;
  const bool parsed =
      text.size() == 10
          ? absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &time, &error)
          : absl::ParseTime(absl::RFC3339_full, text, absl::UTCTimeZone(), &time, &error);
  if (!parsed) return invalid();
  // Rounded up to a whole millisecond (ToUnixMillis rounds down).
  int64_t ms = absl::ToUnixMillis(time);
  if (absl::FromUnixMillis(ms) < time) ++ms;
  const absl::CivilSecond utc = absl::ToCivilSecond(absl::FromUnixMillis(ms), absl::UTCTimeZone());
  if (utc.year() < 0 || utc.year() > 9999) return invalid();
  const int64_t milliseconds = ((ms % 1000) + 1000) % 1000;
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.year(), utc.month(), utc.day(),
                         utc.hour(), utc.minute(), utc.second(), milliseconds);
}

std::string LogTimeNow() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
}

int FormatOf(const std::vector<std::pair<int64_t, int>>& formats, int64_t sequence) {
  int format = kFirstLogFormat;
  for (const auto& [first, f] : formats) {
    if (first <= sequence) format = f;
  }
  return format;
}

}  // namespace creditd::audit
