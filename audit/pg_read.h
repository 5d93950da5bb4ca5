#pragma once

// The readers of a PostgreSQL log, behind the functions of sqlite_store.h
// (which hand a PostgreSQL location here). Internal to audit/. Records of
// every chain are read in the order they were written (their position);
// each record names its chain.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/sqlite_store.h"

namespace creditd::audit::pg {

absl::StatusOr<VerifyResult> VerifyChain(const std::string& location, const std::string& chain,
                                         const std::set<int64_t>& keep_hashes_of);
absl::StatusOr<std::optional<AuditRecord>> ReadRecord(const std::string& location,
                                                      const std::string& decision_id);
absl::StatusOr<std::string> ReadPolicySource(const std::string& location,
                                             const std::string& sha256);
absl::StatusOr<std::vector<StoredPolicy>> ReadStoredVersions(const std::string& location);
absl::StatusOr<LogIdentity> ReadLogIdentity(const std::string& location, const std::string& chain);
absl::Status ForEachMatchingRecord(const std::string& location, const RecordFilter& filter,
                                   const std::function<bool(AuditRecord&)>& visit);
absl::StatusOr<int64_t> CountMatchingRecords(const std::string& location,
                                             const RecordFilter& filter);
absl::StatusOr<std::unique_ptr<RecordRanges>> OpenRanges(
    const std::string& location, const RecordFilter& filter,
    std::vector<std::string AuditRecord::*> fields);
absl::StatusOr<std::vector<std::string>> ListChains(const std::string& location);

}  // namespace creditd::audit::pg
