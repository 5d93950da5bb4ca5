#include "audit/record.h"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "crypto/sha256.h"

namespace creditd::audit {

bool ResultIsAnswerBytes(const AuditRecord& record) {
  return record.kind == kDecisionRecord && record.format >= kAnswerAsSentFormat;
}

bool IsBinaryField(const RecordField& field, const AuditRecord& record) {
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

}  // namespace creditd::audit
