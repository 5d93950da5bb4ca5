#include "server/server_options.h"

#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace creditd::server {
namespace {

absl::Status ValidateAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen `", address, "` is not host:port, e.g. 127.0.0.1:50051"));
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen `", address, "` has no valid port (0..65535)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Validate(const ServerOptions& options) {
  if (absl::Status status = ValidateAddress(options.listen_address); !status.ok()) return status;
  if (options.policy_dir.empty()) return absl::InvalidArgumentError("--policies is empty");
  if (options.audit_db.empty()) return absl::InvalidArgumentError("--audit_db is empty");
  if (options.max_message_bytes < 1024 || options.max_message_bytes > (int64_t{1} << 30)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_message_bytes ", options.max_message_bytes, " is outside 1024..1073741824"));
  }
  if (options.default_deadline_ms < 0 || options.default_deadline_ms > 3600 * 1000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--default_deadline_ms ", options.default_deadline_ms, " is outside 0..3600000"));
  }
  return absl::OkStatus();
}

}  // namespace creditd::server
