// creditd: the credit-decision gRPC server.
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "credit/v1/creditd.grpc.pb.h"
#include "creditd/version.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "server/server_options.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051", "address to listen on, host:port");
ABSL_FLAG(std::string, policies, "policies", "directory of policy files to serve");
ABSL_FLAG(std::string, audit_db, "creditd-audit.db", "SQLite file of the audit log");
ABSL_FLAG(int64_t, max_message_bytes, 4 << 20, "largest request accepted, in bytes");

namespace {

// Blocks SIGINT and SIGTERM in every thread; WaitForStopSignal() takes them.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "creditd serves credit decisions over gRPC.\n"
      "Usage: creditd [--listen=127.0.0.1:50051] [--policies=policies] "
      "[--audit_db=creditd-audit.db]");
  absl::FlagsUsageConfig usage;
  usage.version_string = [] { return std::string("creditd ") + creditd::kVersion + "\n"; };
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);

  creditd::server::ServerOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.policy_dir = absl::GetFlag(FLAGS_policies);
  options.audit_db = absl::GetFlag(FLAGS_audit_db);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  if (absl::Status status = creditd::server::Validate(options); !status.ok()) {
    spdlog::error("{}", status.ToString());
    return 2;
  }

  sqlite3* db = nullptr;
  if (sqlite3_open(options.audit_db.c_str(), &db) != SQLITE_OK) {
    spdlog::error("cannot open the audit log {}: {}", options.audit_db, sqlite3_errmsg(db));
    sqlite3_close(db);
    return 1;
  }

  const sigset_t stop_signals = BlockStopSignals();
  grpc::EnableDefaultHealthCheckService(true);
  // Until the decision service is implemented, every call answers UNIMPLEMENTED.
  credit::v1::DecisionService::Service decisions;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen_address, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.RegisterService(&decisions);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    spdlog::error("cannot listen on {}", options.listen_address);
    sqlite3_close(db);
    return 1;
  }
  spdlog::info("creditd {} listening on port {} (policies: {}, audit log: {})", creditd::kVersion,
               port, options.policy_dir, options.audit_db);
  std::thread stopper([&server, stop_signals] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    spdlog::info("received signal {}, draining", signal);
    server->Shutdown();
  });
  server->Wait();
  stopper.join();
  sqlite3_close(db);
  spdlog::info("creditd stopped");
  return 0;
}
