// creditd: the credit-decision gRPC server.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/checkpoint.h"
#include "audit/log_location.h"
#include "audit/pg_store.h"
#include "audit/sqlite_audit.h"
#include "creditd/version.h"
#include "engine/approvals.h"
#include "engine/evaluator.h"
#include "engine/file_system.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "prometheus/exposer.h"
#include "server/auth.h"
#include "server/metrics.h"
#include "server/policy_watch.h"
#include "server/server_options.h"
#include "server/services.h"
#include "server/tls_files.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "address to listen on, host:port (port 0 picks a free port, logged at start)");
ABSL_FLAG(std::string, policies, "policies", "directory of policy files to serve");
ABSL_FLAG(std::string, audit_db, "creditd-audit.db",
          "SQLite file of the audit log (short for --audit_store=sqlite:PATH)");
ABSL_FLAG(std::string, audit_store, "",
          "where the audit log lives: sqlite:PATH, or a PostgreSQL database shared by replicas, "
          "as a libpq connection string (host=... dbname=... user=...) or URI "
          "(postgresql://...), never holding a password (libpq's passfile=, PGPASSFILE or "
          "~/.pgpass); the schema comes first, from `creditctl audit migrate`. See "
          "docs/scaling.md");
ABSL_FLAG(std::string, replica_id, "",
          "this replica's chain in a PostgreSQL audit log: 1-64 of [A-Za-z0-9._-] (default: the "
          "host name); one process writes a chain");
ABSL_FLAG(std::string, audit_durability, "durable",
          "durable: every decision is committed to the audit log (fsync) before it is "
          "answered; async: answered once queued, faster, but a crash can lose the last "
          "decisions from the log, and so can a log that stays unwritable past SIGTERM's "
          "--drain_seconds (creditd then exits 3, naming how many)");
ABSL_FLAG(std::string, checkpoint_key, "",
          "Ed25519 private key (PEM, `openssl genpkey -algorithm ed25519`) that signs checkpoints "
          "of the audit log (log id, chain, record count, newest hash), so that records cut off "
          "or rewritten show in `creditctl audit verify --checkpoints`. Empty: no checkpoints");
ABSL_FLAG(std::string, checkpoint_dir, "",
          "where signed checkpoints are written, one small file each (default: AUDIT_DB "
          "followed by .checkpoints); ship them off the host");
ABSL_FLAG(int32_t, checkpoint_seconds, 60,
          "with --checkpoint_key, sign a checkpoint this often when the log has grown, and "
          "always at start and at exit");
ABSL_FLAG(int64_t, max_message_bytes, 4 << 20,
          "largest message gRPC accepts, in bytes; a larger one ends its call (a whole stream) "
          "with RESOURCE_EXHAUSTED");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of the server: serve TLS (needs --tls_key); the files are "
          "watched and reloaded when they change");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle for client certificates (mTLS): every client is asked for one, any "
          "given is verified, and the caller's identity is its URI SAN, else DNS SAN, else "
          "subject CN; a call without one is UNAUTHENTICATED (health and reflection excepted)");
ABSL_FLAG(std::string, tls_crl_dir, "",
          "directory of CRLs for client certificates, with hashed names (openssl rehash); a "
          "revoked certificate fails the handshake");
ABSL_FLAG(int32_t, tls_reload_seconds, 10,
          "how often the TLS files are checked for changes (a renewed certificate serves new "
          "connections after at most this long)");
ABSL_FLAG(std::string, roles, "",
          "roles file: lines `ROLE IDENTITY` granting evaluate (DecisionService), review "
          "(ListPolicies, GetPolicySource, ValidatePolicy) or admin (Reload); a method no role "
          "grants is denied; without it every caller has every role (loopback or --insecure "
          "only). Reloaded on SIGHUP");
ABSL_FLAG(std::string, tokens, "",
          "bearer tokens file (TLS without --tls_client_ca): lines `SHA256 IDENTITY`, the "
          "token's sha256 in hex, never the token; clients send `authorization: Bearer TOKEN`. "
          "Reloaded on SIGHUP");
ABSL_FLAG(std::string, trusted_balancers, "",
          "L7 balancers that end the client's TLS (mTLS only): a file of identities, one a "
          "line, of the balancers' own client certificates. A call from one of them must carry "
          "its client's certificate in x-ssl-client-der (DER, base64) and is made as that "
          "client, whose identity passes the roles and per-caller limits and is logged, with "
          "the balancer's as via; anyone else sending x-ssl-client-der is PERMISSION_DENIED. "
          "Reloaded on SIGHUP. See docs/scaling.md");
ABSL_FLAG(int64_t, max_connection_age_seconds, 300,
          "tell each client connection to go (HTTP/2 GOAWAY) after this many seconds, give or "
          "take gRPC's 10% jitter, so that clients behind an L4 balancer reconnect and spread "
          "over replicas added since (0: never). See docs/scaling.md");
ABSL_FLAG(int64_t, max_connection_age_grace_seconds, 600,
          "after --max_connection_age_seconds, how long calls in flight on the old connection "
          "may take to finish before it is closed under them: longer than the longest "
          "EvaluateStream run");
ABSL_FLAG(bool, insecure, false,
          "allow plaintext, or no --roles, on an address that is not loopback (logged as a "
          "warning)");
ABSL_FLAG(int64_t, max_request_bytes, 256 << 10,
          "largest EvaluateRequest, unary or one stream item, in bytes: larger ones get "
          "RESOURCE_EXHAUSTED (a stream item alone; the stream goes on)");
ABSL_FLAG(int32_t, max_facts, 256, "most facts in one request (INVALID_ARGUMENT beyond)");
ABSL_FLAG(int64_t, max_value_bytes, 256,
          "longest fact value text (decimal, enum symbol, date), in bytes; fact names, "
          "decision names and versions may be 128 bytes (INVALID_ARGUMENT beyond)");
ABSL_FLAG(int64_t, max_id_bytes, 128,
          "longest request_id and customer_id, in bytes (INVALID_ARGUMENT beyond; control "
          "characters are refused too)");
ABSL_FLAG(int32_t, max_streams, 64,
          "most EvaluateStream calls open at once (RESOURCE_EXHAUSTED beyond)");
ABSL_FLAG(int64_t, stream_window, 1024,
          "per stream, most requests read ahead of their answers being sent (also at most 8 "
          "MiB of them); past it the stream waits for the caller to read");
ABSL_FLAG(int64_t, max_calls_per_caller, 2048,
          "most calls in flight (unary calls not yet answered plus open streams) per caller "
          "identity (RESOURCE_EXHAUSTED beyond; 0: no limit)");
ABSL_FLAG(int64_t, audit_max_queue, 20000,
          "most decisions waiting to be written to the audit log; beyond, calls get "
          "UNAVAILABLE instead of memory growing while the disk stalls");
ABSL_FLAG(int64_t, default_deadline_ms, 10000,
          "Evaluate calls that carry no deadline are answered DEADLINE_EXCEEDED after this "
          "many milliseconds without an answer (0: never); a caller's own deadline always wins");
ABSL_FLAG(int32_t, watch_seconds, 0,
          "reload when a policy file changes, checking every N seconds, once the change has "
          "stayed the same for N seconds (0: off; SIGHUP and the Reload call always work). "
          "Write files under a dot-name and rename them into place");
ABSL_FLAG(std::string, effective_zone, "UTC",
          "the time zone (IANA name, e.g. Europe/Berlin) whose midnight a policy's effective "
          "date begins at: a scheduled version serves unpinned requests from that instant, "
          "with no reload");
ABSL_FLAG(std::string, approvers, "",
          "four-eyes approval: the trusted approvers file (lines `NAME BASE64_ED25519_KEY`, a "
          "name on one line per key); read again at every load, so an approver removed stops "
          "counting at the next reload. Needs --required_approvals");
ABSL_FLAG(
    int32_t, required_approvals, 0,
    "serve only versions with this many signed approvals (in approvals/ beside each "
    "policy file, `creditctl approve`) by distinct approvers of --approvers; a load holding any "
    "version with fewer is refused and the versions serving go on (0: no approval)");
ABSL_FLAG(std::string, challenger, "",
          "champion / challenger: a second policy directory, loaded and reloaded as --policies "
          "is (approvals included); for --challenger_share of the customers, its version in "
          "force of each decision is evaluated alongside and its result logged in the same "
          "record. Only the champion's answer is returned; requests pinning a version, or "
          "without a customer_id, get no challenger");
ABSL_FLAG(std::string, challenger_share, "",
          "the share of customers the challenger runs for, sticky by customer_id: a "
          "percentage with at most two decimals (10%, 2.5%)");
ABSL_FLAG(std::string, metrics_listen, "",
          "serve Prometheus metrics (text format, GET /metrics over plain HTTP) on this "
          "address, an IP and a port: 127.0.0.1:9464, [::1]:9464 (port 0 picks a free port, "
          "logged at start). Empty: no metrics endpoint, and nothing is recorded. The endpoint "
          "has no authentication: keep it on loopback, or on an address only Prometheus "
          "reaches");
ABSL_FLAG(int32_t, drain_seconds, 30, "on SIGTERM, how long in-flight calls may take to finish");
ABSL_FLAG(int32_t, max_threads, 0,
          "most threads gRPC's thread-per-call services (the health check) may use (0: gRPC's "
          "default); the decision and policy services run on gRPC's callback threads, about "
          "one per core, which this does not change");

namespace {

// Blocks SIGINT, SIGTERM, SIGHUP and SIGUSR1 in every thread; the main
// thread takes them with sigwait.
sigset_t BlockSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// The newest change under the policy directory, for --watch_seconds
// (engine::LatestChange never throws; an error is a value too, so that an
// unreadable subdirectory reloads once, and the reload reports it).
std::string Newest(const std::string& dir) {
  const absl::StatusOr<absl::Time> latest =
      creditd::engine::LatestChange(creditd::engine::FileSystem::Default(), dir);
  return latest.ok() ? absl::FormatTime(*latest) : latest.status().ToString();
}

// Protobuf's own log lines (one per request that is not valid UTF-8, say)
// would let any caller fill the server's log: they go to debug.
void ProtobufLog(google::protobuf::LogLevel level, const char* file, int line,
                 const std::string& message) {
  if (level >= google::protobuf::LOGLEVEL_FATAL) {
    spdlog::critical("protobuf {}:{}: {}", file, line, message);
  } else {
    spdlog::debug("protobuf {}:{}: {}", file, line, message);
  }
}

// Reloads the roles, tokens and trusted balancers files; on an error the
// ones in force stay.
void ReloadAccess(creditd::server::Authorizer& authorizer, const std::string& roles,
                  const std::string& tokens, const std::string& balancers) {
  auto access = creditd::server::AccessPolicy::Load(roles, tokens, balancers);
  if (!access.ok()) {
    spdlog::error("roles, tokens or trusted balancers rejected, the ones in force stay: {}",
                  access.status().ToString());
    return;
  }
  authorizer.Replace(*access);
  if (!roles.empty() || !tokens.empty() || !balancers.empty()) {
    spdlog::info("access: {} role grants, {}, {} trusted balancers", (*access)->grants(),
                 (*access)->has_tokens() ? "tokens" : "no tokens", (*access)->balancers());
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil is built without NDEBUG, which leaves absl::Mutex's
  // deadlock detection on: a lock-order graph updated on the locks of every
  // call (gRPC's own mutexes are absl::Mutex). A serving process does not pay
  // for a debugging aid; the tests' sanitizer builds keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(
      "creditd serves credit decisions over gRPC (credit.v1.DecisionService and\n"
      "PolicyService, grpc.health.v1, server reflection) and logs every decision.\n"
      "Usage: creditd [--listen=127.0.0.1:50051] [--policies=policies] "
      "[--audit_db=creditd-audit.db]\nSignals: SIGHUP reloads the policies; SIGUSR1 copies the "
      "audit "
      "log,\nwhich creditd holds exclusively, to AUDIT_DB.snapshot for readers; SIGTERM drains "
      "and exits.\nSee docs/operations.md.");
  absl::FlagsUsageConfig usage;
  usage.version_string = [] { return std::string("creditd ") + creditd::kVersion + "\n"; };
  // --help lists creditd's own flags (this file's), not abseil's or gRPC's.
  const auto ours = [](absl::string_view file) { return absl::EndsWith(file, "server/main.cc"); };
  usage.contains_help_flags = ours;
  usage.contains_helpshort_flags = ours;
  usage.normalize_filename = [](absl::string_view file) {
    const size_t at = file.rfind("server/main.cc");
    return std::string(at == absl::string_view::npos ? file : file.substr(at));
  };
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);
  // Logs go to standard error; standard output stays free.
  spdlog::set_default_logger(spdlog::stderr_color_mt("creditd"));
  google::protobuf::SetLogHandler(&ProtobufLog);

  creditd::server::ServerOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.policy_dir = absl::GetFlag(FLAGS_policies);
  options.audit_db = absl::GetFlag(FLAGS_audit_db);
  options.audit_store = absl::GetFlag(FLAGS_audit_store);
  options.replica_id = absl::GetFlag(FLAGS_replica_id);
  if (!options.audit_store.empty() &&
      absl::GetFlagReflectionHandle(FLAGS_audit_db).CurrentValue() !=
          absl::GetFlagReflectionHandle(FLAGS_audit_db).DefaultValue()) {
    spdlog::error("--audit_db and --audit_store both say where the audit log is: give one");
    return 2;
  }
  if (options.audit_store.empty()) options.audit_store = "sqlite:" + options.audit_db;
  if (creditd::audit::IsPostgresLocation(options.audit_store) && options.replica_id.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) != 0) {
      spdlog::error("cannot read the host name for --replica_id: give --replica_id");
      return 2;
    }
    options.replica_id = host;
  }
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.default_deadline_ms = absl::GetFlag(FLAGS_default_deadline_ms);
  options.tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls.key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  options.tls.crl_dir = absl::GetFlag(FLAGS_tls_crl_dir);
  options.tls.reload_seconds = absl::GetFlag(FLAGS_tls_reload_seconds);
  options.roles_file = absl::GetFlag(FLAGS_roles);
  options.tokens_file = absl::GetFlag(FLAGS_tokens);
  options.trusted_balancers_file = absl::GetFlag(FLAGS_trusted_balancers);
  options.max_connection_age_seconds = absl::GetFlag(FLAGS_max_connection_age_seconds);
  options.max_connection_age_grace_seconds = absl::GetFlag(FLAGS_max_connection_age_grace_seconds);
  options.insecure = absl::GetFlag(FLAGS_insecure);
  options.limits.max_request_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_request_bytes));
  options.limits.max_facts = absl::GetFlag(FLAGS_max_facts);
  options.limits.max_value_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_value_bytes));
  options.limits.max_id_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_id_bytes));
  options.limits.max_streams = absl::GetFlag(FLAGS_max_streams);
  options.limits.stream_window = static_cast<size_t>(absl::GetFlag(FLAGS_stream_window));
  options.limits.max_calls_per_caller = absl::GetFlag(FLAGS_max_calls_per_caller);
  options.audit_max_queue = static_cast<size_t>(absl::GetFlag(FLAGS_audit_max_queue));
  options.approvers_file = absl::GetFlag(FLAGS_approvers);
  options.required_approvals = absl::GetFlag(FLAGS_required_approvals);
  options.challenger_dir = absl::GetFlag(FLAGS_challenger);
  options.challenger_share = absl::GetFlag(FLAGS_challenger_share);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  if (absl::Status status = creditd::server::Validate(options); !status.ok()) {
    spdlog::error("{}", status.ToString());
    return 2;
  }
  if (!options.challenger_dir.empty()) {
    if (absl::Status status =
            creditd::server::CheckChallengerDirectory(options.policy_dir, options.challenger_dir);
        !status.ok()) {
      spdlog::error("{}", std::string(status.message()));
      return 2;
    }
  }
  if (options.required_approvals > 0) {
    // Read now for a clear start-up error; every load reads it again.
    absl::StatusOr<creditd::engine::Approvers> approvers = creditd::engine::ReadApprovers(
        creditd::engine::FileSystem::Default(), options.approvers_file);
    if (!approvers.ok()) {
      spdlog::error("--approvers {}: {}", options.approvers_file,
                    std::string(approvers.status().message()));
      return 2;
    }
    spdlog::info("serving only versions approved by {} distinct approvers of {} ({} trusted)",
                 options.required_approvals, options.approvers_file, approvers->keys.size());
  }
  const std::string durability = absl::GetFlag(FLAGS_audit_durability);
  if (durability != "durable" && durability != "async") {
    spdlog::error("--audit_durability must be durable or async, not `{}`", durability);
    return 2;
  }
  if (!creditd::server::IsLoopback(options.listen_address)) {
    if (!options.tls.enabled()) {
      spdlog::warn("--insecure: serving plaintext on {}, which is not a loopback address",
                   options.listen_address);
    }
    if (options.roles_file.empty()) {
      spdlog::warn(
          "--insecure: no --roles, so every caller on {} may evaluate, review and "
          "reload",
          options.listen_address);
    }
  } else if (options.roles_file.empty()) {
    spdlog::warn("no --roles: every caller may evaluate, review and reload (loopback only)");
  }
  if (options.tls.enabled()) {
    if (absl::Status status = creditd::server::CheckTlsFiles(options.tls); !status.ok()) {
      spdlog::error("{}", std::string(status.message()));
      return 2;
    }
  }
  auto access = creditd::server::AccessPolicy::Load(options.roles_file, options.tokens_file,
                                                    options.trusted_balancers_file);
  if (!access.ok()) {
    spdlog::error("{}", std::string(access.status().message()));
    return 2;
  }
  if ((*access)->balancers() > 0) {
    spdlog::info("trusting {} balancers of {} to forward their clients' certificates",
                 (*access)->balancers(), options.trusted_balancers_file);
  }
  const sigset_t signals = BlockSignals();
  // A write past the file-size limit must fail (and the log fail closed),
  // not kill the server.
  signal(SIGXFSZ, SIG_IGN);

  const std::string zone_name = absl::GetFlag(FLAGS_effective_zone);
  creditd::engine::RegistryOptions registry_options;
  if (!absl::LoadTimeZone(zone_name, &registry_options.zone)) {
    spdlog::error(
        "--effective_zone `{}` is not a time zone this system knows (an IANA name "
        "such as Europe/Berlin, or UTC)",
        zone_name);
    return 2;
  }
  // Metrics are recorded only when they are served.
  std::shared_ptr<creditd::server::ServerMetrics> metrics;
  if (!options.metrics_listen.empty()) {
    metrics = std::make_shared<creditd::server::ServerMetrics>();
  }
  creditd::audit::SqliteOptions audit_options;
  audit_options.durability = durability == "durable" ? creditd::audit::Durability::kDurable
                                                     : creditd::audit::Durability::kAsync;
  audit_options.max_pending = options.audit_max_queue;
  // Tests stand in for a stalled disk with this; see docs/operations.md.
  if (const char* stall = std::getenv("CREDITD_TEST_STALL_LOG_WHILE"); stall != nullptr) {
    audit_options.stall_while_file_exists = stall;
  }
  // The log's failures are told when they start and when they end, in
  // either durability mode (async answers do not wait to hear of them).
  audit_options.on_state = [](const absl::Status& status) {
    if (status.ok()) {
      spdlog::info("audit log writable again, serving decisions");
    } else {
      spdlog::error("audit log cannot be written, refusing decisions: {}", status.ToString());
    }
  };
  audit_options.on_record_failed = [](const creditd::audit::AuditRecord& record,
                                      const absl::Status& status) {
    spdlog::error("decision {} was not logged: {}", creditd::engine::EchoText(record.decision_id),
                  status.ToString());
  };
  if (metrics != nullptr) {
    creditd::server::ServerMetrics* m = metrics.get();
    audit_options.on_group_commit = [m](const creditd::audit::GroupCommit& group) {
      m->OnGroupCommit(group);
    };
    audit_options.on_records_dropped = [m](size_t records) { m->OnRecordsDropped(records); };
  }
  const bool shared_log = creditd::audit::IsPostgresLocation(options.audit_store);
  const std::string log_shown = creditd::audit::LocationForDisplay(options.audit_store);
  std::unique_ptr<creditd::audit::LogSink> audit;
  creditd::audit::SqliteAuditSink* sqlite_log = nullptr;  // audit's, for snapshots
  if (shared_log) {
    creditd::audit::PgStoreOptions store_options;
    store_options.durability = audit_options.durability;
    store_options.chain_id = options.replica_id;
    auto store = creditd::audit::PgStore::Open(options.audit_store, store_options);
    auto opened = store.ok()
                      ? creditd::audit::LogSink::Open(*std::move(store), audit_options)
                      : absl::StatusOr<std::unique_ptr<creditd::audit::LogSink>>(store.status());
    if (!opened.ok()) {
      spdlog::error("cannot open the audit log {}: {}", log_shown, opened.status().ToString());
      return 1;
    }
    audit = *std::move(opened);
    spdlog::info("audit log {}, chain {} ({})", log_shown, options.replica_id, durability);
  } else {
    auto opened = creditd::audit::SqliteAuditSink::Open(
        creditd::audit::SqlitePathOf(options.audit_store), audit_options);
    if (!opened.ok()) {
      spdlog::error("cannot open the audit log: {}", opened.status().ToString());
      return 1;
    }
    sqlite_log = opened->get();
    audit = *std::move(opened);
    spdlog::info("audit log {} ({})", log_shown, durability);
  }

  // Signed checkpoints of the log, written outside it.
  std::unique_ptr<creditd::audit::Checkpointer> checkpointer;
  if (const std::string key_file = absl::GetFlag(FLAGS_checkpoint_key); !key_file.empty()) {
    absl::StatusOr<creditd::audit::CheckpointKey> key =
        creditd::audit::CheckpointKey::FromPrivateKeyFile(key_file);
    if (!key.ok()) {
      spdlog::error("{}", std::string(key.status().message()));
      return 2;
    }
    const int32_t seconds = absl::GetFlag(FLAGS_checkpoint_seconds);
    if (seconds < 1) {
      spdlog::error("--checkpoint_seconds must be at least 1, not {}", seconds);
      return 2;
    }
    creditd::audit::CheckpointerOptions checkpoint_options;
    checkpoint_options.dir = absl::GetFlag(FLAGS_checkpoint_dir);
    if (checkpoint_options.dir.empty() && shared_log) {
      spdlog::error(
          "--checkpoint_dir is required with a PostgreSQL audit log: the checkpoints are kept "
          "outside the database they vouch for");
      return 2;
    }
    if (checkpoint_options.dir.empty()) {
      checkpoint_options.dir = creditd::audit::SqlitePathOf(options.audit_store) + ".checkpoints";
    }
    checkpoint_options.interval = absl::Seconds(seconds);
    checkpoint_options.on_written = [](const std::string& file) {
      spdlog::debug("checkpoint written: {}", file);
    };
    checkpoint_options.on_error = [](const absl::Status& status) {
      spdlog::error("{}", std::string(status.message()));
    };
    const std::string key_id = key->id();
    creditd::audit::LogSink* sink = audit.get();
    checkpointer = std::make_unique<creditd::audit::Checkpointer>(
        *std::move(key), sink->identity(), [sink] { return sink->Committed(); },
        checkpoint_options);
    if (absl::Status status = checkpointer->Start(); !status.ok()) {
      spdlog::error("{}", std::string(status.message()));
      return 2;
    }
    spdlog::info("signing checkpoints of log {} with key {} into {} every {} s",
                 sink->identity().log_id, key_id, checkpoint_options.dir, seconds);
  } else {
    spdlog::warn(
        "no --checkpoint_key: the audit log is not checkpointed, so records cut off or a "
        "rewritten log would not show");
  }

  creditd::server::ServingState state(options.limits, options.policy_dir,
                                      std::move(registry_options));
  state.audit = audit.get();
  state.default_deadline = absl::Milliseconds(options.default_deadline_ms);
  state.approvers_file = options.approvers_file;
  state.required_approvals = options.required_approvals;
  if (!options.challenger_dir.empty()) {
    state.challenger = std::make_unique<creditd::server::Challenger>(
        options.challenger_dir, *creditd::server::ParseChallengerShare(options.challenger_share));
  }
  state.authorizer.Replace(*access);
  state.metrics = metrics.get();
  // Every version ever served stays pinnable, and names its text forever.
  if (absl::Status status = creditd::server::RestoreVersions(state); !status.ok()) {
    spdlog::error("the policy versions in the audit log do not rebuild; not starting: {}",
                  status.ToString());
    return 1;
  }
  spdlog::info("effective dates begin at midnight in {}", zone_name);
  if (creditd::server::ReloadBundle(state, "start").bundle == nullptr) {
    spdlog::error("the policies in {} do not load; not starting", options.policy_dir);
    return 1;
  }
  if (state.challenger != nullptr && state.challenger->Current() == nullptr) {
    spdlog::error("the challenger's policies in {} do not load; not starting",
                  options.challenger_dir);
    return 1;
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  creditd::server::DecisionServiceImpl decisions(state);
  creditd::server::PolicyServiceImpl policies(state);
  grpc::ServerBuilder builder;
  int port = 0;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (options.tls.enabled()) {
    auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        options.tls.key_file, options.tls.cert_file, options.tls.client_ca_file,
        static_cast<unsigned int>(options.tls.reload_seconds));
    grpc::experimental::TlsServerCredentialsOptions tls(provider);
    tls.watch_identity_key_cert_pairs();
    if (!options.tls.client_ca_file.empty()) {
      tls.watch_root_certs();
      // Asked for and verified when given; a call without one is refused
      // UNAUTHENTICATED by its handler, so that health probes still work.
      tls.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
      if (!options.tls.crl_dir.empty()) tls.set_crl_directory(options.tls.crl_dir);
    }
    credentials = grpc::experimental::TlsServerCredentials(tls);
  }
  builder.AddListeningPort(options.listen_address, credentials, &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  // gRPC shares ports (SO_REUSEPORT) by default: a second creditd on the same
  // address would start and silently take half the calls, logging to another
  // file. Refuse instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Connections do not live forever: a client behind an L4 balancer keeps
  // its connection, and so its replica, until told to go (docs/scaling.md).
  if (options.max_connection_age_seconds > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               static_cast<int>(options.max_connection_age_seconds * 1000));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               static_cast<int>(options.max_connection_age_grace_seconds * 1000));
  }
  grpc::ResourceQuota quota("creditd");
  if (const int threads = absl::GetFlag(FLAGS_max_threads); threads > 0) {
    quota.SetMaxThreads(threads);
    builder.SetResourceQuota(quota);
  }
  builder.RegisterService(&decisions);
  builder.RegisterService(&policies);
  // The metrics endpoint, before gRPC serves: a port that cannot be bound
  // stops the start.
  std::unique_ptr<prometheus::Exposer> exposer;
  if (metrics != nullptr) {
    creditd::audit::LogSink* sink = audit.get();
    metrics->WatchLog([sink] { return sink->QueueDepth(); }, options.audit_max_queue);
    metrics->WatchServing(&state);
    // The health check and reflection are counted by an interceptor;
    // creditd's own services count their calls themselves.
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> counting;
    counting.push_back(metrics->InterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(counting));
    try {
      exposer = std::make_unique<prometheus::Exposer>(options.metrics_listen, 2);
    } catch (const std::exception& e) {
      spdlog::error(
          "cannot serve metrics on {} (in use by another process, or not a local "
          "address): {}",
          options.metrics_listen, e.what());
      metrics->WatchServing(nullptr);
      return 1;
    }
    exposer->RegisterCollectable(metrics);
    const std::vector<int> ports = exposer->GetListeningPorts();
    const std::string metrics_host =
        options.metrics_listen.substr(0, options.metrics_listen.rfind(':'));
    spdlog::info("metrics on http://{}:{}/metrics", metrics_host,
                 ports.empty() ? -1 : ports.front());
    if (!creditd::server::IsLoopback(options.metrics_listen)) {
      spdlog::warn(
          "--metrics_listen {} is not a loopback address: anyone who reaches it reads the "
          "metrics (policy names and versions, call and decision counts)",
          options.metrics_listen);
    }
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    spdlog::error("cannot listen on {} (in use by another process, or not a local address)",
                  options.listen_address);
    return 1;
  }
  const std::string host = options.listen_address.substr(0, options.listen_address.rfind(':'));
  spdlog::info(
      "creditd {} listening on {}:{} ({})", creditd::kVersion, host, port,
      options.tls.client_ca_file.empty() ? (options.tls.enabled() ? "TLS" : "plaintext") : "mTLS");
  // Probes may ask for the whole server ("") or for either service.
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (health != nullptr) {
    for (const char* service : {"credit.v1.DecisionService", "credit.v1.PolicyService"}) {
      health->SetServingStatus(service, true);
    }
  }

  std::atomic<bool> stopping{false};
  std::thread watcher;
  if (const int every = absl::GetFlag(FLAGS_watch_seconds); every > 0) {
    // `every` by value: it ends with this if statement.
    watcher = std::thread([&, every] {
      // A change is loaded once it has settled for a whole period.
      // The challenger's directory is watched as the policies' is: either
      // changing reloads both.
      auto newest = [&options] {
        return options.challenger_dir.empty()
                   ? Newest(options.policy_dir)
                   : Newest(options.policy_dir) + " " + Newest(options.challenger_dir);
      };
      creditd::server::SettledChange change(newest());
      while (!stopping) {
        for (int i = 0; i < every * 10 && !stopping; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        if (!stopping && change.Due(newest())) {
          spdlog::info("policy files changed, reloading");
          creditd::server::ReloadBundle(state, "watch");
        }
      }
    });
  }

  while (true) {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signal == SIGHUP) {
      spdlog::info(
          "SIGHUP: reloading policies, roles, tokens and trusted balancers, checking "
          "certificates");
      creditd::server::ReloadBundle(state, "signal");
      ReloadAccess(state.authorizer, options.roles_file, options.tokens_file,
                   options.trusted_balancers_file);
      if (options.tls.enabled()) {
        // The files are watched; a bad renewal must not go unnoticed.
        if (absl::Status status = creditd::server::CheckTlsFiles(options.tls); !status.ok()) {
          spdlog::error("{}; connections keep the certificate loaded before",
                        std::string(status.message()));
        }
      }
      continue;
    }
    if (signal == SIGUSR1 && sqlite_log == nullptr) {
      spdlog::info("SIGUSR1: the PostgreSQL audit log is read where it is; no snapshot to copy");
      continue;
    }
    if (signal == SIGUSR1) {
      const std::string snapshot = creditd::audit::SqlitePathOf(options.audit_store) + ".snapshot";
      spdlog::info("SIGUSR1: copying the audit log to {}", snapshot);
      sqlite_log->Snapshot(snapshot, [snapshot](absl::Status status) {
        if (status.ok()) {
          spdlog::info("audit log snapshot written: {}", snapshot);
        } else {
          spdlog::error("audit log snapshot {} not written: {}", snapshot,
                        std::string(status.message()));
        }
      });
      continue;
    }
    spdlog::info("signal {}: draining", signal);
    break;
  }
  stopping = true;
  // Drain: health says NOT_SERVING and new calls are refused (UNAVAILABLE),
  // so balancers and callers go elsewhere; calls in flight finish, for at most
  // --drain_seconds. gRPC's own Shutdown would also wait out the whole drain
  // time for every idle client connection to close, so it comes after, with
  // a short grace for the last answers to leave.
  state.draining = true;
  if (health != nullptr) health->SetServingStatus(false);
  const auto drain_until =
      std::chrono::steady_clock::now() + std::chrono::seconds(absl::GetFlag(FLAGS_drain_seconds));
  while (state.in_flight > 0 && std::chrono::steady_clock::now() < drain_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (const int64_t left = state.in_flight; left > 0) {
    spdlog::warn("{} calls still in flight after --drain_seconds; cancelling them", left);
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  server->Wait();
  // Scrapes stop before what they read goes.
  exposer.reset();
  if (metrics != nullptr) metrics->WatchServing(nullptr);
  if (watcher.joinable()) watcher.join();
  // Whatever the log still holds is written, waiting for a failing log at
  // most --drain_seconds; answered decisions it could not write are named.
  const absl::Status closed = audit->Close(absl::Seconds(absl::GetFlag(FLAGS_drain_seconds)));
  // The last checkpoint signs everything written.
  if (checkpointer != nullptr) {
    if (absl::Status status = checkpointer->Stop(); !status.ok()) {
      spdlog::error("{}", std::string(status.message()));
    }
    checkpointer.reset();
  }
  audit.reset();
  if (absl::IsDataLoss(closed)) {
    spdlog::error("creditd stopped: {}", std::string(closed.message()));
    return 3;
  }
  if (!closed.ok()) spdlog::warn("{}", std::string(closed.message()));
  if (state.challenger != nullptr) {
    const creditd::server::Challenger::Counts counts = state.challenger->counts();
    spdlog::info(
        "challenger: evaluated alongside {} decisions; {} disagreed with the champion, {} of "
        "them not decided by the challenger",
        counts.evaluated, counts.disagreed, counts.failed);
  }
  spdlog::info("creditd stopped");
  return 0;
}
