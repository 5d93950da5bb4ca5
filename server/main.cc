// creditd: the credit-decision gRPC server.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/sqlite_audit.h"
#include "creditd/version.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "server/server_options.h"
#include "server/services.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "address to listen on, host:port (port 0 picks a free port, logged at start)");
ABSL_FLAG(std::string, policies, "policies", "directory of policy files to serve");
ABSL_FLAG(std::string, audit_db, "creditd-audit.db", "SQLite file of the audit log");
ABSL_FLAG(std::string, audit_durability, "durable",
          "durable: every decision is committed to the audit log (fsync) before it is "
          "answered; async: answered once queued, faster, but a crash can lose the last "
          "decisions from the log");
ABSL_FLAG(int64_t, max_message_bytes, 4 << 20, "largest request accepted, in bytes");
ABSL_FLAG(int64_t, default_deadline_ms, 10000,
          "Evaluate calls that carry no deadline are answered DEADLINE_EXCEEDED after this "
          "many milliseconds without an answer (0: never); a caller's own deadline always wins");
ABSL_FLAG(int32_t, watch_seconds, 0,
          "reload when a policy file changes, checking every N seconds (0: off; SIGHUP and "
          "the Reload call always work)");
ABSL_FLAG(int32_t, drain_seconds, 30, "on SIGTERM, how long in-flight calls may take to finish");
ABSL_FLAG(int32_t, max_threads, 0,
          "most threads gRPC's thread-per-call services (the health check) may use (0: gRPC's "
          "default); the decision and policy services run on gRPC's callback threads, about "
          "one per core, which this does not change");

namespace {

// Blocks SIGINT, SIGTERM and SIGHUP in every thread; the main thread takes
// them with sigwait.
sigset_t BlockSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// The newest modification time of `dir` and anything under it, for
// --watch_seconds. Directories count too: removing or renaming a file
// changes its directory's time, not any file's.
std::filesystem::file_time_type Newest(const std::string& dir) {
  std::error_code error;
  // Start from the directory itself, not from file_time_type{}: the file
  // clock's epoch lies in the future, so real times are negative.
  std::filesystem::file_time_type newest = std::filesystem::last_write_time(dir, error);
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, error)) {
    newest = std::max(newest, e.last_write_time(error));
  }
  return newest;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "creditd serves credit decisions over gRPC (credit.v1.DecisionService and\n"
      "PolicyService, grpc.health.v1, server reflection) and logs every decision.\n"
      "Usage: creditd [--listen=127.0.0.1:50051] [--policies=policies] "
      "[--audit_db=creditd-audit.db]\nSignals: SIGHUP reloads the policies; SIGTERM drains and "
      "exits. See docs/operations.md.");
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

  creditd::server::ServerOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.policy_dir = absl::GetFlag(FLAGS_policies);
  options.audit_db = absl::GetFlag(FLAGS_audit_db);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.default_deadline_ms = absl::GetFlag(FLAGS_default_deadline_ms);
  if (absl::Status status = creditd::server::Validate(options); !status.ok()) {
    spdlog::error("{}", status.ToString());
    return 2;
  }
  const std::string durability = absl::GetFlag(FLAGS_audit_durability);
  if (durability != "durable" && durability != "async") {
    spdlog::error("--audit_durability must be durable or async, not `{}`", durability);
    return 2;
  }
  const sigset_t signals = BlockSignals();
  // A write past the file-size limit must fail (and the log fail closed),
  // not kill the server.
  signal(SIGXFSZ, SIG_IGN);

  creditd::audit::SqliteOptions audit_options;
  audit_options.durability = durability == "durable" ? creditd::audit::Durability::kDurable
                                                     : creditd::audit::Durability::kAsync;
  auto audit = creditd::audit::SqliteAuditSink::Open(options.audit_db, audit_options);
  if (!audit.ok()) {
    spdlog::error("cannot open the audit log: {}", audit.status().ToString());
    return 1;
  }
  spdlog::info("audit log {} ({})", options.audit_db, durability);

  creditd::server::ServingState state;
  state.audit = audit->get();
  state.policy_dir = options.policy_dir;
  state.default_deadline = absl::Milliseconds(options.default_deadline_ms);
  if (creditd::server::ReloadBundle(state).bundle == nullptr) {
    spdlog::error("the policies in {} do not load; not starting", options.policy_dir);
    return 1;
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  creditd::server::DecisionServiceImpl decisions(state);
  creditd::server::PolicyServiceImpl policies(state);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen_address, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  // gRPC shares ports (SO_REUSEPORT) by default: a second creditd on the same
  // address would start and silently take half the calls, logging to another
  // file. Refuse instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  grpc::ResourceQuota quota("creditd");
  if (const int threads = absl::GetFlag(FLAGS_max_threads); threads > 0) {
    quota.SetMaxThreads(threads);
    builder.SetResourceQuota(quota);
  }
  builder.RegisterService(&decisions);
  builder.RegisterService(&policies);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    spdlog::error("cannot listen on {} (in use by another process, or not a local address)",
                  options.listen_address);
    return 1;
  }
  const std::string host = options.listen_address.substr(0, options.listen_address.rfind(':'));
  spdlog::info("creditd {} listening on {}:{}", creditd::kVersion, host, port);

  std::atomic<bool> stopping{false};
  std::thread watcher;
  if (const int every = absl::GetFlag(FLAGS_watch_seconds); every > 0) {
    // `every` by value: it ends with this if statement.
    watcher = std::thread([&, every] {
      auto seen = Newest(options.policy_dir);
      while (!stopping) {
        for (int i = 0; i < every * 10 && !stopping; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        const auto now = Newest(options.policy_dir);
        if (now != seen) {
          seen = now;
          spdlog::info("policy files changed, reloading");
          creditd::server::ReloadBundle(state);
        }
      }
    });
  }

  while (true) {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signal == SIGHUP) {
      spdlog::info("SIGHUP: reloading policies");
      creditd::server::ReloadBundle(state);
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
  if (grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
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
  if (watcher.joinable()) watcher.join();
  if (absl::Status status = (*audit)->Flush(); !status.ok()) {
    spdlog::error("audit log not fully written at exit: {}", status.ToString());
  }
  audit->reset();
  spdlog::info("creditd stopped");
  return 0;
}
