// creditctl diff OLD NEW: what changed in meaning between two versions of
// policies, for the people who review a change before it serves. OLD and
// NEW are policy files, directories, or `git:REV` for the other argument's
// directory at a revision. Exit 0 when they mean the same, 1 when anything
// changed, 2 on usage errors and policies that do not check.
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/creditctl.h"
#include "cli/policy_sides.h"
#include "engine/policy_diff.h"
#include "rapidjson/prettywriter.h"
#include "rapidjson/stringbuffer.h"

namespace creditd::cli {
namespace {

using engine::Change;

std::string Location(const std::string& file, int line) {
  return file.empty() ? "" : absl::StrCat(file, ":", line);
}

void PrintText(const std::vector<DecisionDiff>& diffs, Context& context) {
  int total = 0;
  int breaking = 0;
  for (const DecisionDiff& d : diffs) {
    if (d.changes.empty()) continue;
    context.out << d.name;
    if (!d.old_version.empty() && !d.new_version.empty() && d.old_version != d.new_version) {
      context.out << " " << d.old_version << " → " << d.new_version;
    } else {
      context.out << " " << (d.new_version.empty() ? d.old_version : d.new_version);
    }
    context.out << "\n";
    for (const Change& c : d.changes) {
      ++total;
      context.out << "  " << (c.breaks_callers ? "! " : "");
      switch (c.kind) {
        case Change::Kind::kAdded:
          context.out << "+ " << c.path << (c.after.empty() ? "" : ": " + c.after);
          break;
        case Change::Kind::kRemoved:
          context.out << "- " << c.path << (c.before.empty() ? "" : ": " + c.before);
          break;
        case Change::Kind::kChanged:
          context.out << "~ " << c.path << ": " << c.before << " → " << c.after;
          break;
      }
      if (!c.expression_after.empty()) context.out << " (" << c.expression_after << ")";
      const std::string where = c.kind == Change::Kind::kRemoved
                                    ? Location(c.file_before, c.line_before)
                                    : Location(c.file_after, c.line_after);
      if (!where.empty()) context.out << "   " << where;
      if (c.breaks_callers) {
        ++breaking;
        context.out << "   breaks callers: " << c.impact;
      }
      context.out << "\n";
    }
  }
  if (total > 0) {
    context.out << total << (total == 1 ? " change, " : " changes, ") << breaking
                << (breaking == 1 ? " breaks callers\n" : " break callers\n");
  }
}

using Writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void Member(Writer& w, const char* key, const std::string& text) {
  w.Key(key);
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

void PrintJson(const std::string& old_label, const std::string& new_label,
               const std::vector<DecisionDiff>& diffs, Context& context) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  int total = 0;
  int breaking = 0;
  w.StartObject();
  Member(w, "old", old_label);
  Member(w, "new", new_label);
  w.Key("decisions");
  w.StartArray();
  for (const DecisionDiff& d : diffs) {
    if (d.changes.empty()) continue;
    w.StartObject();
    Member(w, "name", d.name);
    Member(w, "old_version", d.old_version);
    Member(w, "new_version", d.new_version);
    w.Key("changes");
    w.StartArray();
    for (const Change& c : d.changes) {
      ++total;
      if (c.breaks_callers) ++breaking;
      w.StartObject();
      Member(w, "kind", engine::ChangeKindName(c.kind));
      Member(w, "what", c.what);
      Member(w, "path", c.path);
      Member(w, "before", c.before);
      Member(w, "after", c.after);
      w.Key("constant");
      w.Bool(c.constant);
      Member(w, "expression_before", c.expression_before);
      Member(w, "expression_after", c.expression_after);
      w.Key("breaks_callers");
      w.Bool(c.breaks_callers);
      Member(w, "impact", c.impact);
      Member(w, "file_before", c.file_before);
      w.Key("line_before");
      w.Int(c.line_before);
      Member(w, "file_after", c.file_after);
      w.Key("line_after");
      w.Int(c.line_after);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("changes");
  w.Int(total);
  w.Key("breaking");
  w.Int(breaking);
  w.EndObject();
  context.out << buffer.GetString() << "\n";
}

}  // namespace

void AddDiffCommand(CLI::App& app, Context& context) {
  struct Flags {
    std::string old_path;
    std::string new_path;
    std::string format = "text";
    std::string decision;
    std::string old_version;
    std::string new_version;
  };
  auto flags = std::make_shared<Flags>();
  auto* command = app.add_subcommand(
      "diff", "Compare two versions of policies by meaning: what changed, and what breaks callers");
  command->footer(
      "OLD and NEW are policy files, directories, or git:REV for the other argument's directory\n"
      "at a revision. Decisions are matched by name; of several versions in a directory the\n"
      "latest (by semantic version) is compared unless --decision with --old-version and\n"
      "--new-version pick. Layout, comments and digit grouping are not changes. Lines marked\n"
      "`!` break callers (a new required input, a removed output, a narrowed range, ...).\n"
      "Exit status: 0 the same meaning, 1 changes, 2 usage or policies with errors.\n"
      "docs/review.md describes the output and its JSON fields.\n\n"
      "Examples:\n"
      "  creditctl diff git:HEAD~1 policies\n"
      "  creditctl diff old/credit_check.credit policies/examples/credit_check.credit\n"
      "  creditctl diff policies policies -d credit_application --old-version 1.0.0 "
      "--new-version 1.1.0\n"
      "  creditctl diff --format json git:main policies");
  command->add_option("old", flags->old_path, "the old policies: a file, a directory or git:REV")
      ->required();
  command->add_option("new", flags->new_path, "the new policies: a file, a directory or git:REV")
      ->required();
  command->add_option("--format", flags->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  auto* decision =
      command->add_option("-d,--decision", flags->decision, "compare this decision only");
  command->add_option("--old-version", flags->old_version, "the version of OLD to compare")
      ->needs(decision);
  command->add_option("--new-version", flags->new_version, "the version of NEW to compare")
      ->needs(decision);
  command->callback([&context, flags] {
    const bool old_git = absl::StartsWith(flags->old_path, kGitPrefix);
    const bool new_git = absl::StartsWith(flags->new_path, kGitPrefix);
    if (old_git && new_git) {
      context.err << "creditctl: git:REV stands for the other argument's directory at a "
                     "revision; give a file or directory for one of them\n";
      context.exit_code = kExitUsage;
      return;
    }
    PolicySide old_side;
    PolicySide new_side;
    if (!LoadPolicySide(flags->old_path, flags->new_path, &old_side, context) ||
        !LoadPolicySide(flags->new_path, flags->old_path, &new_side, context)) {
      return;
    }
    std::vector<DecisionDiff> diffs;
    if (!DiffSides(old_side, new_side, {flags->decision, flags->old_version, flags->new_version},
                   context, &diffs)) {
      return;
    }
    if (flags->format == "json") {
      PrintJson(flags->old_path, flags->new_path, diffs, context);
    } else {
      PrintText(diffs, context);
    }
    bool changed = false;
    for (const DecisionDiff& d : diffs) changed = changed || !d.changes.empty();
    context.exit_code = changed ? kExitFailure : kExitOk;
  });
}

}  // namespace creditd::cli
