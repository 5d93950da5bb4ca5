#include "engine/bundle.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crypto/ed25519.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/fault_file_system.h"
#include "tests/engine/policy_fixture.h"
#include "tests/engine/test_files.h"

namespace creditd::engine {
namespace {

using testing::FaultFileSystem;
using ::testing::HasSubstr;
using testing::MakeDir;
using ::testing::Not;
using testing::Write;

namespace fs = std::filesystem;

void Link(const std::string& target, const std::string& link) {
  std::error_code error;
  fs::create_symlink(target, link, error);
  ASSERT_FALSE(error) << error.message();
}

const char kLibrary[] = "library common\n\nenum Grade { A, B, C }\n";

// Policy `p` with `imports` after its header.
std::string WithImports(const std::string& imports) {
  return "policy p\n  version 1.0.0\n  effective 2026-01-01\n" + imports +
         "input g: Grade\noutput x: Grade = g\n";
}

std::string Policy(const std::string& name, const std::string& version, int limit) {
  return "policy " + name + "\n  version " + version +
         "\n  effective 2026-01-01\n\ninput a: int\noutput x: bool = a > " + std::to_string(limit) +
         "\n";
}

TEST(BundleTest, LoadsEveryPolicyOfTheReferenceDirectory) {
  DiskFileReader reader;
  absl::StatusOr<BundleLoad> load = LoadBundle("policies", reader);
  ASSERT_TRUE(load.ok()) << load.status();
  ASSERT_NE(load->bundle, nullptr) << load->report;
  std::vector<std::string> names;
  for (const auto& [name, decision] : load->bundle->decisions) names.push_back(name);
  // The four reference decisions and, in policies/examples, two written in
  // edition 2.
  EXPECT_THAT(names, ::testing::ElementsAre("credit_application", "credit_check", "credit_review",
                                            "dunning", "dunning_procedure", "order_release"));
}

// A version's approvals are read from `approvals/` beside its own file (as
// `creditctl approve FILE` writes them), and the ones that counted travel
// with the version.
TEST(BundleTest, ApprovalsBesideEachFileCountAndTravelWithTheVersion) {
  const std::string dir = MakeDir("bundle_approvals");
  Write(dir + "/a.credit", Policy("a", "1.0.0", 1));
  std::error_code error;
  fs::create_directories(dir + "/sub/approvals", error);
  fs::create_directories(dir + "/approvals", error);
  ASSERT_FALSE(error) << error.message();
  Write(dir + "/sub/b.credit", Policy("b", "1.0.0", 2));
  DiskFileReader reader;
  absl::StatusOr<BundleLoad> plain = LoadBundle(dir, reader);
  ASSERT_TRUE(plain.ok() && plain->bundle != nullptr);
  absl::StatusOr<crypto::Ed25519Key> key = crypto::Ed25519Key::Generate();
  ASSERT_TRUE(key.ok());
  Write(dir + "/approvers", "alice " + absl::Base64Escape(key->public_key()) + "\n");
  auto sign = [&](const std::string& name, const std::string& where) {
    const BundleVersion* v = plain->bundle->InForce(name, absl::InfiniteFuture());
    ASSERT_NE(v, nullptr);
    SignedApproval s{{v->policy->id(), "alice", "2026-11-30T12:00:00Z", "ok"},
                     key->Id(kApprovalKeyDomain, 4),
                     ""};
    absl::StatusOr<std::string> signature = key->Sign(ApprovalBody(s.approval));
    ASSERT_TRUE(signature.ok());
    s.signature = *signature;
    Write(dir + "/" + where + "/" + ApprovalFileName(s.approval), FormatApprovalFile(s));
  };
  sign("a", "approvals");
  sign("b", "approvals");  // not beside b's file: does not count
  BundleOptions options;
  options.required_approvals = 1;
  options.approvers_file = dir + "/approvers";
  absl::StatusOr<BundleLoad> load = LoadBundle(dir, reader, options);
  ASSERT_TRUE(load.ok());
  EXPECT_EQ(load->bundle, nullptr);
  EXPECT_EQ(load->errors, 1) << load->report;
  EXPECT_THAT(load->report, HasSubstr("version 1.0.0 of `b`"));
  sign("b", "sub/approvals");
  load = LoadBundle(dir, reader, options);
  ASSERT_TRUE(load.ok());
  ASSERT_NE(load->bundle, nullptr) << load->report;
  const BundleVersion* b = load->bundle->InForce("b", absl::InfiniteFuture());
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->approvals.size(), 1u);
  EXPECT_EQ(b->approvals[0].approval.approver, "alice");
  EXPECT_EQ(b->approvals[0].approval.comment, "ok");
}

TEST(BundleTest, AnyErrorRejectsTheWholeBundle) {
  const std::string dir = MakeDir("bundle_errors");
  Write(dir + "/good.credit", Policy("good", "1.0.0", 1));
  Write(dir + "/bad.credit", "policy bad\ninput a money\n");
  Write(dir + "/twin.credit", Policy("good", "1.0.0", 2));
  DiskFileReader reader;
  absl::StatusOr<BundleLoad> load = LoadBundle(dir, reader);
  ASSERT_TRUE(load.ok());
  EXPECT_EQ(load->bundle, nullptr);
  EXPECT_THAT(load->report, HasSubstr("E0001"));
  EXPECT_THAT(load->report, HasSubstr("version 1.0.0 of `good` is also in `good.credit`"));
  EXPECT_FALSE(LoadBundle(dir + "/missing", reader).ok());
}

TEST(BundleTest, RegistryKeepsVersionsAndRefusesChangedText) {
  const std::string dir = MakeDir("bundle_registry");
  DiskFileReader reader;
  Registry registry;
  Write(dir + "/p.credit", Policy("p", "1.0.0", 1));
  auto first = LoadBundle(dir, reader);
  ASSERT_TRUE(registry.Install(first->bundle).ok());
  Write(dir + "/p.credit", Policy("p", "1.1.0", 2));
  auto second = LoadBundle(dir, reader);
  ASSERT_TRUE(registry.Install(second->bundle).ok());
  EXPECT_EQ(registry.Current()->InForce("p", registry.Now())->policy->id().version, "1.1.0");
  ASSERT_NE(registry.Find("p", "1.0.0"), nullptr);
  EXPECT_EQ(registry.Versions().size(), 2u);
  // Version 1.1.0 with other text is refused; 1.1.0 keeps serving.
  Write(dir + "/p.credit", Policy("p", "1.1.0", 3));
  auto changed = LoadBundle(dir, reader);
  absl::Status status = registry.Install(changed->bundle);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(registry.Current(), second->bundle);
}

TEST(BundleTest, CanonicalSourceRebuildsTheSamePolicy) {
  DiskFileReader reader;
  auto load = LoadBundle("policies", reader);
  ASSERT_TRUE(load.ok() && load->bundle != nullptr);
  for (const auto& [name, decision] : load->bundle->decisions) {
    const std::shared_ptr<const CompiledPolicy>& policy = decision.versions.at(0).policy;
    absl::StatusOr<std::shared_ptr<const CompiledPolicy>> rebuilt =
        CompileCanonicalSource(policy->canonical_source());
    ASSERT_TRUE(rebuilt.ok()) << name << ": " << rebuilt.status();
    EXPECT_EQ((*rebuilt)->id().sha256, policy->id().sha256) << name;
  }
}

TEST(BundleTest, CandidateValidationLoadsNothing) {
  DiskFileReader reader;
  auto good =
      LoadCandidate("policies/candidate.credit",
                    "policy c\n  version 1.0.0\n  effective 2026-01-01\n"
                    "import \"shared/common.credit\"\ninput g: Grade\noutput x: Grade = g\n",
                    reader);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->errors, 0) << good->report;
  auto bad = LoadCandidate("policies/candidate.credit", "policy c\ninput g: Grad\n", reader);
  ASSERT_TRUE(bad.ok());
  EXPECT_GT(bad->errors, 0);
  EXPECT_EQ(bad->bundle, nullptr);
}

TEST(BundleTest, NamesFilesRelativeToTheDirectoryNeverWhereItIs) {
  // As a server started with --policies=/etc/creditd/policies.
  const std::string dir = MakeDir("bundle_relative");
  ASSERT_EQ(dir[0], '/');
  Write(dir + "/good.credit", Policy("good", "1.0.0", 1));
  Write(dir + "/sub/bad.credit", "policy bad\ninput a money\n");
  DiskFileReader reader;
  absl::StatusOr<BundleLoad> load = LoadBundle(dir, reader);
  ASSERT_TRUE(load.ok()) << load.status();
  EXPECT_EQ(load->bundle, nullptr);
  EXPECT_THAT(load->report, HasSubstr("error[E0001]: sub/bad.credit:2:9:"));
  EXPECT_THAT(load->report, Not(HasSubstr(dir)));
  EXPECT_THAT(LoadBundle(dir + "/missing", reader).status().message(), Not(HasSubstr(dir)));
}

TEST(BundleTest, CanonicalSourceDoesNotDependOnWhereTheDirectoryIs) {
  DiskFileReader reader;
  absl::StatusOr<BundleLoad> here = LoadBundle("policies", reader);
  std::error_code error;
  const fs::path full = fs::absolute("policies", error);
  ASSERT_FALSE(error) << error.message();
  absl::StatusOr<BundleLoad> absolute = LoadBundle(full.string(), reader);
  ASSERT_TRUE(here.ok() && absolute.ok());
  ASSERT_NE(here->bundle, nullptr) << here->report;
  ASSERT_NE(absolute->bundle, nullptr) << absolute->report;
  for (const auto& [name, decision] : here->bundle->decisions) {
    const std::shared_ptr<const CompiledPolicy>& policy = decision.versions.at(0).policy;
    EXPECT_EQ(policy->id().sha256,
              absolute->bundle->decisions.at(name).versions.at(0).policy->id().sha256)
        << name;
    EXPECT_THAT(policy->canonical_source(), Not(HasSubstr("policies/"))) << name;
  }
}

TEST(BundleTest, DirectoryWithoutPolicyDoesNotLoadAsAnEmptyBundle) {
  DiskFileReader reader;
  const std::string empty = MakeDir("bundle_empty");
  absl::StatusOr<BundleLoad> load = LoadBundle(empty, reader);
  ASSERT_TRUE(load.ok());
  EXPECT_EQ(load->bundle, nullptr);
  EXPECT_EQ(load->report, "error[E0009]: the policy directory holds no policy file (*.credit)\n");
  const std::string libraries = MakeDir("bundle_libraries");
  Write(libraries + "/shared/common.credit", kLibrary);
  load = LoadBundle(libraries, reader);
  ASSERT_TRUE(load.ok());
  EXPECT_EQ(load->bundle, nullptr);
  EXPECT_EQ(load->report, "error[E0009]: the policy directory holds no policy, only 1 library\n");
}

TEST(BundleTest, DirectoryThatCannotBeReadIsAnErrorNamingWhatCouldNot) {
  const std::string dir = MakeDir("bundle_unreadable");
  Write(dir + "/p.credit", Policy("p", "1.0.0", 1));
  Write(dir + "/locked/q.credit", Policy("q", "1.0.0", 1));
  FaultFileSystem faults;
  faults.FailList("/locked", absl::PermissionDeniedError("open the directory: Permission denied"));
  DiskFileReader reader(faults);
  absl::StatusOr<BundleLoad> load = LoadBundle(dir, reader);
  ASSERT_TRUE(load.ok()) << load.status();
  // Serving `p` without `q` would drop a decision without a word.
  EXPECT_EQ(load->bundle, nullptr);
  EXPECT_EQ(
      load->report,
      "error[E0008]: cannot list the directory `locked`: open the directory: Permission denied\n");
  // The directory itself.
  FaultFileSystem root;
  root.FailList("bundle_unreadable", absl::UnavailableError("read the directory: I/O error"));
  DiskFileReader root_reader(root);
  absl::StatusOr<BundleLoad> none = LoadBundle(dir, root_reader);
  EXPECT_FALSE(none.ok());
  EXPECT_EQ(none.status().message(),
            "the policy directory cannot be read: read the directory: I/O error");
}

TEST(BundleTest, FilesThatCannotBeReadRejectTheBundle) {
  const std::string dir = MakeDir("bundle_files");
  Write(dir + "/p.credit", Policy("p", "1.0.0", 1));
  ASSERT_EQ(mkfifo((dir + "/fifo.credit").c_str(), 0600), 0);
  Write(dir + "/endless.credit", "");
  Write(dir + "/broken.credit", Policy("b", "1.0.0", 1));
  const std::string outside = MakeDir("bundle_files_outside");
  Write(outside + "/secret.credit", "policy secret SECRET-TEXT\n");
  Link(outside + "/secret.credit", dir + "/secret.credit");
  FaultFileSystem faults;
  faults.Endless("/endless.credit");
  faults.FailReadAfter("/broken.credit", 10);
  DiskFileReader reader(faults);
  absl::StatusOr<BundleLoad> load = LoadBundle(dir, reader);
  ASSERT_TRUE(load.ok()) << load.status();
  EXPECT_EQ(load->bundle, nullptr);
  EXPECT_EQ(load->report,
            "error[E0008]: cannot read `broken.credit`: read: Input/output error\n"
            "error[E0002]: `endless.credit` is larger than 1048576 bytes\n"
            "error[E0008]: `fifo.credit` is not a regular file: it is a FIFO\n"
            "error[E0008]: `secret.credit` " +
                std::string(kOutsidePolicyDirectory) + "\n");
  EXPECT_LE(faults.bytes_read(), (1u << 20) + 1 + 10);
}

TEST(BundleTest, LinksInsideTheDirectoryLoadAsAConfigMapMountHasThem) {
  const std::string dir = MakeDir("bundle_configmap");
  const std::string data = dir + "/..2026_01_01_00_00_00.1";
  Write(data + "/p.credit", WithImports("import \"shared/common.credit\"\n"));
  Write(data + "/shared/common.credit", kLibrary);
  Link("..2026_01_01_00_00_00.1", dir + "/..data");
  Link("..data/p.credit", dir + "/p.credit");
  Link("..data/shared", dir + "/shared");
  DiskFileReader reader;
  absl::StatusOr<BundleLoad> load = LoadBundle(dir, reader);
  ASSERT_TRUE(load.ok()) << load.status();
  ASSERT_NE(load->bundle, nullptr) << load->report;
  EXPECT_EQ(load->bundle->decisions.size(), 1u);
}

TEST(BundleTest, ImportsOutsideTheDirectoryAreRefused) {
  const std::string dir = MakeDir("bundle_imports");
  Write(dir + "/p.credit",
        WithImports("import \"../../../../etc/shadow\"\nimport \"/proc/self/environ\"\n"));
  DiskFileReader reader;
  absl::StatusOr<BundleLoad> load = LoadBundle(dir, reader);
  ASSERT_TRUE(load.ok()) << load.status();
  EXPECT_EQ(load->errors, 2) << load->report;
  EXPECT_THAT(load->report, HasSubstr("help: `../../../../etc/shadow` is outside the policy"));
  EXPECT_THAT(load->report, HasSubstr("help: `/proc/self/environ` is outside the policy"));
}

TEST(BundleTest, BundleNeedsAFileSystem) {
  testing::MemoryReader memory({});
  EXPECT_TRUE(absl::IsInvalidArgument(LoadBundle("policies", memory).status()));
}

// A candidate importing `target`, validated against `dir`.
BundleLoad Candidate(const std::string& dir, const std::string& target) {
  PolicyDirReader reader(dir);
  absl::StatusOr<BundleLoad> load =
      LoadCandidate("candidate.credit",
                    absl::StrCat("policy c\n  version 1.0.0\n  effective 2026-01-01\nimport \"",
                                 target, "\"\ninput g: Grade\noutput x: Grade = g\n"),
                    reader);
  EXPECT_TRUE(load.ok()) << load.status();
  return load.ok() ? *std::move(load) : BundleLoad{};
}

TEST(BundleTest, CandidateImportsOnlyLibrariesAndLearnsNothingOfOtherFiles) {
  const std::string dir = MakeDir("bundle_candidate");
  Write(dir + "/shared/common.credit", kLibrary);
  Write(dir + "/other.credit", "policy other SECRET-TEXT\ninput a int\n");
  ASSERT_EQ(mkfifo((dir + "/fifo.credit").c_str(), 0600), 0);
  const std::string outside = MakeDir("bundle_candidate_outside");
  Write(outside + "/lib.credit", std::string(kLibrary) + "# SECRET-TEXT\n");
  Link(outside + "/lib.credit", dir + "/outside.credit");
  Link("/dev/zero", dir + "/zero.credit");

  BundleLoad good = Candidate(dir, "shared/common.credit");
  EXPECT_EQ(good.errors, 0) << good.report;
  EXPECT_NE(good.bundle, nullptr);
  // Every other import gets the same answer, whether the file exists, is a
  // policy, a FIFO, a device, lies outside or nowhere: only the path as
  // written differs.
  auto refused = [&](const std::string& target) {
    BundleLoad load = Candidate(dir, target);
    EXPECT_THAT(load.report, Not(HasSubstr("SECRET"))) << target;
    EXPECT_THAT(load.report, Not(HasSubstr(dir))) << target;
    EXPECT_EQ(load.errors, 1) << load.report;
    if (load.diagnostics.size() != 1) return std::string();
    const dsl::Diagnostic& d = load.diagnostics[0];
    EXPECT_EQ(d.message, absl::StrCat("cannot import `", target, "`"));
    return absl::StrCat(d.code, " ", d.span.line, ":", d.span.column, " ", d.help);
  };
  const std::string missing = refused("missing.credit");
  EXPECT_EQ(missing, absl::StrCat("E0005 4:1 ", kCandidateImports));
  for (const std::string target :
       {"other.credit", "fifo.credit", "zero.credit", "outside.credit", "../../../../etc/shadow",
        "/proc/self/environ", "/dev/zero", "shared"}) {
    EXPECT_EQ(refused(target), missing) << target;
  }
}

}  // namespace
}  // namespace creditd::engine
