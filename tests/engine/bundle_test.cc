#include "engine/bundle.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace creditd::engine {
namespace {

using ::testing::HasSubstr;

namespace fs = std::filesystem;

std::string MakeDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

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
  for (const auto& [name, policy] : load->bundle->policies) names.push_back(name);
  EXPECT_THAT(names, ::testing::ElementsAre("credit_application", "credit_review", "dunning",
                                            "order_release"));
}

TEST(BundleTest, AnyErrorRejectsTheWholeBundle) {
  const std::string dir = MakeDir("bundle_errors");
  Write(dir + "/good.credit", Policy("good", "1.0.0", 1));
  Write(dir + "/bad.credit", "policy bad\ninput a money\n");
  Write(dir + "/twin.credit", Policy("good", "2.0.0", 1));
  DiskFileReader reader;
  absl::StatusOr<BundleLoad> load = LoadBundle(dir, reader);
  ASSERT_TRUE(load.ok());
  EXPECT_EQ(load->bundle, nullptr);
  EXPECT_THAT(load->report, HasSubstr("E0001"));
  EXPECT_THAT(load->report, HasSubstr("decision `good` is also defined"));
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
  EXPECT_EQ(registry.Current()->policies.at("p")->id().version, "1.1.0");
  ASSERT_NE(registry.Find("p", "1.0.0"), nullptr);
  EXPECT_EQ(registry.History().size(), 2u);
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
  for (const auto& [name, policy] : load->bundle->policies) {
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

}  // namespace
}  // namespace creditd::engine
