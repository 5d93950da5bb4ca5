#include "server/auth.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/ascii.h"
#include "credit/v1/creditd.pb.h"
#include "crypto/sha256.h"
#include "engine/evaluator.h"
#include "gtest/gtest.h"

namespace creditd::server {
namespace {

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

// Every method of the API has a role: a method added without one would be
// denied to everyone while roles are enforced, and this test names it.
TEST(AuthTest, EveryApiMethodHasARole) {
  const google::protobuf::FileDescriptor* file = credit::v1::EvaluateRequest::descriptor()->file();
  int methods = 0;
  for (int s = 0; s < file->service_count(); ++s) {
    const google::protobuf::ServiceDescriptor* service = file->service(s);
    for (int m = 0; m < service->method_count(); ++m) {
      const std::string name = "/" + service->full_name() + "/" + service->method(m)->name();
      EXPECT_TRUE(RoleFor(name).has_value()) << name << " has no role";
      ++methods;
    }
  }
  EXPECT_EQ(static_cast<size_t>(methods), MethodsWithRoles().size());
  EXPECT_FALSE(RoleFor("/credit.v1.PolicyService/Added").has_value());
  EXPECT_EQ(*RoleFor("/credit.v1.PolicyService/Reload"), Role::kAdmin);
  EXPECT_EQ(*RoleFor("/credit.v1.DecisionService/EvaluateStream"), Role::kEvaluate);
  // A client team learns the contract with the role it calls with.
  EXPECT_EQ(*RoleFor("/credit.v1.PolicyService/DescribeDecision"), Role::kEvaluate);
}

TEST(AuthTest, ReadsRolesWithIdentitiesThatHoldSpaces) {
  const std::string roles = WriteFile("roles", R"(# comment
evaluate   spiffe://example.test/orders
admin	Credit Operations
review Credit Operations

)");
  auto policy = AccessPolicy::Load(roles, "");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_TRUE((*policy)->enforced());
  EXPECT_TRUE((*policy)->Allows("spiffe://example.test/orders", Role::kEvaluate));
  EXPECT_FALSE((*policy)->Allows("spiffe://example.test/orders", Role::kAdmin));
  EXPECT_TRUE((*policy)->Allows("Credit Operations", Role::kAdmin));
  EXPECT_TRUE((*policy)->Allows("Credit Operations", Role::kReview));
  EXPECT_FALSE((*policy)->Allows("Credit Operations", Role::kEvaluate));
  EXPECT_FALSE((*policy)->Allows("someone", Role::kEvaluate));
}

TEST(AuthTest, WithoutARolesFileEveryCallerHasEveryRole) {
  auto policy = AccessPolicy::Load("", "");
  ASSERT_TRUE(policy.ok());
  EXPECT_FALSE((*policy)->enforced());
  EXPECT_TRUE((*policy)->Allows("anyone", Role::kAdmin));
}

TEST(AuthTest, RefusesMalformedFilesNamingTheLine) {
  auto bad_role = AccessPolicy::Load(WriteFile("roles_bad", "evaluate a\nsuperuser b\n"), "");
  EXPECT_EQ(bad_role.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_role.status().message().find(":2: unknown role `superuser`"), std::string::npos);
  auto no_identity = AccessPolicy::Load(WriteFile("roles_empty", "admin\n"), "");
  EXPECT_NE(no_identity.status().message().find("needs an identity"), std::string::npos);
  // A token written in place of its hash is refused: the file holds hashes.
  auto raw_token = AccessPolicy::Load("", WriteFile("tokens_raw", "s3cret orders\n"));
  EXPECT_NE(raw_token.status().message().find("never tokens"), std::string::npos);
  EXPECT_EQ(AccessPolicy::Load("/nonexistent/roles", "").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(AuthTest, TokensAreLookedUpByTheirHash) {
  const std::string tokens =
      WriteFile("tokens", crypto::Sha256Hex("s3cret") + "  orders service\n" +
                              absl::AsciiStrToUpper(crypto::Sha256Hex("other")) + " other\n");
  auto policy = AccessPolicy::Load("", tokens);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_FALSE((*policy)->enforced());
  ASSERT_NE((*policy)->IdentityForToken("s3cret"), nullptr);
  EXPECT_EQ(*(*policy)->IdentityForToken("s3cret"), "orders service");
  ASSERT_NE((*policy)->IdentityForToken("other"), nullptr);  // hex in either case
  EXPECT_EQ((*policy)->IdentityForToken("s3cret "), nullptr);
  EXPECT_EQ((*policy)->IdentityForToken(crypto::Sha256Hex("s3cret")), nullptr);
}

TEST(AuthTest, CallsPerCallerAreBounded) {
  CallsPerCaller calls(2);
  EXPECT_TRUE(calls.Enter("a"));
  EXPECT_TRUE(calls.Enter("a"));
  EXPECT_FALSE(calls.Enter("a"));
  EXPECT_TRUE(calls.Enter("b"));
  calls.Leave("a");
  EXPECT_TRUE(calls.Enter("a"));
  CallsPerCaller unlimited(0);
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(unlimited.Enter("a"));
}

// What the server repeats of a caller's text (engine::EchoText) stays short,
// on one line, and valid UTF-8, so it can travel in a status message.
TEST(EchoTest, CutsShortAndKeepsOneLine) {
  EXPECT_EQ(engine::EchoText("plain"), "plain");
  EXPECT_EQ(engine::EchoText(std::string(80000, 'x'), 8), "xxxxxxxx\u2026");
  EXPECT_EQ(engine::EchoText(std::string("a\0b\nc", 5)), "a\\x00b\\x0ac");
  // A multi-byte character is never cut in half; bytes that are not UTF-8
  // are written as \xNN.
  EXPECT_EQ(engine::EchoText("\u00e9\u00e9\u00e9", 5), "\u00e9\u00e9\u2026");
  EXPECT_EQ(engine::EchoText("\xff\xc3("), "\\xff\\xc3(");
}

}  // namespace
}  // namespace creditd::server
