// creditctl report: the site's pages for the reference policies, escaping
// of hostile text, approvals verified or not, the diff against older
// policies, the impact on a log, and a site directory that is not ours.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "audit/sqlite_audit.h"
#include "cli/policy_words.h"
#include "cli/report_html.h"
#include "credit/v1/creditd.pb.h"
#include "crypto/ed25519.h"
#include "dsl/parser.h"
#include "engine/bundle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/decide.h"
#include "tests/cli/cli_run.h"
#include "tests/cli/decision_log.h"
#include "tests/engine/test_files.h"

namespace creditd::cli {
namespace {

namespace fs = std::filesystem;
using engine::testing::Edit;
using engine::testing::MakeDir;
using engine::testing::Write;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A copy of the reference policies, to change.
std::string CopyOfPolicies(const std::string& name) {
  const std::string dir = MakeDir(name) + "/policies";
  std::error_code error;
  fs::copy("policies", dir, fs::copy_options::recursive, error);
  EXPECT_FALSE(error) << error.message();
  return dir;
}

// The PolicyId of every version in `dir`, by decision name.
std::map<std::string, engine::PolicyId> Ids(const std::string& dir) {
  engine::DiskFileReader reader;
  absl::StatusOr<engine::BundleLoad> load = engine::LoadBundle(dir, reader);
  EXPECT_TRUE(load.ok() && load->bundle != nullptr);
  std::map<std::string, engine::PolicyId> ids;
  if (!load.ok() || load->bundle == nullptr) return ids;
  for (const auto& [name, versions] : load->bundle->decisions) {
    for (const engine::BundleVersion& v : versions.versions) ids[name] = v.policy->id();
  }
  return ids;
}

TEST(ReportHtmlTest, EscapesTextAndAttributes) {
  EXPECT_EQ(html::Escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(html::Escape(std::string("a\0b\x1b"
                                     "c\n",
                                     6)),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD"
            "c\n");
  html::Writer w;
  w.Open("p", {{"title", "\"><script>x</script>"}}).Text("<b>").Close();
  w.Element("td", "1 & 2");
  EXPECT_EQ(w.Finish(),
            "<!DOCTYPE html>\n<p title=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\">&lt;b&gt;</p>\n"
            "<td>1 &amp; 2</td>\n");
}

// The condition of the first rule of a policy whose rule reads `condition`.
std::string Condition(const std::string& condition) {
  const std::string text = absl::StrCat(
      "policy p\n  version 1.0.0\n\nenum Segment { new, existing, strategic }\n"
      "input segment: Segment\ninput amount: money >= 0\ninput ratio: percent\n"
      "input flagged: bool\noutput big: bool = false\n"
      "rule r\n  when ",
      condition, "\n  then set big = true\n");
  dsl::SourceSet sources;
  dsl::DiagnosticSink sink;
  const int index = sources.Add("p.credit", text);
  absl::StatusOr<std::unique_ptr<dsl::ast::File>> file = dsl::Parse(sources, index, sink);
  EXPECT_TRUE(file.ok() && *file != nullptr) << text;
  if (!file.ok() || *file == nullptr) return "";
  for (const dsl::ast::Declaration& d : (*file)->declarations) {
    if (const auto* rule = std::get_if<dsl::ast::RuleDecl>(&d)) {
      return ConditionInWords(*rule->condition).ToString();
    }
  }
  ADD_FAILURE() << "no rule";
  return "";
}

TEST(PolicyWordsTest, ConditionsReadAsStatements) {
  EXPECT_EQ(Condition("segment = new and amount > 500_000 and not flagged"),
            "all of: segment is new; amount is above 500000; flagged is false");
  EXPECT_EQ(Condition("amount >= 1_000 or segment in {strategic, existing}"),
            "any of: amount is at least 1000; segment is one of strategic, existing");
  EXPECT_EQ(Condition("ratio in (60%, 70.0%]"), "ratio is above 60% and at most 70%");
  EXPECT_EQ(Condition("amount in [1, 29]"), "amount is from 1 to 29, both included");
  // Negation turns comparisons round and `and` into `or`.
  EXPECT_EQ(Condition("not (amount < 10 and segment != new)"),
            "any of: amount is at least 10; segment is new");
  EXPECT_EQ(Condition("flagged and (amount > 1 or amount < 0)"),
            "all of: flagged is true; (any of: amount is above 1; amount is below 0)");
  EXPECT_EQ(Condition("amount * 2 > 10"), "amount * 2 is above 10");
}

TEST(ReportTest, EverySectionOfTheReferencePolicies) {
  const std::string site = MakeDir("report_reference") + "/site";
  const CliRun run = Creditctl({"report", "policies", "--out", site});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  const std::map<std::string, engine::PolicyId> ids = Ids("policies");
  ASSERT_FALSE(ids.empty());
  // One page per version and the index.
  EXPECT_EQ(run.out, absl::StrCat("wrote ", site, "/index.html: ", ids.size() + 1, " pages\n"));
  const std::string index = Read(site + "/index.html");
  const std::string css = Read(site + "/report.css");
  EXPECT_THAT(css, HasSubstr("@media print"));
  for (const auto& [name, id] : ids) {
    const std::string page = absl::StrCat(name, "-", id.version, ".html");
    EXPECT_THAT(index, HasSubstr(absl::StrCat("href=\"", page, "\"")));
    const std::string text = Read(absl::StrCat(site, "/", page));
    EXPECT_THAT(text, HasSubstr(id.sha256)) << name;
    for (const char* section : {"policy", "approvals", "contract", "reasons", "scorecards", "bands",
                                "tables", "rules", "tests"}) {
      EXPECT_THAT(text, HasSubstr(absl::StrCat("<section id=\"", section, "\">")))
          << name << " " << section;
    }
    EXPECT_THAT(text, HasSubstr("<link rel=\"stylesheet\" href=\"report.css\">"));
    EXPECT_THAT(text, Not(HasSubstr("<script")));
    EXPECT_THAT(text, Not(HasSubstr("http:")));
    EXPECT_THAT(text, Not(HasSubstr("https:")));
    // The shipped policies' cases all pass, with full coverage.
    EXPECT_THAT(text, HasSubstr(" 0 failed.")) << name;
    EXPECT_THAT(text, HasSubstr("(100.0%)")) << name;
    EXPECT_THAT(text, Not(HasSubstr("FAIL"))) << name;
  }
  const std::string page = Read(
      absl::StrCat(site, "/credit_application-", ids.at("credit_application").version, ".html"));
  // Header and approvals (none here, and nothing verified).
  EXPECT_THAT(page, HasSubstr("<dd>Credit Risk</dd>"));
  EXPECT_THAT(page, HasSubstr("<dd>2026-01-01 (serves"));
  EXPECT_THAT(page, HasSubstr("NOT verified"));
  // Inputs with their ranges, outputs with their types.
  EXPECT_THAT(page, HasSubstr("<td>equity_pledge_ratio</td>\n<td>percent</td>\n<td>in [0%, "
                              "100%]</td>\n<td>at most 2 in percent (4 as a fraction)</td>"));
  EXPECT_THAT(page, HasSubstr("<td>requested_limit</td>\n<td>money</td>\n<td>&gt;= 0</td>\n"
                              "<td>at most 2</td>\n<td>none</td>\n<td>must give it</td>"));
  EXPECT_THAT(page, HasSubstr("<td>credit_limit</td>\n<td>money</td>\n<td>proposed_limit</td>\n"
                              "<td>capped by grade_d, major_litigation (the smallest cap "
                              "wins)</td>"));
  // The scorecard's bins, the band's rows, the table's rows with each cell.
  EXPECT_THAT(page, HasSubstr("<td>financial</td>\n<td>40%</td>\n<td>debt_ratio</td>\n"
                              "<td>&lt;= 60%</td>\n<td>40</td>\n<td>HIGH_LEVERAGE below 40 "
                              "points</td>"));
  EXPECT_THAT(page, HasSubstr("<td>[1.5, 2.0)</td>\n<td>22</td>"));
  EXPECT_THAT(page, HasSubstr("<h3>Band grade: Grade on credit_score.total</h3>"));
  EXPECT_THAT(page, HasSubstr("<td>[65, 80)</td>\n<td>B</td>"));
  EXPECT_THAT(page, HasSubstr("<h3>Table base_terms (hit first)</h3>"));
  EXPECT_THAT(page, HasSubstr("<td class=\"condition\">B</td>\n<td class=\"condition\">new</td>\n"
                              "<td class=\"result\">500_000</td>\n<td class=\"result\">30</td>"));
  // Rules in words, with their reasons and messages.
  EXPECT_THAT(page, HasSubstr("<h3>Rule new_customer_without_collateral</h3>"));
  EXPECT_THAT(page, HasSubstr("<li>segment is new</li>\n<li>requested_limit is above 500000</li>\n"
                              "<li>has_collateral is false</li>"));
  EXPECT_THAT(page, HasSubstr("<td>the outcome becomes refer, unless a more severe one "
                              "applies</td>\n<td>NEW_CUSTOMER_COLLATERAL_REQUIRED</td>\n<td>A new "
                              "customer above 500,000 must offer collateral</td>"));
  EXPECT_THAT(page, HasSubstr("<td>credit_limit is capped at 0 (at most 0)</td>"));
  // Its test cases, each with its result.
  EXPECT_THAT(page, HasSubstr("<h3>credit_application.tests.json</h3>"));
  EXPECT_THAT(page, HasSubstr("<td>pass</td>"));
}

TEST(ReportTest, HostileTextIsEscapedEverywhere) {
  const std::string root = MakeDir("report_hostile");
  const std::string hostile = "<script>alert(1)</script>\"'&";
  const std::string escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;";
  Write(root + "/policies/p.credit",
        absl::StrCat("policy p\n  version 1.0.0\n  effective 2026-01-01\n  owner \"", "<img src=x>",
                     "\"\n  description \"", "</title><script>d()</script>",
                     "\"\n\nenum Outcome { ok, no }\n"
                     "reason R \"",
                     "<b onclick=x>&amp;</b>",
                     "\"\ninput amount: money >= 0\noutcome Outcome = ok\n"
                     "rule big\n  when amount > 1_000\n  then no R\n"));
  Write(root + "/policies/p.tests.json",
        absl::StrCat("{\"cases\": [{\"name\": \"", "<script>alert(1)</script>\\\"'&",
                     "\", \"facts\": {\"amount\": 5000}, \"expect\": {\"outcome\": \"ok\"}}]}"));
  // An approval whose comment is hostile.
  absl::StatusOr<crypto::Ed25519Key> key = crypto::Ed25519Key::Generate();
  ASSERT_TRUE(key.ok());
  Write(root + "/alice.pem", *key->PrivateKeyPem());
  const CliRun approve = Creditctl({"approve", "--key", root + "/alice.pem", "--approver", "alice",
                                    "--comment", hostile, root + "/policies/p.credit"});
  ASSERT_EQ(approve.code, kExitOk) << approve.err;

  const CliRun run = Creditctl({"report", root + "/policies", "--out", root + "/site"});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  const std::string page = Read(root + "/site/p-1.0.0.html");
  EXPECT_THAT(page, Not(HasSubstr("<script")));
  EXPECT_THAT(page, Not(HasSubstr("<img")));
  EXPECT_THAT(page, Not(HasSubstr("<b ")));
  EXPECT_THAT(page, HasSubstr("&lt;img src=x&gt;"));                               // owner
  EXPECT_THAT(page, HasSubstr("&lt;/title&gt;&lt;script&gt;d()&lt;/script&gt;"));  // description
  EXPECT_THAT(page, HasSubstr("&lt;b onclick=x&gt;&amp;amp;&lt;/b&gt;"));          // reason message
  EXPECT_THAT(page, HasSubstr(escaped));  // approval comment
  // The failing case, named by hostile text, with what differed.
  EXPECT_THAT(page, HasSubstr("<td>&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;</td>\n"
                              "<td>FAIL</td>\n<td>outcome: expected ok, got no</td>"));
  const std::string index = Read(root + "/site/index.html");
  EXPECT_THAT(index, Not(HasSubstr("<script")));
  EXPECT_THAT(index, HasSubstr("0 passed, 1 failed"));
}

class ReportApprovalsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeDir("report_approvals");
    Write(root_ + "/policies/loan.credit", Read("policies/examples/credit_check.credit"));
    for (const char* name : {"alice", "mallory"}) {
      absl::StatusOr<crypto::Ed25519Key> key = crypto::Ed25519Key::Generate();
      ASSERT_TRUE(key.ok());
      Write(absl::StrCat(root_, "/", name, ".pem"), *key->PrivateKeyPem());
      keys_[name] = absl::Base64Escape(key->public_key());
      const CliRun approve = Creditctl(
          {"approve", "--key", absl::StrCat(root_, "/", name, ".pem"), "--approver", name,
           "--comment", absl::StrCat("checked by ", name), root_ + "/policies/loan.credit"});
      ASSERT_EQ(approve.code, kExitOk) << approve.err;
    }
    Write(root_ + "/policies/approvals/broken.approval", "not an approval\n");
  }
  std::string root_;
  std::map<std::string, std::string> keys_;
};

TEST_F(ReportApprovalsTest, VerifiedWithTheApproversFile) {
  Write(root_ + "/approvers", absl::StrCat("alice ", keys_["alice"], "\n"));
  const CliRun run = Creditctl({"report", root_ + "/policies", "--out", root_ + "/site",
                                "--approvers", root_ + "/approvers"});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  const std::string page = Read(root_ + "/site/credit_check-1.0.0.html");
  EXPECT_THAT(page, HasSubstr("1 trusted approver approved exactly this text"));
  EXPECT_THAT(page, HasSubstr("<tr class=\"pass\">\n<td>alice</td>"));
  EXPECT_THAT(page, HasSubstr("<td>checked by alice</td>"));
  EXPECT_THAT(page, HasSubstr("<td>verified</td>"));
  EXPECT_THAT(page, HasSubstr("<tr class=\"fail\">\n<td>mallory</td>"));
  EXPECT_THAT(page, HasSubstr("<td>refused: `mallory` is not a trusted approver</td>"));
  EXPECT_THAT(page, Not(HasSubstr("NOT verified")));
  const std::string index = Read(root_ + "/site/index.html");
  EXPECT_THAT(index, HasSubstr("<td>1 verified</td>"));
  EXPECT_THAT(index, HasSubstr("Approval files that could not be read"));
  EXPECT_THAT(index, HasSubstr("approvals/broken.approval: "));
}

TEST_F(ReportApprovalsTest, ListedAndSaidToBeUnverifiedWithout) {
  const CliRun run = Creditctl({"report", root_ + "/policies", "--out", root_ + "/site"});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  const std::string page = Read(root_ + "/site/credit_check-1.0.0.html");
  EXPECT_THAT(page, HasSubstr("These approvals were NOT verified"));
  EXPECT_THAT(page, HasSubstr("<td>checked by alice</td>"));
  EXPECT_THAT(page, HasSubstr("<td>checked by mallory</td>"));
  EXPECT_THAT(page, Not(HasSubstr("<td>verified</td>")));
  EXPECT_THAT(Read(root_ + "/site/index.html"), HasSubstr("<td>2 found, not verified</td>"));
}

// A policy in a subdirectory is approved beside its file, where `creditctl
// approve` writes and creditd reads; the directory's own approvals/ is not
// its.
TEST_F(ReportApprovalsTest, APolicyInASubdirectoryIsApprovedBesideItsFile) {
  Write(root_ + "/approvers", absl::StrCat("alice ", keys_["alice"], "\n"));
  std::error_code error;
  fs::create_directories(root_ + "/policies/examples", error);
  ASSERT_FALSE(error);
  fs::rename(root_ + "/policies/loan.credit", root_ + "/policies/examples/loan.credit", error);
  ASSERT_FALSE(error);
  CliRun run = Creditctl({"report", root_ + "/policies", "--out", root_ + "/site", "--approvers",
                          root_ + "/approvers"});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  EXPECT_THAT(Read(root_ + "/site/credit_check-1.0.0.html"),
              HasSubstr("No approval of credit_check 1.0.0 in examples/approvals/."));
  const CliRun approve =
      Creditctl({"approve", "--key", root_ + "/alice.pem", "--approver", "alice", "--comment",
                 "beside it", root_ + "/policies/examples/loan.credit"});
  ASSERT_EQ(approve.code, kExitOk) << approve.err;
  run = Creditctl({"report", root_ + "/policies", "--out", root_ + "/site", "--approvers",
                   root_ + "/approvers"});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  const std::string page = Read(root_ + "/site/credit_check-1.0.0.html");
  EXPECT_THAT(page, HasSubstr("<td>beside it</td>"));
  EXPECT_THAT(page, Not(HasSubstr("<td>checked by alice</td>")));
}

TEST_F(ReportApprovalsTest, AnApproversFileThatCannotBeReadIsAUsageError) {
  const CliRun run = Creditctl(
      {"report", root_ + "/policies", "--out", root_ + "/site", "--approvers", root_ + "/missing"});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("approvers file"));
  std::error_code error;
  EXPECT_FALSE(fs::exists(root_ + "/site", error));
}

TEST(ReportTest, TheDiffShowsAChangedThreshold) {
  const std::string old_dir = CopyOfPolicies("report_diff_old");
  const std::string new_dir = CopyOfPolicies("report_diff_new");
  const std::string file = new_dir + "/credit_application.credit";
  Write(file,
        Edit(Read(file), "| C     | any       => 200_000,", "| C     | any       => 150_000,"));
  const std::string site = MakeDir("report_diff") + "/site";
  const CliRun run = Creditctl({"report", new_dir, "--out", site, "--against", old_dir});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  const std::string version = Ids(new_dir).at("credit_application").version;
  const std::string page = Read(absl::StrCat(site, "/credit_application-", version, ".html"));
  EXPECT_THAT(page, HasSubstr("<section id=\"changes\">"));
  EXPECT_THAT(page, HasSubstr("1 change, 0 break callers."));
  EXPECT_THAT(page, HasSubstr("<td>~ changed</td>\n<td>table base_terms row 7 (C | any) "
                              "base_limit</td>\n<td>200000</td>\n<td>150000</td>\n"
                              "<td>credit_application.credit:"));
  // The cases at the old threshold now fail, and the page says so.
  EXPECT_THAT(page, HasSubstr("<td>FAIL</td>"));
  const std::string index = Read(site + "/index.html");
  EXPECT_THAT(index, HasSubstr("<td>1, 0 breaking</td>"));
  EXPECT_THAT(index, HasSubstr("<td>none</td>"));
  // The others did not change.
  const std::string dunning =
      Read(absl::StrCat(site, "/dunning-", Ids(new_dir).at("dunning").version, ".html"));
  EXPECT_THAT(dunning, HasSubstr("No change in meaning from " + old_dir));
}

TEST(ReportTest, SeveralVersionsEachHaveAPage) {
  const std::string root = MakeDir("report_versions");
  const std::string text = Read("policies/examples/credit_check.credit");
  Write(root + "/policies/credit_check-1.0.0.credit", text);
  Write(root + "/policies/credit_check-1.1.0.credit",
        Edit(Edit(text, "version 1.0.0", "version 1.1.0"), "=> 300_000,", "=> 250_000,"));
  Write(root + "/old/credit_check.credit", text);
  const CliRun run = Creditctl(
      {"report", root + "/policies", "--out", root + "/site", "--against", root + "/old"});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr(": 3 pages\n"));
  const std::string older = Read(root + "/site/credit_check-1.0.0.html");
  const std::string latest = Read(root + "/site/credit_check-1.1.0.html");
  EXPECT_THAT(older, HasSubstr("A later version of this decision is in the directory"));
  EXPECT_THAT(older, HasSubstr("href=\"credit_check-1.1.0.html\""));
  EXPECT_THAT(latest, HasSubstr("<td>300000</td>\n<td>250000</td>"));
  // No test file names either version's file.
  EXPECT_THAT(latest, HasSubstr("No test file tests this version"));
  EXPECT_THAT(Read(root + "/site/index.html"), HasSubstr("1.1.0 (latest)"));
}

TEST(ReportTest, RefusesADirectoryOfOtherFiles) {
  const std::string root = MakeDir("report_foreign");
  Write(root + "/site/notes.txt", "mine\n");
  const CliRun run = Creditctl({"report", "policies", "--out", root + "/site"});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("is not empty and holds no earlier report"));
  EXPECT_EQ(Read(root + "/site/notes.txt"), "mine\n");
  std::error_code error;
  EXPECT_FALSE(fs::exists(root + "/site/index.html", error));
  // A file is not a site either.
  const CliRun file = Creditctl({"report", "policies", "--out", root + "/site/notes.txt"});
  EXPECT_EQ(file.code, kExitUsage);
  EXPECT_THAT(file.err, HasSubstr("is not a directory"));
}

TEST(ReportTest, WritesOverItsOwnEarlierReportOnly) {
  const std::string root = MakeDir("report_again");
  Write(root + "/policies/a.credit", Read("policies/examples/credit_check.credit"));
  Write(root + "/policies/b.credit", Read("policies/examples/dunning_procedure.credit"));
  ASSERT_EQ(Creditctl({"report", root + "/policies", "--out", root + "/site"}).code, kExitOk);
  std::error_code error;
  ASSERT_TRUE(fs::exists(root + "/site/dunning_procedure-1.0.0.html", error));
  Write(root + "/site/mine.txt", "kept\n");
  fs::remove(root + "/policies/b.credit", error);
  const CliRun again = Creditctl({"report", root + "/policies", "--out", root + "/site"});
  ASSERT_EQ(again.code, kExitOk) << again.err;
  // The page of the decision that left is gone; what someone else put there stays.
  EXPECT_FALSE(fs::exists(root + "/site/dunning_procedure-1.0.0.html", error));
  EXPECT_TRUE(fs::exists(root + "/site/credit_check-1.0.0.html", error));
  EXPECT_EQ(Read(root + "/site/mine.txt"), "kept\n");
  EXPECT_THAT(Read(root + "/site/index.html"), Not(HasSubstr("dunning_procedure")));
}

TEST(ReportTest, PoliciesThatDoNotLoadAreAUsageError) {
  const std::string root = MakeDir("report_broken");
  Write(root + "/policies/p.credit", "policy p\n  version 1.0.0\n\noutput x: money = nope\n");
  const CliRun run = Creditctl({"report", root + "/policies", "--out", root + "/site"});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("error["));
  std::error_code error;
  EXPECT_FALSE(fs::exists(root + "/site", error));
  EXPECT_EQ(Creditctl({"report", root + "/nowhere", "--out", root + "/site"}).code, kExitUsage);
  EXPECT_EQ(Creditctl({"report", "policies", "--out", root + "/site", "--against", "git:x",
                       "--audit", root + "/none.db"})
                .code,
            kExitUsage);
}

// A log of decisions of `dir`'s `limit` decision, made as the server makes
// them (as the impact tests make theirs).
std::string LogOf(const std::string& dir, const std::vector<int>& amounts) {
  std::vector<credit::v1::EvaluateRequest> requests;
  for (int amount : amounts) {
    credit::v1::EvaluateRequest& request = requests.emplace_back();
    request.set_decision("limit");
    (*request.mutable_facts())["amount"].set_int_value(amount);
  }
  return testing::DecisionLog(dir, requests, "report-impact");
}

std::string Limit(const std::string& version, const std::string& threshold) {
  return absl::StrCat("policy limit\n  version ", version,
                      "\n  effective 2026-01-01\n\nenum Outcome { approve, refer }\n"
                      "reason BIG \"over the threshold\"\ninput amount: money >= 0\n"
                      "outcome Outcome = approve\noutput limit: money = amount * 50%\n"
                      "rule big\n  when amount > ",
                      threshold, "\n  then refer BIG\n");
}

TEST(ReportTest, TheImpactOnTheLoggedDecisions) {
  const std::string root = MakeDir("report_impact");
  Write(root + "/logged/limit.credit", Limit("1.0.0", "1_000"));
  const std::string log = LogOf(root + "/logged", {100, 600, 1200, 2000});
  Write(root + "/candidate/limit.credit", Limit("1.1.0", "500"));
  const CliRun run =
      Creditctl({"report", root + "/candidate", "--out", root + "/site", "--audit", log});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  const std::string page = Read(root + "/site/limit-1.1.0.html");
  EXPECT_THAT(page, HasSubstr("<section id=\"impact\">"));
  EXPECT_THAT(page, HasSubstr("<dt>Logged decisions</dt>\n<dd>4</dd>"));
  EXPECT_THAT(page, HasSubstr("<dt>Outcome changed</dt>\n<dd>1 (25.0% of those compared)</dd>"));
  EXPECT_THAT(page, HasSubstr("<td>approve</td>\n<td>refer</td>\n<td>1</td>"));
  EXPECT_THAT(page, HasSubstr("<td>limit</td>\n<td>1950</td>\n<td>1950</td>\n<td>+0</td>"));
  EXPECT_THAT(page, HasSubstr("<td>BIG</td>\n<td>1</td>"));
  EXPECT_THAT(Read(root + "/site/index.html"), HasSubstr("<td>1 of 4</td>"));
}

}  // namespace
}  // namespace creditd::cli
