// creditctl report DIR --out SITE: a static HTML site a compliance reviewer
// opens in a browser, one page per version of each decision in DIR (its
// identity, header and approvals; inputs, outputs, scorecards, bands,
// tables; rules in plain words; its test cases with coverage; and, for the
// latest version, the semantic diff against --against and the impact on
// the decisions of --audit). Static files only: no script, nothing fetched
// from anywhere, one stylesheet with a print section.

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/log_location.h"
#include "cli/creditctl.h"
#include "cli/impact.h"
#include "cli/output.h"
#include "cli/policy_sides.h"
#include "cli/policy_tests.h"
#include "cli/policy_words.h"
#include "cli/report_html.h"
#include "creditd/version.h"
#include "dsl/formatter.h"
#include "engine/approvals.h"
#include "engine/bundle.h"
#include "engine/file_system.h"
#include "engine/value.h"
#include "engine/versions.h"

namespace creditd::cli {
namespace {

namespace ast = dsl::ast;
namespace fs = std::filesystem;
using engine::Change;
using engine::CheckedPolicy;
using engine::JoinPath;
using html::Writer;

// The file that says a directory holds a report: its first line, then the
// name of every file the report wrote, one a line.
constexpr char kMarker[] = ".creditctl-report";
constexpr char kMarkerFirstLine[] = "creditctl report site";
constexpr char kStylesheet[] = "report.css";
constexpr char kIndex[] = "index.html";

// ---------------------------------------------------------------------------
// The site directory.

// May `name` (from a marker) be a file a report wrote?
bool IsReportFileName(const std::string& name) {
  if (name.empty() || name[0] == '.' || name.find('/') != std::string::npos) return false;
  return absl::EndsWith(name, ".html") || absl::EndsWith(name, ".css");
}

// The output directory: created when missing, refused when it holds files
// and no marker of an earlier report. Files are written whole (through a
// temporary file renamed into place, which replaces a link rather than
// writing where it points); the files an earlier report wrote and this one
// does not are removed at the end, and nothing else ever is.
class Site {
 public:
  // FailedPrecondition for a directory another program's files are in.
  static absl::StatusOr<std::unique_ptr<Site>> Open(const std::string& dir) {
    std::unique_ptr<Site> site(new Site(dir));
    std::error_code error;
    const fs::file_status status = fs::status(dir, error);
    if (error && error != std::errc::no_such_file_or_directory) {
      return absl::UnavailableError(absl::StrCat("cannot look at ", dir, ": ", error.message()));
    }
    if (status.type() == fs::file_type::not_found) {
      fs::create_directories(dir, error);
      if (error) {
        return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", error.message()));
      }
      return site;
    }
    if (status.type() != fs::file_type::directory) {
      return absl::FailedPreconditionError(absl::StrCat(dir, " exists and is not a directory"));
    }
    fs::directory_iterator entries(dir, error);
    if (error) {
      return absl::UnavailableError(absl::StrCat("cannot list ", dir, ": ", error.message()));
    }
    if (entries == fs::directory_iterator()) return site;
    const std::string marker = JoinPath(dir, kMarker);
    const fs::file_status marker_status = fs::symlink_status(marker, error);
    if (error && error != std::errc::no_such_file_or_directory) {
      return absl::UnavailableError(absl::StrCat("cannot look at ", marker, ": ", error.message()));
    }
    const bool has_marker = marker_status.type() == fs::file_type::regular;
    absl::StatusOr<std::string> text = has_marker ? ReadFile(marker) : absl::NotFoundError("");
    std::vector<std::string> lines;
    if (text.ok()) lines = absl::StrSplit(*text, '\n', absl::SkipEmpty());
    if (!has_marker || (text.ok() && (lines.empty() || lines[0] != kMarkerFirstLine))) {
      return absl::FailedPreconditionError(
          absl::StrCat(dir, " is not empty and holds no earlier report (no ", kMarker,
                       " file): give a new or empty directory; creditctl report never writes among "
                       "other files"));
    }
    if (!text.ok()) return text.status();
    for (size_t i = 1; i < lines.size(); ++i) {
      if (IsReportFileName(lines[i])) site->earlier_.insert(lines[i]);
    }
    return site;
  }

  // Writes the marker first, naming the earlier report's files and this
  // one's `names`: a report that stops half-way leaves a directory the
  // next report can write again.
  absl::Status Start(const std::vector<std::string>& names) {
    std::set<std::string> all = earlier_;
    all.insert(names.begin(), names.end());
    return WriteMarker(all);
  }

  // Writes the file `name` of the site, whole: Unavailable naming it, and
  // why, when it cannot.
  absl::Status Write(const std::string& name, const std::string& text) {
    absl::StatusOr<std::unique_ptr<FileOutput>> file =
        FileOutput::Create(JoinPath(dir_, name), 0644);
    if (!file.ok()) return file.status();
    (*file)->Write(text);
    if (absl::Status status = (*file)->Finish(); !status.ok()) return status;
    written_.insert(name);
    return absl::OkStatus();
  }

  // Removes what the earlier report wrote and this one did not, then
  // writes the marker naming this report's files.
  absl::Status Finish() {
    for (const std::string& name : earlier_) {
      if (written_.count(name) > 0) continue;
      const std::string path = JoinPath(dir_, name);
      std::error_code error;
      const fs::file_status status = fs::symlink_status(path, error);
      if (error == std::errc::no_such_file_or_directory) continue;
      if (error) {
        return absl::UnavailableError(absl::StrCat("cannot look at ", path, ": ", error.message()));
      }
      if (status.type() != fs::file_type::regular && status.type() != fs::file_type::symlink) {
        continue;
      }
      fs::remove(path, error);
      if (error) {
        return absl::UnavailableError(absl::StrCat("cannot remove ", path, ": ", error.message()));
      }
    }
    return WriteMarker(written_);
  }

 private:
  explicit Site(std::string dir) : dir_(std::move(dir)) {}

  absl::Status WriteMarker(const std::set<std::string>& names) {
    std::string text = absl::StrCat(kMarkerFirstLine, "\n");
    for (const std::string& name : names) absl::StrAppend(&text, name, "\n");
    absl::Status status = Write(kMarker, text);
    written_.erase(kMarker);
    return status;
  }

  std::string dir_;
  std::set<std::string> earlier_;  // what the earlier report wrote
  std::set<std::string> written_;  // what this one wrote, the marker aside
};

// ---------------------------------------------------------------------------
// What the pages show, gathered before any is written.

using Policy = std::shared_ptr<const engine::CompiledPolicy>;

// An approval file, as far as it could be read.
struct ApprovalFile {
  std::string file;  // approvals/NAME
  absl::StatusOr<engine::SignedApproval> parsed;
};

// One approval of a version, and what became of it.
struct ApprovalShown {
  const ApprovalFile* file = nullptr;
  bool counted = false;  // verified (with --approvers)
  std::string refused;   // why not, with --approvers; empty when counted
};

// The test files of one version and what they found.
struct TestsShown {
  struct File {
    std::string shown;  // relative to DIR
    TestFileResult result;
  };
  std::vector<File> files;
  int passed = 0;
  int failed = 0;
  int covered = 0;
  int total = 0;
  std::vector<CoverageItem> missing;
};

struct VersionShown {
  const engine::BundleVersion* version = nullptr;
  std::string page;         // its file in the site
  std::string state;        // in force, scheduled, superseded
  bool latest = false;      // the highest version: the one diff and impact compare
  std::string latest_page;  // the page of the latest version of its decision
  std::vector<ApprovalShown> approvals;
  int approvers = 0;                       // distinct trusted approvers (with --approvers)
  std::unique_ptr<TestsShown> tests;       // null when no test file tests it
  const DecisionDiff* diff = nullptr;      // latest, with --against
  const DecisionImpact* impact = nullptr;  // latest, with --audit
};

struct ReportInput {
  std::string dir;
  std::string against;      // OLD, or empty
  std::string audit;        // the log, or empty
  std::string audit_shown;  // the log as a page may name it (LocationForDisplay)
  std::string approvers;    // the approvers file, or empty
  absl::Time made;
  std::vector<ApprovalFile> approval_files;
  std::vector<VersionShown> versions;  // by decision name, then semantic version
  std::vector<DecisionDiff> diffs;
  std::vector<std::string> unmatched_tests;  // "FILE: why"
  std::unique_ptr<ImpactReport> impact;
};

// ---------------------------------------------------------------------------
// Small pieces of text.

std::string FileOf(const CheckedPolicy& policy, const dsl::SourceSpan& span) {
  if (!span.known() || policy.program == nullptr || span.file >= policy.program->sources.size()) {
    return "";
  }
  return policy.program->sources.file(span.file).path();
}

std::string Where(const CheckedPolicy& policy, const dsl::SourceSpan& span) {
  const std::string file = FileOf(policy, span);
  return file.empty() ? "" : absl::StrCat(file, ":", span.line);
}

// A file name made of the characters a URL and any file system take as they are.
std::string SafeFileName(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '_' || c == '-';
    out += plain ? c : '_';
  }
  if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');
  return out;
}

std::string InputType(const engine::InputInfo& input) {
  return input.decl != nullptr ? dsl::FormatType(input.decl->type) : engine::TypeName(input.type);
}

std::string InputRange(const engine::InputInfo& input) {
  if (input.decl == nullptr || !input.decl->constraint) return "any";
  const ast::Test& test = *input.decl->constraint;
  return absl::StrCat(test.kind == ast::TestKind::kInterval ? "in " : "", dsl::FormatTest(test));
}

// The most decimal places a fact may have; a percent's as percent points
// too, since that is how people write them.
std::string Places(const engine::InputInfo& input) {
  if (input.places < 0) return "";
  if (input.type.kind == engine::TypeKind::kPercent && input.places >= 2) {
    return absl::StrCat("at most ", input.places - 2, " in percent (", input.places,
                        " as a fraction)");
  }
  return absl::StrCat("at most ", input.places);
}

std::string OutputType(const engine::OutputInfo& output) {
  std::string text =
      output.decl != nullptr ? dsl::FormatType(output.decl->type) : engine::TypeName(output.type);
  if (output.places >= 0 && output.decl != nullptr && output.decl->type.places.empty()) {
    absl::StrAppend(&text, "(", output.places, ")");
  }
  return text;
}

std::string ReasonMessage(const CheckedPolicy& policy, const std::string& code) {
  const int index = policy.FindReason(code);
  return index < 0 ? "" : policy.reasons[static_cast<size_t>(index)].message;
}

std::string ChangeSign(const Change& c) {
  switch (c.kind) {
    case Change::Kind::kAdded:
      return "+ added";
    case Change::Kind::kRemoved:
      return "- removed";
    case Change::Kind::kChanged:
      return "~ changed";
  }
  return "";
}

// ---------------------------------------------------------------------------
// Pieces of pages.

void Row(Writer& w, const std::vector<std::string>& cells, const char* cell = "td") {
  w.Open("tr");
  for (const std::string& text : cells) w.Element(cell, text);
  w.Close();
}

void HeaderRow(Writer& w, const std::vector<std::string>& cells) {
  w.Open("thead");
  Row(w, cells, "th");
  w.Close();
}

void Term(Writer& w, const std::string& term, const std::string& text, bool code = false) {
  w.Element("dt", term);
  w.Open("dd");
  if (code) {
    w.Element("code", text);
  } else {
    w.Text(text);
  }
  w.Close();
}

void Note(Writer& w, const std::string& text, const char* css = "note") {
  w.Element("p", text, {{"class", css}});
}

void Location(Writer& w, const std::string& where) {
  if (!where.empty()) w.Element("p", absl::StrCat("Declared at ", where), {{"class", "where"}});
}

// The head of a page and its navigation.
void StartPage(Writer& w, const std::string& title,
               const std::vector<std::pair<std::string, std::string>>& sections) {
  w.Open("html", {{"lang", "en"}});
  w.Open("head");
  w.Void("meta", {{"charset", "utf-8"}});
  w.Void("meta", {{"http-equiv", "Content-Security-Policy"},
                  {"content", "default-src 'none'; style-src 'self'"}});
  w.Void("meta", {{"name", "viewport"}, {"content", "width=device-width, initial-scale=1"}});
  w.Element("title", title);
  w.Void("link", {{"rel", "stylesheet"}, {"href", kStylesheet}});
  w.Close();
  w.Open("body");
  w.Open("nav", {{"class", "site"}});
  w.Element("a", "All policies", {{"href", kIndex}});
  for (const auto& [id, label] : sections) {
    w.Text(" ");
    w.Element("a", label, {{"href", "#" + id}});
  }
  w.Close();
  w.Open("main");
}

void EndPage(Writer& w, const ReportInput& input) {
  w.Close();  // main
  w.Open("footer");
  w.Text(absl::StrCat("Made by creditctl report ", kVersion, " on ",
                      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", input.made, absl::UTCTimeZone()),
                      " from ", input.dir, "."));
  w.Close();
}

// ---------------------------------------------------------------------------
// A version's page.

void HeaderSection(Writer& w, const VersionShown& v) {
  const engine::CompiledPolicy& policy = *v.version->policy;
  const CheckedPolicy& checked = policy.checked();
  w.Open("section", {{"id", "policy"}});
  w.Element("h2", "Policy");
  w.Open("dl");
  Term(w, "Name", policy.id().name, true);
  Term(w, "Version", policy.id().version, true);
  Term(w, "sha256", policy.id().sha256, true);
  Term(w, "File", v.version->path, true);
  std::vector<std::string> imports;
  if (checked.program != nullptr) {
    for (int f = 1; f < checked.program->sources.size(); ++f) {
      imports.push_back(checked.program->sources.file(f).path());
    }
  }
  Term(w, "Imports", imports.empty() ? "none" : absl::StrJoin(imports, ", "));
  Term(w, "Effective date",
       checked.effective.empty()
           ? "not given"
           : absl::StrCat(checked.effective,
                          " (serves requests that name no version from midnight UTC)"));
  Term(w, "State when the report was made", v.state);
  Term(w, "Edition", absl::StrCat(checked.edition));
  Term(w, "Owner", checked.owner.empty() ? "not given" : checked.owner);
  Term(w, "Description", checked.description.empty() ? "not given" : checked.description);
  w.Close();
  w.Close();
}

void ApprovalsSection(Writer& w, const ReportInput& input, const VersionShown& v) {
  w.Open("section", {{"id", "approvals"}});
  w.Element("h2", "Approvals");
  const bool verified = !input.approvers.empty();
  if (verified) {
    Note(w, absl::StrCat(v.approvers, v.approvers == 1 ? " trusted approver" : " trusted approvers",
                         " approved exactly this text (name, version and sha256), verified with "
                         "the approvers file ",
                         input.approvers, "."));
  } else {
    Note(w,
         "These approvals were NOT verified: no approvers file was given (--approvers), so "
         "neither the signatures nor the approvers were checked. They are listed as the files "
         "say.",
         "warning");
  }
  if (v.approvals.empty()) {
    Note(w, absl::StrCat("No approval of ", v.version->policy->id().name, " ",
                         v.version->policy->id().version, " in ",
                         engine::ApprovalsDirOf(v.version->path), "/."));
  } else {
    w.Open("table", {{"class", "approvals"}});
    HeaderRow(w, {"Approver", "Time", "Comment", "Key", "Approves this text", "Status", "File"});
    w.Open("tbody");
    for (const ApprovalShown& a : v.approvals) {
      const engine::SignedApproval& s = *a.file->parsed;
      const bool same_text = s.approval.id.sha256 == v.version->policy->id().sha256;
      std::string status;
      if (!verified) {
        status = "not verified";
      } else if (a.counted) {
        status = "verified";
      } else {
        status = absl::StrCat("refused: ", a.refused);
      }
      w.Open("tr", {{"class", verified ? (a.counted ? "pass" : "fail") : "unverified"}});
      w.Element("td", s.approval.approver);
      w.Element("td", s.approval.time);
      w.Element("td", s.approval.comment);
      w.Element("td", s.key_id);
      w.Element("td",
                same_text ? "yes" : absl::StrCat("no: it names sha256 ", s.approval.id.sha256));
      w.Element("td", status);
      w.Element("td", a.file->file);
      w.Close();
    }
    w.Close();
    w.Close();
  }
  int unreadable = 0;
  for (const ApprovalFile& f : input.approval_files) unreadable += f.parsed.ok() ? 0 : 1;
  if (unreadable > 0) {
    Note(w,
         absl::StrCat(unreadable, unreadable == 1 ? " approval file" : " approval files",
                      " could not be read and count for no version: the index lists them."),
         "warning");
  }
  w.Close();
}

void ContractSection(Writer& w, const CheckedPolicy& policy) {
  w.Open("section", {{"id", "contract"}});
  w.Element("h2", "Inputs and outputs");
  w.Element("h3", "Inputs");
  w.Open("table", {{"class", "inputs"}});
  HeaderRow(w, {"Input", "Type", "Range", "Decimal places", "Default", "A request", "Declared at"});
  w.Open("tbody");
  for (const engine::InputInfo& input : policy.inputs) {
    std::string request = "must give it";
    if (input.optional) request = "may leave it out (optional)";
    if (input.default_value) request = "may leave it out (the default applies)";
    Row(w, {input.name, InputType(input), InputRange(input), Places(input),
            input.default_value ? engine::FormatValue(*input.default_value, input.type) : "none",
            request, input.decl != nullptr ? Where(policy, input.decl->span) : ""});
  }
  w.Close();
  w.Close();

  w.Element("h3", "Outcome");
  if (policy.outcome != nullptr) {
    const std::string& initial =
        policy.outcome->symbols[static_cast<size_t>(policy.outcome_initial)];
    Note(w, absl::StrCat("The outcome is one of ", policy.outcome->name, ": ",
                         absl::StrJoin(policy.outcome->symbols, " < "),
                         " (least severe first). It starts at ", initial,
                         "; rules only move it to a more severe one."));
  } else {
    Note(w, "This policy declares no outcome.");
  }

  // The rules that change each output, by how.
  std::map<std::string, std::map<ast::EffectKind, std::vector<std::string>>> changed_by;
  for (const engine::RuleInfo& rule : policy.rules) {
    if (rule.decl == nullptr) continue;
    for (const ast::Effect& effect : rule.decl->effects) {
      if (effect.kind != ast::EffectKind::kOutcome && effect.kind != ast::EffectKind::kReason) {
        changed_by[effect.target.name][effect.kind].push_back(rule.id);
      }
    }
  }
  w.Element("h3", "Outputs");
  w.Open("table", {{"class", "outputs"}});
  HeaderRow(w, {"Output", "Type", "Value before rules", "Changed by rules", "Declared at"});
  w.Open("tbody");
  for (const engine::OutputInfo& output : policy.outputs) {
    std::string value;
    if (output.decl != nullptr && output.decl->value != nullptr) {
      value = dsl::FormatExpr(*output.decl->value);
    } else if (output.type.kind == engine::TypeKind::kEnum && output.type.enum_type != nullptr &&
               !output.type.enum_type->symbols.empty()) {
      value = absl::StrCat(output.type.enum_type->symbols.front(), " (its lowest symbol)");
    } else if (output.type.kind == engine::TypeKind::kEnumSet) {
      value = "{} (empty)";
    } else {
      value = "none";
    }
    std::vector<std::string> changes;
    for (const auto& [kind, rules] : changed_by[output.name]) {
      const std::string names = absl::StrJoin(rules, ", ");
      switch (kind) {
        case ast::EffectKind::kSet: {
          const char* wins = "the rule with the highest priority wins";
          if (output.resolution == engine::SetResolution::kLowest) wins = "the lowest value wins";
          if (output.resolution == engine::SetResolution::kHighest) wins = "the highest value wins";
          changes.push_back(absl::StrCat("set by ", names, " (", wins, ")"));
          break;
        }
        case ast::EffectKind::kCap:
          changes.push_back(absl::StrCat("capped by ", names, " (the smallest cap wins)"));
          break;
        case ast::EffectKind::kRaise:
          changes.push_back(absl::StrCat("raised by ", names, " (the highest wins)"));
          break;
        case ast::EffectKind::kAdd:
          changes.push_back(absl::StrCat("added to by ", names));
          break;
        default:
          break;
      }
    }
    Row(w, {output.name, OutputType(output), value,
            changes.empty() ? "no rule" : absl::StrJoin(changes, "; "),
            output.decl != nullptr ? Where(policy, output.decl->span) : ""});
  }
  w.Close();
  w.Close();

  if (!policy.lets.empty()) {
    w.Element("h3", "Derived values");
    w.Open("table", {{"class", "lets"}});
    HeaderRow(w, {"Name", "Type", "Value", "Declared at"});
    w.Open("tbody");
    for (const engine::LetInfo& let : policy.lets) {
      Row(w, {let.name, engine::TypeName(let.type),
              let.decl != nullptr && let.decl->value != nullptr ? dsl::FormatExpr(*let.decl->value)
                                                                : "",
              let.decl != nullptr ? Where(policy, let.decl->span) : ""});
    }
    w.Close();
    w.Close();
  }

  if (!policy.enums.empty()) {
    w.Element("h3", "Enums");
    w.Open("table", {{"class", "enums"}});
    HeaderRow(w, {"Enum", "Symbols, lowest first", "Declared at"});
    w.Open("tbody");
    for (const engine::EnumType& e : policy.enums) {
      Row(w, {e.name, absl::StrJoin(e.symbols, ", "), Where(policy, e.span)});
    }
    w.Close();
    w.Close();
  }
  w.Close();
}

void ReasonsSection(Writer& w, const CheckedPolicy& policy) {
  w.Open("section", {{"id", "reasons"}});
  w.Element("h2", "Reasons");
  // Who gives each reason: rules, and scorecard factors.
  std::map<std::string, std::vector<std::string>> given_by;
  for (const engine::RuleInfo& rule : policy.rules) {
    if (rule.decl == nullptr) continue;
    for (const ast::Effect& effect : rule.decl->effects) {
      if (effect.code) given_by[effect.code->name].push_back("rule " + rule.id);
    }
  }
  for (const engine::ScorecardInfo& card : policy.scorecards) {
    for (const engine::GroupInfo& group : card.groups) {
      for (const engine::FactorInfo& factor : group.factors) {
        if (factor.reason >= 0) {
          given_by[policy.reasons[static_cast<size_t>(factor.reason)].code].push_back(
              absl::StrCat("scorecard ", card.name, " factor ", factor.subject));
        }
      }
    }
  }
  w.Open("table", {{"class", "reasons"}});
  HeaderRow(w, {"Code", "Message", "Given by", "Declared at"});
  w.Open("tbody");
  for (const engine::ReasonInfo& reason : policy.reasons) {
    auto it = given_by.find(reason.code);
    Row(w, {reason.code, reason.message,
            it == given_by.end() ? "nothing" : absl::StrJoin(it->second, ", "),
            Where(policy, reason.span)});
  }
  w.Close();
  w.Close();
  w.Close();
}

void ScorecardsSection(Writer& w, const CheckedPolicy& policy) {
  w.Open("section", {{"id", "scorecards"}});
  w.Element("h2", "Scorecards");
  if (policy.scorecards.empty()) Note(w, "This policy has no scorecard.");
  for (const engine::ScorecardInfo& card : policy.scorecards) {
    w.Element("h3", absl::StrCat("Scorecard ", card.name));
    if (card.decl != nullptr) Location(w, Where(policy, card.decl->span));
    Note(w, absl::StrCat("A group scores the sum of its factors' points; ", card.name,
                         ".total is the weighted sum of the groups. A factor gives its reason "
                         "when it scores below the points shown."));
    w.Open("table", {{"class", "scorecard"}});
    HeaderRow(w, {"Group", "Weight", "Factor", "Bin", "Points", "Reason", "Line"});
    w.Open("tbody");
    for (const engine::GroupInfo& group : card.groups) {
      bool first_of_group = true;
      for (const engine::FactorInfo& factor : group.factors) {
        std::string reason;
        if (factor.reason >= 0) {
          reason = absl::StrCat(policy.reasons[static_cast<size_t>(factor.reason)].code,
                                factor.reason_inclusive ? " at or below " : " below ",
                                factor.reason_below.ToCanonicalString(), " points");
        }
        if (factor.decl == nullptr) continue;
        bool first_of_factor = true;
        for (const ast::Row& row : factor.decl->rows) {
          const std::string weight = group.decl != nullptr && group.decl->weight != nullptr
                                         ? dsl::FormatExpr(*group.decl->weight)
                                         : absl::StrCat(group.weight.ToCanonicalString());
          w.Open("tr", {{"class", first_of_group ? "group-start" : ""}});
          w.Element("td", first_of_group ? group.name : "");
          w.Element("td", first_of_group ? weight : "");
          w.Element("td", first_of_factor ? factor.subject : "");
          w.Element("td", dsl::FormatTest(row.test));
          w.Element("td", row.value != nullptr ? dsl::FormatExpr(*row.value) : "");
          w.Element("td", first_of_factor ? reason : "");
          w.Element("td", Where(policy, row.span));
          w.Close();
          first_of_group = false;
          first_of_factor = false;
        }
      }
    }
    w.Close();
    w.Close();
  }
  w.Close();
}

void BandsSection(Writer& w, const CheckedPolicy& policy) {
  w.Open("section", {{"id", "bands"}});
  w.Element("h2", "Bands");
  if (policy.bands.empty()) Note(w, "This policy has no band.");
  for (const engine::BandInfo& band : policy.bands) {
    if (band.decl == nullptr) continue;
    w.Element("h3", absl::StrCat(
                        "Band ", band.name, ": ", engine::TypeName(band.type), " on ",
                        band.decl->subject != nullptr ? dsl::FormatExpr(*band.decl->subject) : ""));
    Location(w, Where(policy, band.decl->span));
    w.Open("table", {{"class", "band"}});
    HeaderRow(w, {"Row", "When the value is", "The band is", "Line"});
    w.Open("tbody");
    int number = 0;
    for (const ast::Row& row : band.decl->rows) {
      Row(w, {absl::StrCat(++number), dsl::FormatTest(row.test),
              row.value != nullptr ? dsl::FormatExpr(*row.value) : "", Where(policy, row.span)});
    }
    w.Close();
    w.Close();
  }
  w.Close();
}

const char* HitPolicyWords(engine::HitPolicy hit) {
  switch (hit) {
    case engine::HitPolicy::kFirst:
      return "the first matching row";
    case engine::HitPolicy::kUnique:
      return "exactly one row may match";
    case engine::HitPolicy::kPriority:
      return "of the matching rows, the one whose first result is highest";
    case engine::HitPolicy::kCollect:
      return "every matching row";
  }
  return "";
}

void TablesSection(Writer& w, const CheckedPolicy& policy) {
  w.Open("section", {{"id", "tables"}});
  w.Element("h2", "Decision tables");
  if (policy.tables.empty()) Note(w, "This policy has no decision table.");
  for (const engine::TableInfo& table : policy.tables) {
    if (table.decl == nullptr) continue;
    const ast::TableDecl& decl = *table.decl;
    std::string hit = decl.hit ? decl.hit->name : "first";
    if (decl.aggregate) absl::StrAppend(&hit, " ", decl.aggregate->name);
    w.Element("h3", absl::StrCat("Table ", table.name, " (hit ", hit, ")"));
    Location(w, Where(policy, decl.span));
    std::string words = absl::StrCat("Gives ", HitPolicyWords(table.hit));
    if (table.aggregate == engine::Aggregate::kSum) absl::StrAppend(&words, ", summed");
    if (table.aggregate == engine::Aggregate::kMin) absl::StrAppend(&words, ", the smallest");
    if (table.aggregate == engine::Aggregate::kMax) absl::StrAppend(&words, ", the largest");
    Note(w, words + ".");
    w.Open("table", {{"class", "decision-table"}});
    w.Open("thead");
    w.Open("tr");
    w.Element("th", "Row");
    for (const ast::ExprPtr& column : decl.inputs) {
      w.Element("th", column != nullptr ? dsl::FormatExpr(*column) : "", {{"class", "condition"}});
    }
    for (const ast::TableColumn& column : decl.outputs) {
      w.Element("th", absl::StrCat(column.name.name, ": ", dsl::FormatType(column.type)),
                {{"class", "result"}});
    }
    w.Element("th", "Line");
    w.Close();
    w.Close();
    w.Open("tbody");
    int number = 0;
    for (const ast::TableRow& row : decl.rows) {
      w.Open("tr");
      w.Element("td", absl::StrCat(++number));
      for (const ast::Test& test : row.tests) {
        w.Element("td", dsl::FormatTest(test), {{"class", "condition"}});
      }
      for (const ast::ExprPtr& value : row.values) {
        w.Element("td", value != nullptr ? dsl::FormatExpr(*value) : "", {{"class", "result"}});
      }
      w.Element("td", Where(policy, row.span));
      w.Close();
    }
    w.Close();
    w.Close();
  }
  w.Close();
}

void WordsList(Writer& w, const Words& words) {
  if (words.parts.empty()) {
    w.Element("p", words.text, {{"class", "condition"}});
    return;
  }
  w.Element("p",
            words.all ? "all of these hold:" : "any one of these holds:", {{"class", "condition"}});
  w.Open("ul");
  for (const Words& part : words.parts) {
    w.Open("li");
    if (part.parts.empty()) {
      w.Text(part.text);
    } else {
      WordsList(w, part);
    }
    w.Close();
  }
  w.Close();
}

void RulesSection(Writer& w, const CheckedPolicy& policy) {
  w.Open("section", {{"id", "rules"}});
  w.Element("h2", "Rules");
  if (policy.rules.empty()) Note(w, "This policy has no rule.");
  for (const engine::RuleInfo& rule : policy.rules) {
    if (rule.decl == nullptr) continue;
    const ast::RuleDecl& decl = *rule.decl;
    w.Open("div", {{"class", "rule"}});
    w.Element("h3",
              absl::StrCat("Rule ", rule.id,
                           rule.priority ? absl::StrCat(" (priority ", *rule.priority, ")") : ""));
    Location(w, Where(policy, decl.span));
    w.Element("h4", "When");
    if (decl.condition != nullptr) {
      WordsList(w, ConditionInWords(*decl.condition));
      w.Open("p", {{"class", "written"}});
      w.Text("As written: ");
      w.Element("code", absl::StrCat("when ", dsl::FormatExpr(*decl.condition)));
      w.Close();
    }
    w.Element("h4", "Then");
    w.Open("table", {{"class", "effects"}});
    HeaderRow(w, {"Effect", "Reason code", "Message"});
    w.Open("tbody");
    for (const ast::Effect& effect : decl.effects) {
      const std::string code = effect.code ? effect.code->name : "";
      Row(w, {EffectInWords(effect), code, code.empty() ? "" : ReasonMessage(policy, code)});
    }
    w.Close();
    w.Close();
    w.Close();
  }
  w.Close();
}

void TestsSection(Writer& w, const VersionShown& v) {
  w.Open("section", {{"id", "tests"}});
  w.Element("h2", "Test cases");
  if (v.tests == nullptr) {
    Note(w,
         "No test file tests this version (NAME.tests.json beside NAME.credit, or a test file "
         "whose \"policy\" names its file).",
         "warning");
    w.Close();
    return;
  }
  const TestsShown& tests = *v.tests;
  Note(w,
       absl::StrCat(tests.passed + tests.failed, " cases: ", tests.passed, " passed, ",
                    tests.failed, " failed."),
       tests.failed > 0 ? "warning" : "note");
  Note(w, absl::StrCat("Coverage: ", tests.covered, " of ", tests.total,
                       " rules, band and table rows and scorecard bins reached (",
                       Share(tests.covered, tests.total), "), as creditctl test counts it."));
  if (!tests.missing.empty()) {
    w.Element("h3", "Not reached by any case");
    w.Open("ul", {{"class", "missing"}});
    for (const CoverageItem& item : tests.missing) {
      w.Element("li", absl::StrCat(item.what, " at ", item.location));
    }
    w.Close();
  }
  for (const TestsShown::File& file : tests.files) {
    w.Element("h3", file.shown);
    w.Open("table", {{"class", "cases"}});
    HeaderRow(w, {"Case", "Result", "What differed"});
    w.Open("tbody");
    for (const CaseResult& c : file.result.cases) {
      const bool pass = c.differences.empty();
      w.Open("tr", {{"class", pass ? "pass" : "fail"}});
      w.Element("td", c.name);
      w.Element("td", pass ? "pass" : "FAIL");
      w.Open("td");
      for (size_t i = 0; i < c.differences.size(); ++i) {
        if (i > 0) w.Void("br");
        w.Text(c.differences[i]);
      }
      w.Close();
      w.Close();
    }
    w.Close();
    w.Close();
  }
  w.Close();
}

void DiffSection(Writer& w, const ReportInput& input, const VersionShown& v) {
  w.Open("section", {{"id", "changes"}});
  w.Element("h2", absl::StrCat("Changes from ", input.against));
  if (!v.latest) {
    w.Open("p", {{"class", "note"}});
    w.Text("The comparison with ");
    w.Text(input.against);
    w.Text(" is of the latest version, on ");
    w.Element("a", "its page", {{"href", v.latest_page}});
    w.Text(".");
    w.Close();
    w.Close();
    return;
  }
  const DecisionDiff* d = v.diff;
  if (d == nullptr || d->changes.empty()) {
    Note(w, absl::StrCat("No change in meaning from ", input.against, " (version ",
                         d != nullptr ? d->old_version : "", ")."));
    w.Close();
    return;
  }
  int breaking = 0;
  for (const Change& c : d->changes) breaking += c.breaks_callers ? 1 : 0;
  Note(w,
       absl::StrCat("Compared with version ", d->old_version.empty() ? "(none)" : d->old_version,
                    " in ", input.against, ": ", d->changes.size(),
                    d->changes.size() == 1 ? " change, " : " changes, ", breaking,
                    breaking == 1 ? " breaks callers." : " break callers."),
       breaking > 0 ? "warning" : "note");
  w.Open("table", {{"class", "diff"}});
  HeaderRow(w, {"Change", "What", "Before", "After", "Where", "Breaks callers"});
  w.Open("tbody");
  for (const Change& c : d->changes) {
    w.Open("tr", {{"class", c.breaks_callers ? "fail" : ""}});
    w.Element("td", ChangeSign(c));
    w.Element("td", c.path);
    w.Open("td");
    w.Text(c.before);
    if (!c.expression_before.empty()) {
      w.Void("br");
      w.Element("code", c.expression_before);
    }
    w.Close();
    w.Open("td");
    w.Text(c.after);
    if (!c.expression_after.empty()) {
      w.Void("br");
      w.Element("code", c.expression_after);
    }
    w.Close();
    const bool removed = c.kind == Change::Kind::kRemoved;
    const std::string& file = removed ? c.file_before : c.file_after;
    const int line = removed ? c.line_before : c.line_after;
    w.Element("td", file.empty() ? "" : absl::StrCat(file, ":", line, removed ? " (old)" : ""));
    w.Element("td", c.breaks_callers ? absl::StrCat("yes: ", c.impact) : "no");
    w.Close();
  }
  w.Close();
  w.Close();
  w.Close();
}

void TransitionsTable(Writer& w, const std::string& what, const Transitions& transitions) {
  w.Open("table", {{"class", "transitions"}});
  HeaderRow(w, {absl::StrCat(what, " before"), "after", "decisions", "for example"});
  w.Open("tbody");
  for (bool changed : {true, false}) {
    for (const auto& [pair, tally] : transitions) {
      if ((pair.first != pair.second) != changed) continue;
      w.Open("tr", {{"class", changed ? "changed" : ""}});
      w.Element("td", pair.first);
      w.Element("td", changed ? pair.second : absl::StrCat(pair.second, " (the same)"));
      w.Element("td", Grouped(tally.count));
      w.Element("td", absl::StrJoin(tally.examples, ", "));
      w.Close();
    }
  }
  w.Close();
  w.Close();
}

void TalliesTable(Writer& w, const std::string& what, const std::map<std::string, Tally>& tallies) {
  w.Open("table", {{"class", "tallies"}});
  HeaderRow(w, {what, "decisions", "for example"});
  w.Open("tbody");
  for (const auto& [key, tally] : tallies) {
    Row(w, {key, Grouped(tally.count), absl::StrJoin(tally.examples, ", ")});
  }
  w.Close();
  w.Close();
}

void ImpactSection(Writer& w, const ReportInput& input, const VersionShown& v) {
  w.Open("section", {{"id", "impact"}});
  w.Element("h2", absl::StrCat("Impact on the decisions in ", input.audit_shown));
  if (!v.latest) {
    w.Open("p", {{"class", "note"}});
    w.Text("The logged decisions are evaluated again under the latest version, on ");
    w.Element("a", "its page", {{"href", v.latest_page}});
    w.Text(".");
    w.Close();
    w.Close();
    return;
  }
  const engine::PolicyId& id = v.version->policy->id();
  if (v.impact == nullptr) {
    Note(w, absl::StrCat("The log holds no decision of ", id.name, "."));
    w.Close();
    return;
  }
  const DecisionImpact& d = *v.impact;
  Note(w, absl::StrCat("Every logged decision of ", id.name, " evaluated again under version ",
                       d.candidate_version,
                       " on the facts the log kept, compared with the answer "
                       "the caller received (as creditctl impact)."));
  w.Open("dl", {{"class", "figures"}});
  Term(w, "Logged decisions", Grouped(d.logged));
  Term(w, "Compared", Grouped(d.compared));
  Term(w, "Outcome changed",
       absl::StrCat(Grouped(d.outcome_changed), " (", Share(d.outcome_changed, d.compared),
                    " of those compared)"));
  Term(w, "Any output changed", Grouped(d.outputs_changed));
  Term(w, "Entirely unchanged", Grouped(d.unchanged));
  Term(w, "No longer fit the candidate", Grouped(d.no_longer_fit_decisions));
  Term(w, "Could not be re-evaluated",
       absl::StrCat(Grouped(d.failed.count),
                    d.failed.examples.empty()
                        ? ""
                        : absl::StrCat(", for example ", absl::StrJoin(d.failed.examples, ", "))));
  if (d.older_format.count > 0) {
    Term(w, "Logged before record format 5 (not compared)", Grouped(d.older_format.count));
  }
  w.Close();
  if (!d.outcome.empty()) {
    w.Element("h3", "Outcome");
    TransitionsTable(w, "outcome", d.outcome);
  }
  for (const auto& [output, transitions] : d.enum_outputs) {
    w.Element("h3", output);
    TransitionsTable(w, output, transitions);
  }
  if (!d.sums.empty()) {
    w.Element("h3", "Money outputs, totalled");
    w.Open("table", {{"class", "sums"}});
    HeaderRow(w, {"Output", "Total before", "Total after", "Change", "Answers with a value"});
    w.Open("tbody");
    for (const auto& [output, sum] : d.sums) {
      absl::StatusOr<engine::Decimal> change = sum.after.Sub(sum.before);
      Row(w,
          {output, sum.before.ToCanonicalString(), sum.after.ToCanonicalString(),
           change.ok() ? absl::StrCat(change->is_negative() ? "" : "+", change->ToCanonicalString())
                       : "too large to show",
           absl::StrCat(Grouped(sum.before_count), " → ", Grouped(sum.after_count))});
    }
    w.Close();
    w.Close();
  }
  if (!d.reasons_gained.empty()) {
    w.Element("h3", "Reasons gained");
    TalliesTable(w, "reason", d.reasons_gained);
  }
  if (!d.reasons_lost.empty()) {
    w.Element("h3", "Reasons lost");
    TalliesTable(w, "reason", d.reasons_lost);
  }
  if (!d.no_longer_fit.empty()) {
    w.Element("h3", "Facts that no longer fit the candidate");
    TalliesTable(w, "input: what is wrong", d.no_longer_fit);
  }
  w.Close();
}

std::string VersionPage(const ReportInput& input, const VersionShown& v) {
  const engine::CompiledPolicy& policy = *v.version->policy;
  const CheckedPolicy& checked = policy.checked();
  std::vector<std::pair<std::string, std::string>> sections = {
      {"policy", "Policy"},   {"approvals", "Approvals"},   {"contract", "Inputs and outputs"},
      {"reasons", "Reasons"}, {"scorecards", "Scorecards"}, {"bands", "Bands"},
      {"tables", "Tables"},   {"rules", "Rules"},           {"tests", "Tests"}};
  if (!input.against.empty()) sections.emplace_back("changes", "Changes");
  if (!input.audit.empty()) sections.emplace_back("impact", "Impact");
  Writer w;
  const std::string title = absl::StrCat(policy.id().name, " ", policy.id().version);
  StartPage(w, absl::StrCat(title, " — policy review"), sections);
  w.Element("h1", title);
  if (!v.latest) {
    w.Open("p", {{"class", "warning"}});
    w.Text("A later version of this decision is in the directory: ");
    w.Element("a", "the latest version", {{"href", v.latest_page}});
    w.Text(".");
    w.Close();
  }
  HeaderSection(w, v);
  ApprovalsSection(w, input, v);
  ContractSection(w, checked);
  ReasonsSection(w, checked);
  ScorecardsSection(w, checked);
  BandsSection(w, checked);
  TablesSection(w, checked);
  RulesSection(w, checked);
  TestsSection(w, v);
  if (!input.against.empty()) DiffSection(w, input, v);
  if (!input.audit.empty()) ImpactSection(w, input, v);
  EndPage(w, input);
  return w.Finish();
}

// ---------------------------------------------------------------------------
// The index.

std::string IndexPage(const ReportInput& input) {
  Writer w;
  StartPage(w, absl::StrCat("Policy review — ", input.dir), {});
  w.Element("h1", absl::StrCat("Policy review: ", input.dir));
  w.Open("dl");
  Term(w, "Policies", input.dir, true);
  Term(w, "Made", absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", input.made, absl::UTCTimeZone()));
  Term(w, "Compared with", input.against.empty() ? "nothing (no --against)" : input.against);
  Term(w, "Decision log", input.audit.empty() ? "none (no --audit)" : input.audit_shown);
  Term(w, "Approvals",
       input.approvers.empty()
           ? "NOT verified: no approvers file (--approvers); approvals are listed as found"
           : absl::StrCat("verified with the approvers file ", input.approvers));
  w.Close();

  w.Open("table", {{"class", "index"}});
  std::vector<std::string> header = {"Decision", "Version",   "Effective", "State",
                                     "sha256",   "Approvals", "Tests",     "Coverage"};
  if (!input.against.empty()) header.push_back("Changes");
  if (!input.audit.empty()) header.push_back("Outcome changed");
  HeaderRow(w, header);
  w.Open("tbody");
  for (const VersionShown& v : input.versions) {
    const engine::CompiledPolicy& policy = *v.version->policy;
    w.Open("tr");
    w.Open("td");
    w.Element("a", policy.id().name, {{"href", v.page}, {"class", "page-link"}});
    w.Close();
    w.Element("td", absl::StrCat(policy.id().version, v.latest ? " (latest)" : ""));
    w.Element("td", policy.checked().effective);
    w.Element("td", v.state);
    w.Element("td", policy.id().sha256.substr(0, 12), {{"class", "hash"}});
    w.Element("td", input.approvers.empty()
                        ? absl::StrCat(v.approvals.size(), " found, not verified")
                        : absl::StrCat(v.approvers, " verified"));
    if (v.tests == nullptr) {
      w.Element("td", "no tests", {{"class", "fail"}});
      w.Element("td", "-");
    } else {
      w.Element("td", absl::StrCat(v.tests->passed, " passed, ", v.tests->failed, " failed"),
                {{"class", v.tests->failed > 0 ? "fail" : "pass"}});
      w.Element("td", absl::StrCat(v.tests->covered, "/", v.tests->total, " (",
                                   Share(v.tests->covered, v.tests->total), ")"));
    }
    if (!input.against.empty()) {
      std::string changes = "-";
      if (v.latest && v.diff != nullptr) {
        int breaking = 0;
        for (const Change& c : v.diff->changes) breaking += c.breaks_callers ? 1 : 0;
        changes = v.diff->changes.empty()
                      ? "none"
                      : absl::StrCat(v.diff->changes.size(), ", ", breaking, " breaking");
      }
      w.Element("td", changes);
    }
    if (!input.audit.empty()) {
      w.Element("td", v.latest && v.impact != nullptr
                          ? absl::StrCat(Grouped(v.impact->outcome_changed), " of ",
                                         Grouped(v.impact->compared))
                          : "-");
    }
    w.Close();
  }
  w.Close();
  w.Close();

  if (!input.against.empty()) {
    std::vector<const DecisionDiff*> removed;
    for (const DecisionDiff& d : input.diffs) {
      if (d.new_version.empty()) removed.push_back(&d);
    }
    w.Element("h2", absl::StrCat("Decisions removed since ", input.against));
    if (removed.empty()) {
      Note(w, "None.");
    } else {
      Note(w, "Requests for these are refused: this breaks their callers.", "warning");
      w.Open("ul");
      for (const DecisionDiff* d : removed) {
        w.Element("li", absl::StrCat(d->name, " ", d->old_version));
      }
      w.Close();
    }
  }

  std::vector<const ApprovalFile*> unreadable;
  for (const ApprovalFile& f : input.approval_files) {
    if (!f.parsed.ok()) unreadable.push_back(&f);
  }
  if (!unreadable.empty()) {
    w.Element("h2", "Approval files that could not be read");
    w.Open("ul");
    for (const ApprovalFile* f : unreadable) {
      w.Element("li", absl::StrCat(f->file, ": ", f->parsed.status().message()));
    }
    w.Close();
  }
  if (!input.unmatched_tests.empty()) {
    w.Element("h2", "Test files for no decision of the directory");
    w.Open("ul");
    for (const std::string& t : input.unmatched_tests) w.Element("li", t);
    w.Close();
  }
  if (input.impact != nullptr && !input.impact->without_candidate.empty()) {
    w.Element("h2", "Logged decisions with no version in the directory");
    w.Open("ul");
    for (const auto& [name, count] : input.impact->without_candidate) {
      w.Element("li", absl::StrCat(name, ": ", Grouped(count), " logged decisions"));
    }
    w.Close();
  }
  EndPage(w, input);
  return w.Finish();
}

// ---------------------------------------------------------------------------
// The stylesheet: screen, and print.

constexpr char kCss[] = R"css(/* creditctl report */
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, sans-serif; color: #1b1b1b; background: #fff; margin: 0; }
nav.site { position: sticky; top: 0; background: #f2f4f7; border-bottom: 1px solid #d0d5dd;
  padding: 0.5em 1.5em; font-size: 0.9em; }
nav.site a { margin-right: 1em; }
main { padding: 1em 1.5em 2em; max-width: 80em; }
footer { padding: 1em 1.5em; color: #555; font-size: 0.85em; border-top: 1px solid #d0d5dd; }
h1 { font-size: 1.6em; margin: 0.3em 0; }
h2 { font-size: 1.3em; margin-top: 1.6em; border-bottom: 1px solid #d0d5dd; }
h3 { font-size: 1.1em; margin-top: 1.2em; }
h4 { font-size: 1em; margin: 0.6em 0 0.2em; }
code, .hash { font-family: ui-monospace, monospace; font-size: 0.92em; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1em; }
dt { font-weight: 600; }
dd { margin: 0; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #d0d5dd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
thead th { background: #f2f4f7; }
th.condition, td.condition { background: #f8fafc; }
th.result { border-left: 3px double #98a2b3; }
tr.group-start td { border-top: 2px solid #98a2b3; }
tr.pass td:nth-child(2) { color: #05603a; }
tr.fail, td.fail { background: #fef3f2; }
td.pass { color: #05603a; }
tr.changed { background: #fffaeb; }
.note { color: #333; }
.warning { background: #fffaeb; border-left: 4px solid #dc6803; padding: 0.3em 0.6em; }
.where { color: #555; font-size: 0.85em; margin: 0; }
.written { color: #444; font-size: 0.9em; }
.rule { border-left: 3px solid #d0d5dd; padding-left: 1em; margin: 1em 0; }
p.condition { margin: 0.2em 0; }

@media print {
  nav.site { display: none; }
  body { font-size: 10pt; }
  main { padding: 0; max-width: none; }
  a { color: inherit; text-decoration: none; }
  a.page-link::after { content: " (" attr(href) ")"; font-size: 0.85em; color: #555; }
  table, .rule, dl { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
  section { break-before: auto; }
  tr.fail, td.fail, tr.changed, .warning, thead th, th.condition, td.condition {
    -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  @page { margin: 15mm 12mm; }
}
)css";

// ---------------------------------------------------------------------------
// Gathering.

// Reads the approvals beside each version's file (as creditd and `check`
// read them) and matches them to each version.
bool GatherApprovals(ReportInput& input, Context& context) {
  std::map<std::string, std::vector<engine::ApprovalText>> by_dir;
  for (const VersionShown& v : input.versions) {
    const std::string dir = engine::ApprovalsDirOf(v.version->path);
    if (by_dir.count(dir) > 0) continue;
    absl::StatusOr<std::vector<engine::ApprovalText>> read =
        engine::ReadApprovals(engine::FileSystem::Default(), engine::JoinPath(input.dir, dir), dir);
    if (!read.ok()) {
      context.err << "creditctl: " << input.dir << ": " << read.status().message() << "\n";
      context.exit_code = kExitUsage;
      return false;
    }
    for (const engine::ApprovalText& f : *read) {
      ApprovalFile file{f.file, f.text.ok()
                                    ? engine::ParseApprovalFile(*f.text)
                                    : absl::StatusOr<engine::SignedApproval>(f.text.status())};
      input.approval_files.push_back(std::move(file));
    }
    by_dir.emplace(dir, *std::move(read));
  }
  std::optional<engine::Approvers> approvers;
  if (!input.approvers.empty()) {
    absl::StatusOr<engine::Approvers> read =
        engine::ReadApprovers(engine::FileSystem::Default(), input.approvers);
    if (!read.ok()) {
      context.err << "creditctl: " << input.approvers << ": " << read.status().message() << "\n";
      context.exit_code = kExitUsage;
      return false;
    }
    approvers = *std::move(read);
  }
  for (VersionShown& v : input.versions) {
    const engine::PolicyId& id = v.version->policy->id();
    const std::string dir = engine::ApprovalsDirOf(v.version->path);
    std::map<std::string, std::string> refused;  // file -> why
    if (approvers) {
      const engine::ApprovalCount count = engine::CountApprovals(id, by_dir[dir], *approvers);
      v.approvers = static_cast<int>(count.approvers.size());
      for (const std::string& r : count.refused) {
        for (const ApprovalFile& f : input.approval_files) {
          const std::string prefix = f.file + ": ";
          if (absl::StartsWith(r, prefix)) refused[f.file] = r.substr(prefix.size());
        }
      }
    }
    for (const ApprovalFile& f : input.approval_files) {
      if (!f.parsed.ok() || !absl::StartsWith(f.file, dir + "/")) continue;
      const engine::Approval& a = f.parsed->approval;
      if (a.id.name != id.name || a.id.version != id.version) continue;
      ApprovalShown shown;
      shown.file = &f;
      auto it = refused.find(f.file);
      shown.counted = approvers.has_value() && it == refused.end();
      if (it != refused.end()) shown.refused = it->second;
      v.approvals.push_back(shown);
    }
  }
  return true;
}

// Runs every test file under DIR against the version it tests.
bool GatherTests(ReportInput& input, Context& context) {
  absl::StatusOr<std::vector<std::string>> files = ExpandPaths({input.dir}, ".tests.json");
  if (!files.ok()) {
    context.err << "creditctl: " << files.status().message() << "\n";
    context.exit_code = kExitUsage;
    return false;
  }
  auto shown = [&](const std::string& path) {
    const std::string prefix = absl::EndsWith(input.dir, "/") ? input.dir : input.dir + "/";
    return absl::StartsWith(path, prefix) ? path.substr(prefix.size()) : path;
  };
  std::map<std::string, VersionShown*> by_file;
  for (VersionShown& v : input.versions) {
    by_file[fs::path(engine::JoinPath(input.dir, v.version->path)).lexically_normal().string()] =
        &v;
  }
  std::map<VersionShown*, std::unique_ptr<Coverage>> coverage;
  for (const std::string& file : *files) {
    absl::StatusOr<std::string> policy_path = PolicyPathFor(file);
    if (!policy_path.ok()) {
      context.err << "creditctl: " << policy_path.status().message() << "\n";
      context.exit_code = kExitUsage;
      return false;
    }
    auto it = by_file.find(fs::path(*policy_path).lexically_normal().string());
    if (it == by_file.end()) {
      input.unmatched_tests.push_back(
          absl::StrCat(shown(file), ": tests ", shown(*policy_path),
                       ", which is not a decision this directory loads"));
      continue;
    }
    VersionShown& v = *it->second;
    if (v.tests == nullptr) v.tests = std::make_unique<TestsShown>();
    std::unique_ptr<Coverage>& covered = coverage[&v];
    if (covered == nullptr) covered = std::make_unique<Coverage>(*v.version->policy);
    std::ostringstream printed;  // the failures as creditctl test prints them; shown per case
    absl::StatusOr<TestFileResult> result =
        RunTestFile(file, *v.version->policy, *covered, TestRunOptions(), printed);
    if (!result.ok()) {
      context.err << "creditctl: " << result.status().message() << "\n";
      context.exit_code = kExitUsage;
      return false;
    }
    v.tests->passed += result->passed;
    v.tests->failed += result->failed;
    v.tests->files.push_back({shown(file), *std::move(result)});
  }
  for (auto& [v, covered] : coverage) {
    v->tests->covered = covered->covered();
    v->tests->total = covered->total();
    v->tests->missing = covered->Missing();
  }
  return true;
}

bool GatherDiff(ReportInput& input, const engine::Bundle& bundle, Context& context) {
  PolicySide old_side;
  if (!LoadPolicySide(input.against, input.dir, &old_side, context)) return false;
  PolicySide new_side;
  new_side.label = input.dir;
  AddBundleToSide(bundle, &new_side);
  if (!DiffSides(old_side, new_side, DiffSelection(), context, &input.diffs)) return false;
  for (VersionShown& v : input.versions) {
    if (!v.latest) continue;
    for (const DecisionDiff& d : input.diffs) {
      if (d.name == v.version->policy->name()) v.diff = &d;
    }
  }
  return true;
}

bool GatherImpact(ReportInput& input, Context& context) {
  ImpactOptions options;
  options.audit = input.audit;
  options.candidate = input.dir;
  // Every money output of the versions the impact evaluates, totalled.
  std::set<std::string> sums;
  for (const VersionShown& v : input.versions) {
    if (!v.latest) continue;
    for (const engine::OutputSlot& output : v.version->policy->outputs()) {
      if (output.type.kind == engine::TypeKind::kMoney) sums.insert(output.name);
    }
  }
  options.sums.assign(sums.begin(), sums.end());
  absl::StatusOr<ImpactReport> report = ComputeImpact(options, context);
  if (!report.ok()) {
    context.err << "creditctl: " << report.status().message() << "\n";
    context.exit_code = kExitUsage;
    return false;
  }
  input.impact = std::make_unique<ImpactReport>(*std::move(report));
  for (VersionShown& v : input.versions) {
    if (!v.latest) continue;
    auto it = input.impact->decisions.find(v.version->policy->name());
    if (it != input.impact->decisions.end()) v.impact = &it->second;
  }
  return true;
}

void Report(const std::string& dir, const std::string& out, const std::string& against,
            const std::string& audit, const std::string& approvers, Context& context) {
  if (absl::StartsWith(dir, kGitPrefix)) {
    context.err << "creditctl: the policies to report on are a directory; git:REV is for "
                   "--against\n";
    context.exit_code = kExitUsage;
    return;
  }
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    context.err << "creditctl: " << dir
                << (error && error != std::errc::no_such_file_or_directory
                        ? absl::StrCat(": ", error.message())
                        : std::string(" is not a directory of policies"))
                << "\n";
    context.exit_code = kExitUsage;
    return;
  }
  std::shared_ptr<const engine::Bundle> bundle = LoadPolicyDirectory(dir, dir, context);
  if (bundle == nullptr) return;

  ReportInput input;
  input.dir = dir;
  input.against = against;
  input.audit = audit;
  input.audit_shown = audit::LocationForDisplay(audit);
  input.approvers = approvers;
  input.made = absl::Now();

  // Every version, by name, then by semantic version; the page of each.
  std::set<std::string> pages = {kIndex, kStylesheet};
  for (const auto& [name, versions] : bundle->decisions) {
    std::vector<const engine::BundleVersion*> ordered;
    for (const engine::BundleVersion& v : versions.versions) ordered.push_back(&v);
    std::sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
      return engine::CompareVersions(a->policy->id().version, b->policy->id().version) < 0;
    });
    const engine::BundleVersion* in_force = versions.InForce(input.made);
    const size_t first = input.versions.size();
    for (const engine::BundleVersion* v : ordered) {
      VersionShown shown;
      shown.version = v;
      std::string page = SafeFileName(absl::StrCat(name, "-", v->policy->id().version)) + ".html";
      for (int n = 2; pages.count(page) > 0; ++n) {
        page = SafeFileName(absl::StrCat(name, "-", v->policy->id().version, "-", n)) + ".html";
      }
      pages.insert(page);
      shown.page = page;
      if (v == in_force) {
        shown.state = "in force";
      } else if (v->effective > input.made) {
        shown.state = absl::StrCat("scheduled (from ", v->policy->checked().effective, ")");
      } else {
        shown.state = "superseded";
      }
      input.versions.push_back(std::move(shown));
    }
    if (input.versions.size() > first) {
      input.versions.back().latest = true;
      for (size_t i = first; i < input.versions.size(); ++i) {
        input.versions[i].latest_page = input.versions.back().page;
      }
    }
  }

  if (!GatherApprovals(input, context) || !GatherTests(input, context)) return;
  if (!against.empty() && !GatherDiff(input, *bundle, context)) return;
  if (!audit.empty() && !GatherImpact(input, context)) return;

  absl::StatusOr<std::unique_ptr<Site>> site = Site::Open(out);
  if (!site.ok()) {
    context.err << "creditctl: " << site.status().message() << "\n";
    context.exit_code = kExitUsage;
    return;
  }
  std::vector<std::string> names(pages.begin(), pages.end());
  absl::Status status = (*site)->Start(names);
  if (status.ok()) status = (*site)->Write(kStylesheet, kCss);
  for (const VersionShown& v : input.versions) {
    if (status.ok()) status = (*site)->Write(v.page, VersionPage(input, v));
  }
  if (status.ok()) status = (*site)->Write(kIndex, IndexPage(input));
  if (status.ok()) status = (*site)->Finish();
  if (!status.ok()) {
    context.err << "creditctl: " << status.message() << "\n";
    context.exit_code = kExitUsage;
    return;
  }
  const size_t count = input.versions.size() + 1;
  context.out << "wrote " << engine::JoinPath(out, kIndex) << ": " << count
              << (count == 1 ? " page" : " pages") << "\n";
  context.exit_code = kExitOk;
}

}  // namespace

void AddReportCommand(CLI::App& app, Context& context) {
  struct Flags {
    std::string dir;
    std::string out;
    std::string against;
    std::string audit;
    std::string approvers;
  };
  auto flags = std::make_shared<Flags>();
  auto* command = app.add_subcommand(
      "report", "Write a static HTML site for reviewers: every policy version, in full");
  command->footer(
      "One page per version of each decision in DIR: its identity and header, approvals\n"
      "(verified with --approvers, else listed as not verified), inputs and outputs,\n"
      "scorecards, bands and tables, rules in plain words with their reasons, its test cases\n"
      "with pass/fail and coverage; and for the latest version, the semantic diff against\n"
      "--against (a file, a directory or git:REV, as creditctl diff takes OLD) and the\n"
      "impact on the decisions of --audit (as creditctl impact). An index lists them all.\n"
      "No scripts and nothing fetched: the site works offline and prints well.\n"
      "SITE is created when missing; a directory holding other files is refused.\n"
      "Exit status: 0 written, 2 usage or a policy, log or file that cannot be read.\n"
      "docs/review.md describes the pages.\n\n"
      "Example:\n"
      "  creditctl report policies --out review --against git:main --audit "
      "creditd-audit.db.snapshot");
  command->add_option("dir", flags->dir, "the policy directory")->required();
  command->add_option("-o,--out", flags->out, "the directory to write the site to")
      ->required()
      ->type_name("SITE");
  command
      ->add_option("--against", flags->against,
                   "compare with these policies: a file, a directory or git:REV")
      ->type_name("OLD");
  command
      ->add_option("--audit", flags->audit,
                   "show how the latest versions would have decided the logged decisions")
      ->type_name("LOG");
  command->add_option("--approvers", flags->approvers, "verify approvals with this approvers file")
      ->type_name("FILE");
  command->callback([&context, flags] {
    Report(flags->dir, flags->out, flags->against, flags->audit, flags->approvers, context);
  });
}

}  // namespace creditd::cli
