#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace creditd::server {

// How creditd serves: where it listens, which policies it loads, where the
// audit log lives. Filled from flags in main.cc; checked by Validate().
struct ServerOptions {
  std::string listen_address = "127.0.0.1:50051";
  std::string policy_dir = "policies";
  std::string audit_db = "creditd-audit.db";
  int64_t max_message_bytes = 4 << 20;
  // Evaluate calls that arrive without a deadline get this one; 0: none.
  int64_t default_deadline_ms = 10000;
};

// Returns InvalidArgument naming the first bad option: an address that is not
// host:port, an empty policy directory or audit path, a message limit below
// 1 KiB or above 1 GiB, a default deadline below 0 or above one hour.
absl::Status Validate(const ServerOptions& options);

}  // namespace creditd::server
