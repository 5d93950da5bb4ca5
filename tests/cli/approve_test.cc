#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_replace.h"
#include "crypto/ed25519.h"
#include "engine/approvals.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_run.h"
#include "tests/engine/test_files.h"

namespace creditd::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Policy() {
  std::ifstream in("policies/examples/credit_check.credit");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void Write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

struct Person {
  std::string name;
  std::string key_file;
  std::string public_key;
};

Person MakePerson(const fs::path& dir, const std::string& name) {
  absl::StatusOr<crypto::Ed25519Key> key = crypto::Ed25519Key::Generate();
  EXPECT_TRUE(key.ok());
  const fs::path file = dir / (name + ".pem");
  Write(file, *key->PrivateKeyPem());
  return {name, file.string(), absl::Base64Escape(key->public_key())};
}

class ApproveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ =
        engine::testing::MakeDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::error_code error;
    fs::create_directories(root_ / "policies", error);
    ASSERT_FALSE(error) << error.message();
    Write(root_ / "policies" / "loan.credit", Policy());
    alice_ = MakePerson(root_, "alice");
    bob_ = MakePerson(root_, "bob");
  }
  std::string Dir() const { return (root_ / "policies").string(); }
  std::string Approvers(const std::string& text) const {
    Write(root_ / "approvers", text);
    return (root_ / "approvers").string();
  }
  CliRun Approve(const Person& p, const std::string& name) {
    return Creditctl({"approve", "--key", p.key_file, "--approver", name, "--comment", "reviewed",
                      (root_ / "policies" / "loan.credit").string()});
  }
  CliRun Check(const std::string& approvers, int n) {
    return Creditctl(
        {"check", "--approvers", approvers, "--required_approvals", std::to_string(n), Dir()});
  }
  fs::path root_;
  Person alice_, bob_;
};

TEST_F(ApproveTest, CountsDistinctTrustedApprovers) {
  const std::string both =
      Approvers("alice " + alice_.public_key + "\nbob " + bob_.public_key + "\n");
  CliRun none = Check(both, 1);
  EXPECT_EQ(none.code, 1);
  EXPECT_THAT(none.err,
              HasSubstr("error[E0603]: loan.credit:2:3: version 1.0.0 of `credit_check`"));
  EXPECT_THAT(none.err, HasSubstr("has 0 approvals, 1 required"));

  ASSERT_EQ(Approve(alice_, "alice").code, 0);
  EXPECT_EQ(Check(both, 1).code, 0);
  CliRun one = Check(both, 2);
  EXPECT_EQ(one.code, 1);
  EXPECT_THAT(one.err, HasSubstr("has 1 approval, 2 required (by alice)"));

  ASSERT_EQ(Approve(bob_, "bob").code, 0);
  EXPECT_EQ(Check(both, 2).code, 0) << Check(both, 2).err;
  // A removed approver stops counting.
  CliRun removed = Check(Approvers("alice " + alice_.public_key + "\n"), 2);
  EXPECT_EQ(removed.code, 1);
  EXPECT_THAT(removed.err, HasSubstr("`bob` is not a trusted approver"));
}

TEST_F(ApproveTest, TwoKeysOfOneApproverCountOnce) {
  // bob's key listed as a second key of alice: both approvals are alice's.
  const std::string approvers =
      Approvers("alice " + alice_.public_key + "\nalice " + bob_.public_key + "\n");
  ASSERT_EQ(Approve(alice_, "alice").code, 0);
  std::error_code error;
  for (fs::directory_iterator it(root_ / "policies" / "approvals", error), end; !error && it != end;
       it.increment(error)) {
    fs::rename(it->path(), root_ / "policies" / "approvals" / "first.approval", error);
  }
  ASSERT_FALSE(error) << error.message();
  ASSERT_EQ(Approve(bob_, "alice").code, 0);
  EXPECT_EQ(Check(approvers, 1).code, 0);
  CliRun run = Check(approvers, 2);
  EXPECT_EQ(run.code, 1);
  EXPECT_THAT(run.err, HasSubstr("has 1 approval, 2 required (by alice)"));
}

TEST_F(ApproveTest, ASignatureOverOtherTextOrByAnotherKeyIsRefused) {
  const std::string both =
      Approvers("alice " + alice_.public_key + "\nbob " + bob_.public_key + "\n");
  ASSERT_EQ(Approve(alice_, "alice").code, 0);
  // bob signs claiming to be alice: the signature does not verify with her key.
  fs::path file;
  std::error_code error;
  for (fs::directory_iterator it(root_ / "policies" / "approvals", error), end; !error && it != end;
       it.increment(error)) {
    file = it->path();
  }
  ASSERT_FALSE(error) << error.message();
  fs::rename(file, root_ / "alice.approval", error);
  ASSERT_FALSE(error) << error.message();
  ASSERT_EQ(Approve(bob_, "alice").code, 0);
  CliRun forged = Check(both, 1);
  EXPECT_EQ(forged.code, 1);
  EXPECT_THAT(forged.err, HasSubstr("does not verify with any key of `alice`"));
  fs::remove_all(root_ / "policies" / "approvals", error);
  fs::create_directories(root_ / "policies" / "approvals", error);
  fs::rename(root_ / "alice.approval", file, error);
  ASSERT_FALSE(error) << error.message();
  EXPECT_EQ(Check(both, 1).code, 0);
  // The policy changes: the approval is of other text.
  Write(root_ / "policies" / "loan.credit",
        absl::StrReplaceAll(Policy(), {{"open_orders: money >= 0", "open_orders: money >= 1"}}));
  CliRun changed = Check(both, 1);
  EXPECT_EQ(changed.code, 1);
  EXPECT_THAT(changed.err, HasSubstr("approves other text"));
}

TEST(ApprovalFormatTest, TheSignedBytesAreExact) {
  engine::Approval a;
  a.id = {"loan", "1.0.0", std::string(64, 'a')};
  a.approver = "alice";
  a.time = "2026-11-30T12:00:00Z";
  a.comment = "cut-offs checked";
  ASSERT_TRUE(engine::ValidateApproval(a).ok());
  EXPECT_EQ(engine::ApprovalBody(a),
            "creditd approval 1\nname loan\nversion 1.0.0\nsha256 " + std::string(64, 'a') +
                "\napprover alice\ntime 2026-11-30T12:00:00Z\ncomment cut-offs checked\n");
  EXPECT_EQ(engine::ApprovalFileName(a), "loan-1.0.0-alice-20261130T120000Z.approval");
  engine::SignedApproval s{a, "0011aabb", std::string(64, 'x')};
  absl::StatusOr<engine::SignedApproval> back =
      engine::ParseApprovalFile(engine::FormatApprovalFile(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->approval.comment, a.comment);
  EXPECT_EQ(back->signature, s.signature);
  a.comment = "two\nlines";
  EXPECT_FALSE(engine::ValidateApproval(a).ok());
  a.comment = "ok";
  a.time = "2026-11-30 12:00:00";
  EXPECT_FALSE(engine::ValidateApproval(a).ok());
  EXPECT_FALSE(engine::ParseApprovers("alice notbase64\n").ok());
}

}  // namespace
}  // namespace creditd::cli
