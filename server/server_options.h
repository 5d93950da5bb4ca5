#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "server/limits.h"

namespace creditd::server {

// Transport security. With a certificate and key the server speaks TLS; with
// a client CA as well it asks every client for a certificate, verifies any
// it is given against that CA (and the CRLs), and takes the caller's identity
// from it. The files are watched and reloaded when they change.
struct TlsOptions {
  std::string cert_file;       // PEM certificate chain of the server
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // PEM CA bundle for client certificates (mTLS)
  std::string crl_dir;         // CRLs, hashed names (`openssl rehash`)
  int reload_seconds = 10;     // how often the files are checked for changes

  bool enabled() const { return !cert_file.empty(); }
};

// The most approvals --required_approvals may ask for.
inline constexpr int kMaxRequiredApprovals = 16;

// How creditd serves: where it listens, which policies it loads, where the
// audit log lives, who may call, and the bounds. Filled from flags in
// main.cc; checked by Validate().
struct ServerOptions {
  std::string listen_address = "127.0.0.1:50051";
  std::string policy_dir = "policies";
  std::string audit_db = "creditd-audit.db";
  // Where the log lives (audit/log_location.h): sqlite:PATH or a
  // PostgreSQL connection string; main fills it from --audit_db when unset.
  std::string audit_store;
  // A PostgreSQL log's chain this process writes (default: the host name).
  std::string replica_id;
  int64_t max_message_bytes = 4 << 20;
  // Evaluate calls that arrive without a deadline get this one; 0: none.
  int64_t default_deadline_ms = 10000;
  TlsOptions tls;
  std::string roles_file;   // who holds which role; empty: every caller has every role
  std::string tokens_file;  // bearer token hashes and their identities (TLS only)
  // L7 balancers trusted to forward their client's certificate (mTLS only;
  // docs/scaling.md); empty: no balancer is trusted.
  std::string trusted_balancers_file;
  // Allows plaintext, or no roles file, on an address that is not loopback.
  bool insecure = false;
  Limits limits;
  size_t audit_max_queue = 20000;
  // Four-eyes approval: above 0, only versions with this many signed
  // approvals by distinct approvers of `approvers_file` serve.
  std::string approvers_file;
  int required_approvals = 0;
  // Champion / challenger: a second policy directory whose versions are
  // evaluated alongside for `challenger_share` of the customers ("10%").
  std::string challenger_dir;
  std::string challenger_share;
  // Prometheus metrics served over HTTP at this address (IP:port, e.g.
  // 127.0.0.1:9464 or [::1]:9464); empty: none, and nothing is recorded.
  std::string metrics_listen;
  // A client connection is told to go (GOAWAY) after this long, give or take
  // gRPC's own 10% jitter, so that clients behind L4 balancers reconnect and
  // spread over new replicas; 0: never. Calls in flight then have the grace
  // to finish before the connection is closed under them.
  int64_t max_connection_age_seconds = 300;
  int64_t max_connection_age_grace_seconds = 600;
};

// The longest --max_connection_age_seconds and its grace: a week.
inline constexpr int64_t kMaxConnectionAgeSeconds = 7 * 86400;

// Is `address` (host:port) on the loopback interface: 127.0.0.0/8, [::1] or
// localhost?
bool IsLoopback(const std::string& address);

// Returns InvalidArgument naming the first bad option: an address that is not
// host:port, an empty policy directory or audit path, a PostgreSQL
// connection string libpq does not parse or that holds a password, a
// replica id with a SQLite log or not a chain id, a message limit below
// 1 KiB or above 1 GiB, a default deadline below 0 or above one hour, a
// limit out of its range, TLS files given by halves (a certificate without
// its key, a client CA or CRLs without TLS), tokens without TLS or alongside
// a client CA, trusted balancers without a client CA, a connection age
// above a week or a grace outside 1 second..a week, an approvers file
// without a number of approvals (or the reverse) or a number out of 1..16, a
// challenger without its share (or the reverse) or a share that is not a
// percentage above 0 and at most 100, the challenger's directory being the
// policy directory, a metrics address that is not a numeric IP and a port
// (ValidateMetricsAddress); and, unless `insecure`, plaintext or no roles
// file on an address that is not
// loopback.
absl::Status Validate(const ServerOptions& options);

// --metrics_listen: empty, or an IPv4 address or a bracketed IPv6 address
// and a port 0..65535 (0 picks a free one); names, lists and anything else
// the HTTP server would read as options are refused.
absl::Status ValidateMetricsAddress(const std::string& address);

// InvalidArgument when the challenger's directory and the policy directory
// are one, or one holds the other (the policies are read recursively: one
// would serve the other's files), as the file system resolves them; an
// error naming the directory that cannot be resolved.
absl::Status CheckChallengerDirectory(const std::string& policy_dir,
                                      const std::string& challenger_dir);

}  // namespace creditd::server
