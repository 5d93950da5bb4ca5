#include "server/server_options.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "audit/log_location.h"
#include "audit/pg_store.h"
#include "server/challenger.h"

namespace creditd::server {
namespace {

// The port of HOST:PORT: digits only (SimpleAtoi alone would take " 80" or
// "+80", and a flags file's trailing space would pass here and fail later,
// at listening), 0..65535.
bool ParsePort(absl::string_view digits, uint32_t* port) {
  return !digits.empty() && digits.size() <= 5 &&
         std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) &&
         absl::SimpleAtoi(digits, port) && *port <= 65535;
}

absl::Status ValidateAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen `", address, "` is not host:port, e.g. 127.0.0.1:50051"));
  }
  uint32_t port = 0;
  if (!ParsePort(address.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen `", address, "` has no valid port (0..65535)"));
  }
  return absl::OkStatus();
}

absl::Status InRange(const char* flag, int64_t value, int64_t low, int64_t high) {
  if (value < low || value > high) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", value, " is outside ", low, "..", high));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateMetricsAddress(const std::string& address) {
  if (address.empty()) return absl::OkStatus();
  const auto bad = [&address](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_listen `", address, "` ", why,
                     "; give an IP address and a port, e.g. 127.0.0.1:9464 or [::1]:9464"));
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return bad("has no port");
  const std::string host = address.substr(0, colon);
  uint32_t port = 0;
  if (!ParsePort(absl::string_view(address).substr(colon + 1), &port)) {
    return bad("has no valid port (0..65535)");
  }
  unsigned char parsed[sizeof(struct in6_addr)];
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), parsed) != 1) {
      return bad("is not an IPv6 address in brackets");
    }
    return absl::OkStatus();
  }
  if (inet_pton(AF_INET, host.c_str(), parsed) != 1) {
    return bad("does not start with a numeric IPv4 address (or an IPv6 one in brackets)");
  }
  return absl::OkStatus();
}

bool IsLoopback(const std::string& address) {
  absl::string_view host(address);
  host = host.substr(0, host.rfind(':'));
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8, written as four numbers.
  if (!absl::ConsumePrefix(&host, "127.")) return false;
  int parts = 1;
  for (absl::string_view part : absl::StrSplit(host, '.')) {
    uint32_t n = 0;
    if (!absl::SimpleAtoi(part, &n) || n > 255) return false;
    ++parts;
  }
  return parts == 4;
}

absl::Status Validate(const ServerOptions& options) {
  if (absl::Status status = ValidateAddress(options.listen_address); !status.ok()) return status;
  if (options.policy_dir.empty()) return absl::InvalidArgumentError("--policies is empty");
  if (options.audit_db.empty()) return absl::InvalidArgumentError("--audit_db is empty");
  if (audit::IsPostgresLocation(options.audit_store)) {
    if (absl::Status status = audit::CheckPostgresLocation(options.audit_store); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--audit_store: ", status.message()));
    }
    if (!options.replica_id.empty()) {
      if (absl::Status status = audit::CheckChainId(options.replica_id); !status.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("--replica_id: ", status.message()));
      }
    }
  } else if (!options.replica_id.empty()) {
    return absl::InvalidArgumentError(
        "--replica_id names this replica's chain in a shared PostgreSQL log (--audit_store); a "
        "SQLite log has one chain");
  } else if (!options.audit_store.empty() && audit::SqlitePathOf(options.audit_store).empty()) {
    return absl::InvalidArgumentError("--audit_store names no file");
  }
  const Limits& l = options.limits;
  for (const absl::Status& status : {
           InRange("--max_message_bytes", options.max_message_bytes, 1024, int64_t{1} << 30),
           InRange("--default_deadline_ms", options.default_deadline_ms, 0, 3600 * 1000),
           InRange("--max_request_bytes", static_cast<int64_t>(l.max_request_bytes), 1024,
                   options.max_message_bytes),
           InRange("--max_facts", l.max_facts, 1, 100000),
           InRange("--max_value_bytes", static_cast<int64_t>(l.max_value_bytes), 16, 1 << 20),
           InRange("--max_id_bytes", static_cast<int64_t>(l.max_id_bytes), 16, 1 << 20),
           InRange("--max_streams", l.max_streams, 1, 100000),
           InRange("--stream_window", static_cast<int64_t>(l.stream_window), 1, 1 << 20),
           InRange("--max_calls_per_caller", l.max_calls_per_caller, 0, 1 << 30),
           InRange("--audit_max_queue", static_cast<int64_t>(options.audit_max_queue), 1, 10000000),
           InRange("--tls_reload_seconds", options.tls.reload_seconds, 1, 86400),
           InRange("--max_connection_age_seconds", options.max_connection_age_seconds, 0,
                   kMaxConnectionAgeSeconds),
           InRange("--max_connection_age_grace_seconds", options.max_connection_age_grace_seconds,
                   1, kMaxConnectionAgeSeconds),
       }) {
    if (!status.ok()) return status;
  }
  const TlsOptions& tls = options.tls;
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (!tls.enabled() && !tls.client_ca_file.empty()) {
    return absl::InvalidArgumentError("--tls_client_ca needs --tls_cert and --tls_key");
  }
  if (!tls.crl_dir.empty() && tls.client_ca_file.empty()) {
    return absl::InvalidArgumentError("--tls_crl_dir needs --tls_client_ca");
  }
  if (!options.tokens_file.empty() && !tls.enabled()) {
    return absl::InvalidArgumentError(
        "--tokens needs TLS (--tls_cert and --tls_key): bearer tokens are accepted over TLS "
        "only");
  }
  if (!options.tokens_file.empty() && !tls.client_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--tokens is for TLS without client certificates; with --tls_client_ca the caller's "
        "identity comes from its certificate");
  }
  // A balancer is known by its own client certificate, so only mTLS can
  // tell it from a caller forging the header it forwards.
  if (!options.trusted_balancers_file.empty() && tls.client_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--trusted_balancers needs mTLS (--tls_cert, --tls_key and --tls_client_ca): a "
        "balancer is trusted by the identity of its own client certificate");
  }
  // Approval is never half configured: approvers without a number would
  // serve unsigned versions, a number without approvers none at all.
  if (!options.approvers_file.empty() && options.required_approvals == 0) {
    return absl::InvalidArgumentError(
        "--approvers needs --required_approvals N (at least 1): with approvers configured, "
        "only approved versions serve");
  }
  if (options.required_approvals != 0 && options.approvers_file.empty()) {
    return absl::InvalidArgumentError(
        "--required_approvals needs --approvers FILE, the trusted approvers and their keys");
  }
  if (options.required_approvals < 0 || options.required_approvals > kMaxRequiredApprovals) {
    return absl::InvalidArgumentError(absl::StrCat("--required_approvals must be 1 to ",
                                                   kMaxRequiredApprovals, ", not ",
                                                   options.required_approvals));
  }
  if (options.challenger_dir.empty() != options.challenger_share.empty()) {
    return absl::InvalidArgumentError("--challenger DIR and --challenger_share P% go together");
  }
  if (!options.challenger_dir.empty()) {
    if (absl::StatusOr<int> share = ParseChallengerShare(options.challenger_share); !share.ok()) {
      return share.status();
    }
    if (options.challenger_dir == options.policy_dir) {
      return absl::InvalidArgumentError(
          "--challenger names the policy directory itself: the challenger is another directory");
    }
  }
  if (absl::Status status = ValidateMetricsAddress(options.metrics_listen); !status.ok()) {
    return status;
  }
  if (!options.insecure && !IsLoopback(options.listen_address)) {
    if (!tls.enabled()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--listen ", options.listen_address,
          " is not a loopback address: give --tls_cert and --tls_key, or --insecure to serve "
          "plaintext there"));
    }
    if (options.roles_file.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--listen ", options.listen_address,
          " is not a loopback address: give --roles, or --insecure to let every caller do "
          "everything"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckChallengerDirectory(const std::string& policy_dir,
                                      const std::string& challenger_dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path policies = fs::weakly_canonical(policy_dir, error);
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat("--policies ", policy_dir, " cannot be resolved: ", error.message()));
  }
  const fs::path challenger = fs::weakly_canonical(challenger_dir, error);
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat("--challenger ", challenger_dir, " cannot be resolved: ", error.message()));
  }
  // Whether `inner` is `outer` or below it, part by part.
  auto within = [](const fs::path& inner, const fs::path& outer) {
    auto i = inner.begin();
    for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
      if (o->empty()) continue;  // a trailing separator
      if (i == inner.end() || *i != *o) return false;
    }
    return true;
  };
  if (within(challenger, policies) || within(policies, challenger)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--challenger ", challenger_dir, " and --policies ", policy_dir,
        " overlap: the policies are read with every subdirectory, so one would serve the "
        "other's files; give the challenger a directory of its own"));
  }
  return absl::OkStatus();
}

}  // namespace creditd::server
