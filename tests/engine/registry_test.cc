// Several versions of a decision side by side, effective dating, and the
// registry of record: bindings restored from the log, refused when a text
// contradicts them.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crypto/sha256.h"
#include "engine/bundle.h"
#include "engine/compiler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/fault_file_system.h"
#include "tests/engine/test_files.h"

namespace creditd::engine {
namespace {

using ::testing::ElementsAre;
using testing::FaultFileSystem;
using ::testing::HasSubstr;
using testing::MakeDir;
using ::testing::Not;
using testing::Write;

namespace fs = std::filesystem;

std::string Policy(const std::string& version, const std::string& effective, int limit = 1,
                   const std::string& name = "p") {
  return absl::StrCat("policy ", name, "\n  version ", version, "\n  effective ", effective,
                      "\n\ninput a: int\noutput x: bool = a > ", limit, "\n");
}

absl::Time At(const std::string& rfc3339) {
  absl::Time t;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &error)) << error;
  return t;
}

BundleLoad Load(const std::string& dir, const BundleOptions& options = {}) {
  DiskFileReader reader;
  absl::StatusOr<BundleLoad> load = LoadBundle(dir, reader, options);
  EXPECT_TRUE(load.ok()) << load.status();
  return load.ok() ? *std::move(load) : BundleLoad{};
}

std::string VersionAt(const Bundle& bundle, const std::string& name, absl::Time now) {
  const BundleVersion* v = bundle.InForce(name, now);
  return v == nullptr ? "none" : v->policy->id().version;
}

// What the audit log would hold for `policy`.
StoredVersion Stored(const CompiledPolicy& policy, const std::string& first_served = "") {
  return {policy.id().name,          policy.id().version,     policy.id().sha256,
          policy.canonical_source(), policy.canonical_form(), first_served};
}

TEST(RegistryTest, SeveralVersionsOfADecisionServeByEffectiveDate) {
  const std::string dir = MakeDir("versions_side_by_side");
  Write(dir + "/p-1.0.0.credit", Policy("1.0.0", "2026-01-01"));
  Write(dir + "/p-1.1.0.credit", Policy("1.1.0", "2026-06-01", 2));
  Write(dir + "/later/p-2.0.0.credit", Policy("2.0.0", "2099-01-01", 3));
  BundleLoad load = Load(dir);
  ASSERT_NE(load.bundle, nullptr) << load.report;
  const DecisionVersions& p = load.bundle->decisions.at("p");
  std::vector<std::string> order;
  for (const BundleVersion& v : p.versions) order.push_back(v.policy->id().version + " " + v.path);
  EXPECT_THAT(order, ElementsAre("1.0.0 p-1.0.0.credit", "1.1.0 p-1.1.0.credit",
                                 "2.0.0 later/p-2.0.0.credit"));
  EXPECT_EQ(VersionAt(*load.bundle, "p", At("2025-12-31T23:59:59Z")), "none");
  EXPECT_EQ(VersionAt(*load.bundle, "p", At("2026-01-01T00:00:00Z")), "1.0.0");
  EXPECT_EQ(VersionAt(*load.bundle, "p", At("2026-05-31T23:59:59.999Z")), "1.0.0");
  EXPECT_EQ(VersionAt(*load.bundle, "p", At("2026-06-01T00:00:00Z")), "1.1.0");
  EXPECT_EQ(VersionAt(*load.bundle, "p", At("2099-01-01T00:00:00Z")), "2.0.0");
  EXPECT_EQ(VersionAt(*load.bundle, "q", At("2099-01-01T00:00:00Z")), "none");
}

TEST(RegistryTest, SemanticVersionBreaksTiesOnOneDate) {
  const std::string dir = MakeDir("versions_ties");
  Write(dir + "/a.credit", Policy("1.10.0", "2026-01-01"));
  Write(dir + "/b.credit", Policy("1.9.0", "2026-01-01", 2));
  Write(dir + "/c.credit", Policy("1.11.0-rc.1", "2026-01-01", 3));
  Write(dir + "/d.credit", Policy("0.1.0", "2026-02-01", 4));  // later date beats higher version
  BundleLoad load = Load(dir);
  ASSERT_NE(load.bundle, nullptr) << load.report;
  EXPECT_EQ(VersionAt(*load.bundle, "p", At("2026-01-15T00:00:00Z")), "1.11.0-rc.1");
  EXPECT_EQ(VersionAt(*load.bundle, "p", At("2026-02-01T00:00:00Z")), "0.1.0");
}

TEST(RegistryTest, OneVersionInTwoFilesIsAnErrorWhetherOrNotTheTextsAgree) {
  const std::string dir = MakeDir("versions_twice");
  Write(dir + "/a.credit", Policy("1.0.0", "2026-01-01"));
  Write(dir + "/b.credit", Policy("1.0.0", "2026-01-01"));
  Write(dir + "/c.credit", Policy("1.0.0", "2026-01-01", 2));
  BundleLoad load = Load(dir);
  EXPECT_EQ(load.bundle, nullptr);
  EXPECT_EQ(load.errors, 2);
  ASSERT_EQ(load.diagnostics.size(), 2u);
  EXPECT_EQ(load.diagnostics[0].code, kVersionTwice);
  EXPECT_EQ(load.diagnostic_files[0], "b.credit");
  EXPECT_THAT(load.report, HasSubstr("error[E0601]: b.credit:2:3: version 1.0.0 of `p` is also "
                                     "in `a.credit`, with the same text"));
  EXPECT_THAT(load.report, HasSubstr("error[E0601]: c.credit:2:3: version 1.0.0 of `p` is also "
                                     "in `a.credit`, with other text"));
}

// The request path decides per request from the snapshot and the clock: a
// scheduled version takes over at its instant with no reload, in the zone's
// midnight.
TEST(RegistryTest, ScheduledVersionTakesOverAtMidnightInTheZoneWithoutAReload) {
  const std::string dir = MakeDir("versions_clock");
  Write(dir + "/old.credit", Policy("1.0.0", "2026-01-01"));
  Write(dir + "/new.credit", Policy("2.0.0", "2027-01-01", 2));
  absl::TimeZone berlin;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Berlin", &berlin));
  absl::Time now = At("2026-12-31T22:59:59.999Z");
  RegistryOptions options;
  options.zone = berlin;
  options.clock = [&now] { return now; };
  Registry registry(options);
  BundleOptions in_berlin;
  in_berlin.zone = berlin;
  BundleLoad load = Load(dir, in_berlin);
  ASSERT_NE(load.bundle, nullptr) << load.report;
  ASSERT_TRUE(registry.Install(load.bundle).ok());
  auto states = [&] {
    std::vector<std::string> out;
    for (const VersionInfo& v : registry.Versions()) {
      const char* state = v.state == VersionState::kCurrent     ? "current"
                          : v.state == VersionState::kScheduled ? "scheduled"
                                                                : "superseded";
      out.push_back(absl::StrCat(v.policy->id().version, " ", state));
    }
    return out;
  };
  const std::shared_ptr<const Bundle> snapshot = registry.Current();
  EXPECT_EQ(VersionAt(*snapshot, "p", registry.Now()), "1.0.0");
  EXPECT_THAT(states(), ElementsAre("1.0.0 current", "2.0.0 scheduled"));
  now = At("2026-12-31T23:00:00Z");  // midnight in Berlin
  EXPECT_EQ(registry.Current(), snapshot);
  EXPECT_EQ(VersionAt(*snapshot, "p", registry.Now()), "2.0.0");
  EXPECT_THAT(states(), ElementsAre("1.0.0 superseded", "2.0.0 current"));
  // In UTC the same bundle switches an hour later.
  BundleLoad utc = Load(dir);
  ASSERT_NE(utc.bundle, nullptr);
  EXPECT_EQ(VersionAt(*utc.bundle, "p", now), "1.0.0");
  EXPECT_EQ(VersionAt(*utc.bundle, "p", At("2027-01-01T00:00:00Z")), "2.0.0");
}

TEST(RegistryTest, RestoredVersionsStayPinnableWithTheirStoredIdentity) {
  const std::string dir = MakeDir("versions_restore");
  Write(dir + "/p.credit", Policy("1.0.0", "2026-01-01"));
  BundleLoad first = Load(dir);
  ASSERT_NE(first.bundle, nullptr);
  const std::shared_ptr<const CompiledPolicy> served =
      first.bundle->decisions.at("p").versions.at(0).policy;
  // A restart: a new registry, the directory now holding 1.1.0 only.
  Registry registry;
  ASSERT_TRUE(registry.Restore({Stored(*served, "2026-01-02T08:00:00.000Z")}).ok());
  Write(dir + "/p.credit", Policy("1.1.0", "2026-02-01", 2));
  BundleLoad second = Load(dir);
  registry.Bind(second);
  ASSERT_NE(second.bundle, nullptr) << second.report;
  std::vector<std::shared_ptr<const CompiledPolicy>> unbound = registry.Unbound(*second.bundle);
  ASSERT_EQ(unbound.size(), 1u);
  EXPECT_EQ(unbound[0]->id().version, "1.1.0");
  ASSERT_TRUE(registry.Install(second.bundle).ok());
  std::shared_ptr<const CompiledPolicy> pinned = registry.Find("p", "1.0.0");
  ASSERT_NE(pinned, nullptr);
  EXPECT_EQ(pinned->id().sha256, served->id().sha256);
  EXPECT_EQ(pinned->canonical_source(), served->canonical_source());
  std::vector<VersionInfo> versions = registry.Versions();
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0].state, VersionState::kSuperseded);
  EXPECT_EQ(versions[0].first_served, "2026-01-02T08:00:00.000Z");
  EXPECT_EQ(versions[1].state, VersionState::kCurrent);
}

TEST(RegistryTest, StoredSha256IsTakenAsStoredNeverRecomputed) {
  // Stored in an earlier canonical form: not what today's formatter prints.
  const std::string text =
      "=== p.credit\npolicy p\n  version 1.0.0\n  effective 2026-01-01\n\n\n"
      "input   a: int\noutput x: bool = a  >  1\n";
  const std::string sha256 = crypto::Sha256Hex(text);
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> policy =
      CompileStoredSource(text, sha256, kCanonicalForm - 1);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ((*policy)->id().sha256, sha256);
  EXPECT_EQ((*policy)->canonical_source(), text);
  EXPECT_EQ((*policy)->canonical_form(), kCanonicalForm - 1);
  EXPECT_NE((*policy)->form_sha256(), sha256);
  // A stored text changed after it was stored does not rebuild.
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> changed =
      CompileStoredSource(text + "# edited\n", sha256, kCanonicalForm);
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kDataLoss);
  // Nor does a text stored under another name or version.
  Registry registry;
  StoredVersion wrong = {"p", "2.0.0", sha256, text, kCanonicalForm, ""};
  absl::Status status = registry.Restore({wrong});
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(registry.Find("p", "2.0.0"), nullptr);
}

TEST(RegistryTest, OtherTextForAStoredVersionIsRefusedNamingFileAndVersion) {
  const std::string dir = MakeDir("versions_rebound");
  Write(dir + "/p.credit", Policy("1.0.0", "2026-01-01"));
  BundleLoad first = Load(dir);
  ASSERT_NE(first.bundle, nullptr);
  Registry registry;
  ASSERT_TRUE(
      registry.Restore({Stored(*first.bundle->decisions.at("p").versions.at(0).policy)}).ok());
  // The same version with a rule changed, beside a new version: all refused.
  Write(dir + "/p.credit", Policy("1.0.0", "2026-01-01", 5));
  Write(dir + "/q.credit", Policy("1.0.0", "2026-01-01", 1, "q"));
  BundleLoad changed = Load(dir);
  ASSERT_NE(changed.bundle, nullptr);
  registry.Bind(changed);
  EXPECT_EQ(changed.bundle, nullptr);
  EXPECT_EQ(changed.errors, 1);
  ASSERT_EQ(changed.diagnostics.size(), 1u);
  EXPECT_EQ(changed.diagnostics[0].code, kVersionRebound);
  EXPECT_EQ(changed.diagnostic_files[0], "p.credit");
  EXPECT_THAT(changed.report, HasSubstr("error[E0602]: p.credit:2:3: version 1.0.0 of `p` was "
                                        "served before with other text"));
  EXPECT_THAT(changed.report, HasSubstr("give the changed policy a new version"));
  EXPECT_THAT(changed.report, Not(HasSubstr(dir)));
  // Put back, it binds to what was held: the very same compiled version.
  Write(dir + "/p.credit", Policy("1.0.0", "2026-01-01"));
  BundleLoad again = Load(dir);
  registry.Bind(again);
  ASSERT_NE(again.bundle, nullptr) << again.report;
  EXPECT_EQ(again.bundle->decisions.at("p").versions.at(0).policy, registry.Find("p", "1.0.0"));
}

// The canonical source names each file relative to the policy's folder, so
// a version's sha256 covers its file name: renamed, it is another text.
TEST(RegistryTest, RenamedFileOfAServedVersionIsRefusedSayingWhatItWasCalled) {
  const std::string dir = MakeDir("versions_renamed");
  Write(dir + "/p.credit", Policy("1.0.0", "2026-01-01"));
  Registry registry;
  BundleLoad first = Load(dir);
  ASSERT_NE(first.bundle, nullptr);
  ASSERT_TRUE(registry.Install(first.bundle).ok());
  std::error_code error;
  fs::rename(dir + "/p.credit", dir + "/p-1.0.0.credit", error);
  ASSERT_FALSE(error) << error.message();
  Write(dir + "/p.credit", Policy("1.1.0", "2026-02-01", 2));
  BundleLoad renamed = Load(dir);
  registry.Bind(renamed);
  EXPECT_EQ(renamed.bundle, nullptr);
  ASSERT_EQ(renamed.diagnostics.size(), 1u);
  EXPECT_EQ(renamed.diagnostic_files[0], "p-1.0.0.credit");
  EXPECT_EQ(renamed.diagnostics[0].help,
            "it was served as `p.credit` (its sha256 covers its file name): name it so again, or "
            "give it a new version");
}

TEST(RegistryTest, ChangedLibraryNamesEveryImporterThatNeedsANewVersion) {
  const std::string dir = MakeDir("versions_library");
  const std::string header = "  effective 2026-01-01\nimport \"shared/common.credit\"\n";
  Write(dir + "/shared/common.credit", "library common\n\nenum Grade { A, B, C }\n");
  Write(dir + "/a.credit",
        "policy a\n  version 1.0.0\n" + header + "input g: Grade\noutput x: Grade = g\n");
  Write(dir + "/b.credit",
        "policy b\n  version 2.3.0\n" + header + "input g: Grade\noutput y: Grade = g\n");
  Write(dir + "/c.credit", Policy("1.0.0", "2026-01-01", 1, "c"));
  Registry registry;
  BundleLoad first = Load(dir);
  ASSERT_NE(first.bundle, nullptr) << first.report;
  ASSERT_TRUE(registry.Install(first.bundle).ok());
  Write(dir + "/shared/common.credit", "library common\n\nenum Grade { A, B, C, D }\n");
  BundleLoad changed = Load(dir);
  ASSERT_NE(changed.bundle, nullptr) << changed.report;
  registry.Bind(changed);
  EXPECT_EQ(changed.bundle, nullptr);
  EXPECT_EQ(changed.errors, 2);
  const std::string importers =
      "help: library `shared/common.credit` changed: every policy importing it needs a new "
      "version: a 1.0.0 (a.credit), b 2.3.0 (b.credit)";
  EXPECT_THAT(changed.report, HasSubstr("error[E0602]: a.credit:2:3: version 1.0.0 of `a`"));
  EXPECT_THAT(changed.report, HasSubstr("error[E0602]: b.credit:2:3: version 2.3.0 of `b`"));
  EXPECT_EQ(changed.diagnostics.at(0).help, importers.substr(6));
  EXPECT_EQ(changed.diagnostics.at(1).help, importers.substr(6));
  EXPECT_THAT(changed.report, Not(HasSubstr("give the changed policy")));
  EXPECT_THAT(changed.report, Not(HasSubstr("c 1.0.0")));
}

TEST(RegistryTest, VersionStoredInAnEarlierCanonicalFormIsComparedByFormattingItAgain) {
  const std::string text =
      "=== p.credit\npolicy p\n  version 1.0.0\n  effective 2026-01-01\n\n\n"
      "input   a: int\noutput x: bool = a  >  1\n";
  const std::string dir = MakeDir("versions_form");
  Write(dir + "/p.credit", Policy("1.0.0", "2026-01-01"));
  for (int form : {kCanonicalForm - 1, kCanonicalForm}) {
    Registry registry;
    ASSERT_TRUE(registry.Restore({{"p", "1.0.0", crypto::Sha256Hex(text), text, form, ""}}).ok());
    BundleLoad load = Load(dir);
    registry.Bind(load);
    if (form < kCanonicalForm) {
      // The same policy in today's form: it serves under its stored sha256.
      ASSERT_NE(load.bundle, nullptr) << load.report;
      EXPECT_EQ(load.bundle->decisions.at("p").versions.at(0).policy->id().sha256,
                crypto::Sha256Hex(text));
    } else {
      // In today's form the text differs: another text.
      EXPECT_EQ(load.bundle, nullptr);
      EXPECT_THAT(load.report, HasSubstr("E0602"));
    }
  }
}

TEST(RegistryTest, EachFileIsReadOnceAPerLoad) {
  const std::string dir = MakeDir("versions_one_read");
  const std::string header = "  effective 2026-01-01\nimport \"shared/common.credit\"\n";
  Write(dir + "/shared/common.credit", "library common\n\nenum Grade { A, B, C }\n");
  Write(dir + "/a.credit",
        "policy a\n  version 1.0.0\n" + header + "input g: Grade\noutput x: Grade = g\n");
  Write(dir + "/b.credit",
        "policy b\n  version 1.0.0\n" + header + "input g: Grade\noutput y: Grade = g\n");
  FaultFileSystem files;
  DiskFileReader reader(files);
  absl::StatusOr<BundleLoad> load = LoadBundle(dir, reader);
  ASSERT_TRUE(load.ok() && load->bundle != nullptr) << load->report;
  std::error_code error;
  const std::string root = fs::canonical(dir, error).string();
  ASSERT_FALSE(error) << dir << ": " << error.message();
  for (const char* file : {"/a.credit", "/b.credit", "/shared/common.credit"}) {
    EXPECT_EQ(files.opens(root + file), 1) << file;
  }
}

TEST(RegistryTest, FileChangedWhileReadIsRefusedAndTheOldBundleKeepsServing) {
  const std::string dir = MakeDir("versions_half_written");
  Write(dir + "/p.credit", Policy("1.0.0", "2026-01-01"));
  Write(dir + "/shared/common.credit", "library common\n\nenum Grade { A, B, C }\n");
  Write(dir + "/q.credit",
        "policy q\n  version 1.0.0\n  effective 2026-01-01\nimport \"shared/common.credit\"\n"
        "input g: Grade\noutput x: Grade = g\n");
  Registry registry;
  BundleLoad first = Load(dir);
  ASSERT_NE(first.bundle, nullptr) << first.report;
  ASSERT_TRUE(registry.Install(first.bundle).ok());
  for (const char* changing : {"/p.credit", "/shared/common.credit"}) {
    FaultFileSystem files;
    files.ChangeWhileRead(changing);
    DiskFileReader reader(files);
    absl::StatusOr<BundleLoad> load = LoadBundle(dir, reader);
    ASSERT_TRUE(load.ok()) << load.status();
    EXPECT_EQ(load->bundle, nullptr) << changing;
    const std::string name = std::string(changing).substr(1);
    EXPECT_THAT(load->report, HasSubstr(absl::StrCat("`", name, "` changed while it was read; ",
                                                     kChangedWhileRead)));
    registry.Bind(*load);
    EXPECT_EQ(registry.Current(), first.bundle);
  }
}

TEST(RegistryTest, LibrariesCheckOnTheirOwnAndTheirDiagnosticsAreReportedOnce) {
  const std::string dir = MakeDir("versions_libraries");
  const std::string header = "  effective 2026-01-01\nimport \"shared/common.credit\"\n";
  Write(dir + "/shared/common.credit", "library common\n\nenum Grade { A, B, A }\n");
  Write(dir + "/a.credit",
        "policy a\n  version 1.0.0\n" + header + "input g: Grade\noutput x: Grade = g\n");
  Write(dir + "/b.credit",
        "policy b\n  version 1.0.0\n" + header + "input g: Grade\noutput y: Grade = g\n");
  BundleLoad load = Load(dir);
  EXPECT_EQ(load.bundle, nullptr);
  EXPECT_EQ(load.errors, 1) << load.report;
  // A library no policy imports is checked all the same.
  const std::string alone = MakeDir("versions_unused_library");
  Write(alone + "/p.credit", Policy("1.0.0", "2026-01-01"));
  Write(alone + "/unused.credit", "library unused\n\nenum Grade { A, B, A }\n");
  BundleLoad unused = Load(alone);
  EXPECT_EQ(unused.bundle, nullptr);
  EXPECT_THAT(unused.report, HasSubstr("unused.credit:3:"));
}

}  // namespace
}  // namespace creditd::engine
