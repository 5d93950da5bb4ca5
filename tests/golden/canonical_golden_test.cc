// Golden tests for the canonical form a policy's sha256 covers
// (engine::kCanonicalForm): the canonical text and sha256 of each reference
// policy in policies/ must equal tests/golden/canonical/form<N>/NAME.canonical
// and NAME.sha256 exactly. A change to the formatter's output changes the
// sha256 of unchanged policies: if it is meant, it is a new canonical form
// (raise kCanonicalForm, write the goldens of the new form beside the old
// ones with CREDITD_UPDATE_GOLDEN=1); otherwise it is a bug.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "crypto/sha256.h"
#include "engine/bundle.h"
#include "gtest/gtest.h"

namespace creditd {
namespace {

namespace fs = std::filesystem;

const fs::path kDir =
    fs::path("tests/golden/canonical") / absl::StrCat("form", engine::kCanonicalForm);

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(CanonicalFormGolden, ReferencePoliciesKeepTheirTextAndSha256) {
  engine::DiskFileReader reader;
  absl::StatusOr<engine::BundleLoad> load = engine::LoadBundle("policies", reader);
  ASSERT_TRUE(load.ok()) << load.status();
  ASSERT_NE(load->bundle, nullptr) << load->report;
  const bool update = std::getenv("CREDITD_UPDATE_GOLDEN") != nullptr;
  if (update) {
    std::error_code error;
    fs::create_directories(kDir, error);
    ASSERT_FALSE(error) << error.message();
  }
  int policies = 0;
  for (const auto& [name, decision] : load->bundle->decisions) {
    for (const engine::BundleVersion& v : decision.versions) {
      ++policies;
      const engine::CompiledPolicy& policy = *v.policy;
      EXPECT_EQ(policy.canonical_form(), engine::kCanonicalForm);
      const fs::path text = kDir / (name + ".canonical");
      const fs::path sha256 = kDir / (name + ".sha256");
      if (update) {
        std::ofstream(text, std::ios::binary) << policy.canonical_source();
        std::ofstream(sha256, std::ios::binary) << policy.id().sha256 << "\n";
        continue;
      }
      std::error_code missing;
      ASSERT_TRUE(fs::exists(text, missing)) << text << ": no golden for canonical form "
                                             << engine::kCanonicalForm << " " << missing.message();
      EXPECT_EQ(policy.canonical_source(), Slurp(text))
          << name << ": the canonical form changed; see the top of this file";
      EXPECT_EQ(policy.id().sha256 + "\n", Slurp(sha256)) << name;
      // The golden sha256 is the golden text's: what the log stores verifies.
      EXPECT_EQ(crypto::Sha256Hex(Slurp(text)) + "\n", Slurp(sha256)) << name;
    }
  }
  EXPECT_EQ(policies, 6);  // the four reference decisions and the two examples of edition 2
}

// Every earlier form's goldens stay: a version stored in that form is
// rebuilt from its text, under its stored sha256, by today's creditd.
TEST(CanonicalFormGolden, TextsOfEveryFormRebuildUnderTheirSha256) {
  int forms = 0;
  for (int form = 1; form <= engine::kCanonicalForm; ++form) {
    const fs::path dir = fs::path("tests/golden/canonical") / absl::StrCat("form", form);
    std::error_code error;
    ASSERT_TRUE(fs::is_directory(dir, error)) << dir << ": " << error.message();
    ++forms;
    for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
      const fs::directory_entry& entry = *it;
      if (entry.path().extension() != ".canonical") continue;
      const std::string text = Slurp(entry.path());
      fs::path sha_path = entry.path();
      sha_path.replace_extension(".sha256");
      std::string sha256 = Slurp(sha_path);
      while (!sha256.empty() && sha256.back() == '\n') sha256.pop_back();
      absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> policy =
          engine::CompileStoredSource(text, sha256, form);
      ASSERT_TRUE(policy.ok()) << entry.path() << ": " << policy.status();
      EXPECT_EQ((*policy)->id().sha256, sha256);
    }
    ASSERT_FALSE(error) << error.message();
  }
  EXPECT_EQ(forms, engine::kCanonicalForm);
}

}  // namespace
}  // namespace creditd
