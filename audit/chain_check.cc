#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "audit/log_store.h"

namespace creditd::audit {

absl::StatusOr<std::string> NewLogId() {
  std::string raw(16, '\0');
  size_t got = 0;
  while (got < raw.size()) {
    const ssize_t n = getrandom(raw.data() + got, raw.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("getrandom: ", std::strerror(errno)));
    }
    got += static_cast<size_t>(n);
  }
  return absl::BytesToHexString(raw);
}

bool ChainCheck::Next(const AuditRecord& r) {
  VerifyResult& result = result_;
  if (result.records == 0 && r.sequence > 1 && may_start_later_) {
    result.archived = r.sequence - 1;
    result.archived_head = r.previous_hash;
    result.resumes_at_time = r.time;
    previous_ = r.previous_hash;
  }
  ++result.records;
  const int64_t expected = result.archived + result.records;
  if (r.sequence != expected) {
    result.problem =
        absl::StrCat("expected record ", expected, ", found ", r.sequence, " (records missing)");
  } else if (r.previous_hash != previous_) {
    result.problem = "its previous hash does not match the record before it";
  } else if (RecordHash(r) != r.hash) {
    result.problem = "its content does not match its hash (changed after it was written)";
  }
  if (!result.problem.empty()) {
    result.ok = false;
    result.first_broken = r.sequence;
    return false;
  }
  previous_ = r.hash;
  result.head = {r.sequence, r.hash};
  if (keep_ != nullptr && keep_->count(r.sequence) > 0) result.hashes[r.sequence] = r.hash;
  if (result.archived > 0 && result.records == 1 && keep_ != nullptr &&
      keep_->count(result.archived) > 0) {
    result.hashes[result.archived] = result.archived_head;
  }
  if (r.kind == kDecisionRecord && !r.policy_name.empty()) {
    named_[{r.policy_name, r.policy_version}].insert(r.policy_sha256);
  }
  return true;
}

}  // namespace creditd::audit
