#include "server/server_options.h"

#include "gtest/gtest.h"

namespace creditd::server {
namespace {

TEST(ServerOptionsTest, DefaultsAreValid) { EXPECT_TRUE(Validate(ServerOptions{}).ok()); }

TEST(ServerOptionsTest, ApprovalIsNeverHalfConfigured) {
  ServerOptions options;
  options.approvers_file = "approvers";
  absl::Status status = Validate(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("--required_approvals"), std::string::npos);
  options.required_approvals = 2;
  EXPECT_TRUE(Validate(options).ok());
  options.required_approvals = kMaxRequiredApprovals + 1;
  EXPECT_FALSE(Validate(options).ok());
  options.required_approvals = -1;
  EXPECT_FALSE(Validate(options).ok());
  options.approvers_file.clear();
  options.required_approvals = 1;
  status = Validate(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("--approvers"), std::string::npos);
}

TEST(ServerOptionsTest, ConnectionAgeAndItsGraceAreBounded) {
  ServerOptions options;
  EXPECT_EQ(options.max_connection_age_seconds, 300);
  EXPECT_GT(options.max_connection_age_grace_seconds, options.default_deadline_ms / 1000);
  options.max_connection_age_seconds = 0;  // off
  EXPECT_TRUE(Validate(options).ok());
  options.max_connection_age_seconds = kMaxConnectionAgeSeconds + 1;
  absl::Status status = Validate(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("--max_connection_age_seconds"), std::string::npos);
  options.max_connection_age_seconds = 1;
  options.max_connection_age_grace_seconds = 0;  // would cut every call in flight
  status = Validate(options);
  EXPECT_NE(status.message().find("--max_connection_age_grace_seconds"), std::string::npos);
  options.max_connection_age_grace_seconds = -5;
  EXPECT_FALSE(Validate(options).ok());
  options.max_connection_age_grace_seconds = kMaxConnectionAgeSeconds;
  EXPECT_TRUE(Validate(options).ok());
}

TEST(ServerOptionsTest, TrustedBalancersNeedMutualTls) {
  ServerOptions options;
  options.trusted_balancers_file = "balancers";
  absl::Status status = Validate(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("--trusted_balancers needs mTLS"), std::string::npos);
  options.tls.cert_file = "server.pem";
  options.tls.key_file = "server.key";
  EXPECT_FALSE(Validate(options).ok());  // TLS, but no client certificates
  options.tls.client_ca_file = "ca.pem";
  EXPECT_TRUE(Validate(options).ok());
}

TEST(ServerOptionsTest, RejectsAddressWithoutPort) {
  ServerOptions options;
  options.listen_address = "localhost";
  absl::Status status = Validate(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("host:port"), std::string::npos);
}

// A flags file line with a trailing space is refused where it is read,
// not later when the address cannot be listened on.
TEST(ServerOptionsTest, APortIsDigitsOnly) {
  ServerOptions options;
  for (const char* address : {"127.0.0.1:50051 ", "127.0.0.1: 50051", "127.0.0.1:+50051",
                              "127.0.0.1:", "127.0.0.1:000050051"}) {
    options.listen_address = address;
    EXPECT_EQ(Validate(options).code(), absl::StatusCode::kInvalidArgument) << address;
  }
  options.listen_address = "127.0.0.1:50051";
  EXPECT_TRUE(Validate(options).ok());
}

// A PostgreSQL log's connection string never carries a password, and a
// replica id names a chain of one.
TEST(ServerOptionsTest, SharedLogLocationAndReplicaId) {
  ServerOptions options;
  options.audit_store = "host=db dbname=creditd user=creditd password=secret";
  absl::Status status = Validate(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message().find("secret"), std::string::npos) << status;
  options.audit_store = "postgresql://creditd:secret@db/creditd";
  EXPECT_EQ(Validate(options).code(), absl::StatusCode::kInvalidArgument);
  options.audit_store = "host=db dbname=creditd user=creditd";
  options.replica_id = "replica-1";
  EXPECT_TRUE(Validate(options).ok());
  options.replica_id = "replica 1";
  EXPECT_EQ(Validate(options).code(), absl::StatusCode::kInvalidArgument);
  options.audit_store = "sqlite:/var/lib/creditd/audit.db";
  options.replica_id = "replica-1";
  EXPECT_EQ(Validate(options).code(), absl::StatusCode::kInvalidArgument);
  options.replica_id = "";
  EXPECT_TRUE(Validate(options).ok());
}

TEST(ServerOptionsTest, RejectsBadPortAndLimits) {
  ServerOptions options;
  options.listen_address = "127.0.0.1:99999";
  EXPECT_FALSE(Validate(options).ok());
  options.listen_address = "[::1]:0";
  EXPECT_TRUE(Validate(options).ok());
  options.max_message_bytes = 10;
  EXPECT_FALSE(Validate(options).ok());
}

TEST(ServerOptionsTest, DefaultDeadlineIsBounded) {
  ServerOptions options;
  options.default_deadline_ms = 0;  // none
  EXPECT_TRUE(Validate(options).ok());
  options.default_deadline_ms = -1;
  EXPECT_NE(Validate(options).message().find("--default_deadline_ms"), std::string::npos);
  options.default_deadline_ms = 3600 * 1000 + 1;
  EXPECT_FALSE(Validate(options).ok());
}

TEST(ServerOptionsTest, KnowsLoopbackAddresses) {
  for (const char* address : {"127.0.0.1:1", "127.1.2.3:50051", "localhost:0", "[::1]:80"}) {
    EXPECT_TRUE(IsLoopback(address)) << address;
  }
  for (const char* address : {"0.0.0.0:1", "[::]:1", "10.0.0.1:1", "127.0.0.1.example:1",
                              "128.0.0.1:1", "127.0.0:1", "example.com:1"}) {
    EXPECT_FALSE(IsLoopback(address)) << address;
  }
}

TEST(ServerOptionsTest, PlaintextOrNoRolesOffLoopbackNeedInsecure) {
  ServerOptions options;
  options.listen_address = "0.0.0.0:50051";
  EXPECT_NE(Validate(options).message().find("--tls_cert"), std::string::npos);
  options.tls.cert_file = "server.pem";
  options.tls.key_file = "server.key";
  EXPECT_NE(Validate(options).message().find("--roles"), std::string::npos);
  options.roles_file = "roles";
  EXPECT_TRUE(Validate(options).ok());
  ServerOptions plaintext;
  plaintext.listen_address = "0.0.0.0:50051";
  plaintext.insecure = true;
  EXPECT_TRUE(Validate(plaintext).ok());
}

TEST(ServerOptionsTest, TlsFilesGoTogether) {
  ServerOptions options;
  options.tls.cert_file = "server.pem";
  EXPECT_FALSE(Validate(options).ok());
  options.tls.key_file = "server.key";
  EXPECT_TRUE(Validate(options).ok());
  options.tls.crl_dir = "crl";
  EXPECT_NE(Validate(options).message().find("--tls_client_ca"), std::string::npos);
  options.tls.client_ca_file = "ca.pem";
  EXPECT_TRUE(Validate(options).ok());
  options.tokens_file = "tokens";
  EXPECT_FALSE(Validate(options).ok());  // tokens are for TLS without client certificates
  ServerOptions tokens_plain;
  tokens_plain.tokens_file = "tokens";
  EXPECT_NE(Validate(tokens_plain).message().find("TLS"), std::string::npos);
  ServerOptions client_ca_alone;
  client_ca_alone.tls.client_ca_file = "ca.pem";
  EXPECT_FALSE(Validate(client_ca_alone).ok());
}

TEST(ServerOptionsTest, LimitsAreBounded) {
  ServerOptions options;
  options.limits.max_request_bytes = options.max_message_bytes + 1;
  EXPECT_NE(Validate(options).message().find("--max_request_bytes"), std::string::npos);
  options = ServerOptions{};
  options.limits.max_streams = 0;
  EXPECT_NE(Validate(options).message().find("--max_streams"), std::string::npos);
}

TEST(ServerOptionsTest, MetricsAddressIsAnIpAndAPortOrNothing) {
  ServerOptions options;
  EXPECT_TRUE(options.metrics_listen.empty());  // off by default
  for (const char* good :
       {"127.0.0.1:9464", "127.0.0.1:0", "[::1]:9464", "0.0.0.0:9464", "10.1.2.3:65535"}) {
    options.metrics_listen = good;
    EXPECT_TRUE(Validate(options).ok()) << good;
  }
  // Names, lists, civetweb's own suffixes and options, bad ports.
  for (const char* bad :
       {"9464", "localhost:9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:9464s",
        "127.0.0.1:80,127.0.0.1:81", "127.0.0.1:+80", "::1:9464", "[::1]", "[not-ip]:9464",
        "1.2.3:9464", ":9464", "127.0.0.1:000009464"}) {
    options.metrics_listen = bad;
    const absl::Status status = Validate(options);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(status.message().find("--metrics_listen"), std::string::npos) << status;
  }
}

}  // namespace
}  // namespace creditd::server
