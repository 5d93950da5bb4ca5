#include "server/server_options.h"

#include "gtest/gtest.h"

namespace creditd::server {
namespace {

TEST(ServerOptionsTest, DefaultsAreValid) { EXPECT_TRUE(Validate(ServerOptions{}).ok()); }

TEST(ServerOptionsTest, RejectsAddressWithoutPort) {
  ServerOptions options;
  options.listen_address = "localhost";
  absl::Status status = Validate(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("host:port"), std::string::npos);
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

}  // namespace
}  // namespace creditd::server
