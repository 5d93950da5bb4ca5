// creditctl diff OLD NEW: what changed in meaning between two versions of
// policies, for the people who review a change before it serves. OLD and
// NEW are policy files, directories, or `git:REV` for the other argument's
// directory at a revision. Exit 0 when they mean the same, 1 when anything
// changed, 2 on usage errors and policies that do not check.
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/creditctl.h"
#include "cli/git_revision.h"
#include "cli/policy_loading.h"
#include "engine/bundle.h"
#include "engine/policy_diff.h"
#include "engine/versions.h"
#include "rapidjson/prettywriter.h"
#include "rapidjson/stringbuffer.h"

namespace creditd::cli {
namespace {

using engine::Change;
using Policy = std::shared_ptr<const engine::CompiledPolicy>;

constexpr char kGitPrefix[] = "git:";

// One version of a decision, and the file it is in, as shown.
struct Version {
  Policy policy;
  std::string file;
};

// One side of the comparison, loaded.
struct Side {
  std::string label;  // as given on the command line
  bool is_file = false;
  // Files are shown relative to this directory ("" when shown as loaded).
  std::string base;
  std::map<std::string, std::vector<Version>> decisions;
  std::unique_ptr<TempDir> temporary;  // the revision's files, for git:REV
};

std::string Parent(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// `file` relative to `base`, when it is inside it.
std::string Shown(const std::string& file, const std::string& base) {
  if (base.empty()) return file;
  const std::string prefix = absl::EndsWith(base, "/") ? base : base + "/";
  return absl::StartsWith(file, prefix) ? file.substr(prefix.size()) : file;
}

// Loads `path` (a file or a directory) into `side`; prints why not, sets the
// exit code and returns false when it cannot, or when a policy has errors.
bool Load(const std::string& path, Side* side, Context& context) {
  std::error_code error;
  if (!std::filesystem::is_directory(path, error)) {
    if (error && error != std::errc::no_such_file_or_directory) {
      context.err << "creditctl: cannot look at " << side->label << ": " << error.message() << "\n";
      context.exit_code = kExitUsage;
      return false;
    }
    absl::StatusOr<Policy> policy = LoadDecision(path, "", context);
    if (!policy.ok()) {
      context.exit_code = kExitUsage;
      return false;
    }
    side->is_file = true;
    side->base = Parent(path);
    const std::string shown = side->base.empty() ? path : Shown(path, side->base);
    side->decisions[(*policy)->name()].push_back({*policy, shown});
    return true;
  }
  engine::DiskFileReader reader;
  absl::StatusOr<engine::BundleLoad> load = engine::LoadBundle(path, reader);
  if (!load.ok()) {
    context.err << "creditctl: " << side->label << ": " << load.status().message() << "\n";
    context.exit_code = kExitUsage;
    return false;
  }
  if (load->bundle == nullptr) {
    context.err << load->report << load->errors << (load->errors == 1 ? " error" : " errors")
                << " in " << side->label << "\n";
    context.exit_code = kExitUsage;
    return false;
  }
  for (const auto& [name, versions] : load->bundle->decisions) {
    for (const engine::BundleVersion& v : versions.versions) {
      side->decisions[name].push_back({v.policy, v.path});
    }
  }
  return true;
}

// Loads `arg`; a `git:REV` argument is `other`'s directory at REV (the
// directory itself when `other` is one, else the file's directory, and then
// the same file in it).
bool LoadArgument(const std::string& arg, const std::string& other, Side* side, Context& context) {
  side->label = arg;
  if (!absl::StartsWith(arg, kGitPrefix)) return Load(arg, side, context);
  const std::string revision = arg.substr(sizeof(kGitPrefix) - 1);
  std::error_code error;
  const bool other_is_directory = std::filesystem::is_directory(other, error);
  std::string dir = other_is_directory ? other : Parent(other);
  if (dir.empty()) dir = ".";
  absl::StatusOr<std::unique_ptr<TempDir>> temporary = TempDir::Create();
  if (!temporary.ok()) {
    context.err << "creditctl: " << temporary.status().message() << "\n";
    context.exit_code = kExitUsage;
    return false;
  }
  side->temporary = *std::move(temporary);
  const std::string tree = side->temporary->path() + "/tree";
  std::filesystem::create_directory(tree, error);
  if (error) {
    context.err << "creditctl: cannot make a temporary directory: " << error.message() << "\n";
    context.exit_code = kExitUsage;
    return false;
  }
  if (absl::Status status = ExportRevision(dir, revision, tree, side->temporary->path());
      !status.ok()) {
    context.err << "creditctl: " << arg << ": " << status.message() << "\n";
    context.exit_code = kExitUsage;
    return false;
  }
  if (other_is_directory) return Load(tree, side, context);
  const std::string file = other.substr(other.find_last_of('/') + 1);
  const std::string path = tree + "/" + file;
  if (!std::filesystem::exists(path, error)) {
    context.err << "creditctl: " << arg << ": " << file << " did not exist at revision `"
                << revision << "`\n";
    context.exit_code = kExitUsage;
    return false;
  }
  return Load(path, side, context);
}

// The version of `versions` to compare: `wanted`, or else the latest by
// semantic version. Null, with the reason printed, when `wanted` is not
// there.
const Version* Pick(const std::vector<Version>& versions, const std::string& wanted,
                    const std::string& label, Context& context) {
  const Version* best = nullptr;
  for (const Version& v : versions) {
    const std::string& version = v.policy->id().version;
    if (!wanted.empty()
            ? version == wanted
            : best == nullptr || engine::CompareVersions(version, best->policy->id().version) > 0) {
      best = &v;
    }
  }
  if (best == nullptr && !versions.empty()) {
    context.err << "creditctl: " << label << " has no version " << wanted << " of `"
                << versions.front().policy->name() << "`\n";
    context.exit_code = kExitUsage;
  }
  return best;
}

// The comparison of one decision.
struct DecisionDiff {
  std::string name;
  std::string old_version;  // empty when only in NEW
  std::string new_version;  // empty when only in OLD
  std::vector<Change> changes;
};

// A decision only one side has, as one change.
Change WholeDecision(const Version& v, bool added) {
  Change c;
  c.kind = added ? Change::Kind::kAdded : Change::Kind::kRemoved;
  c.what = "decision";
  c.path = "decision " + v.policy->name();
  (added ? c.after : c.before) = v.policy->id().version;
  (added ? c.file_after : c.file_before) = v.file;
  (added ? c.line_after : c.line_before) = 1;
  if (!added) {
    c.breaks_callers = true;
    c.impact = "requests for it are refused: there is no such decision";
  }
  return c;
}

void ShowFiles(const Side& old_side, const Side& new_side, std::vector<Change>* changes) {
  for (Change& c : *changes) {
    if (c.what == "decision") continue;
    c.file_before = Shown(c.file_before, old_side.base);
    c.file_after = Shown(c.file_after, new_side.base);
  }
}

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
    Side old_side;
    Side new_side;
    if (!LoadArgument(flags->old_path, flags->new_path, &old_side, context) ||
        !LoadArgument(flags->new_path, flags->old_path, &new_side, context)) {
      return;
    }
    // Two files are two versions of one decision, whatever their names.
    const bool pair_files = old_side.is_file && new_side.is_file;
    std::set<std::string> names;
    if (!flags->decision.empty()) {
      if (old_side.decisions.count(flags->decision) == 0 &&
          new_side.decisions.count(flags->decision) == 0) {
        context.err << "creditctl: no decision `" << flags->decision << "` in " << flags->old_path
                    << " or " << flags->new_path << "\n";
        context.exit_code = kExitUsage;
        return;
      }
      names.insert(flags->decision);
    } else if (pair_files) {
      names.insert(new_side.decisions.begin()->first);
    } else {
      for (const auto& [name, versions] : old_side.decisions) names.insert(name);
      for (const auto& [name, versions] : new_side.decisions) names.insert(name);
    }
    std::vector<DecisionDiff> diffs;
    for (const std::string& name : names) {
      auto find = [&](const Side& side) -> const std::vector<Version>* {
        if (pair_files && flags->decision.empty()) return &side.decisions.begin()->second;
        auto it = side.decisions.find(name);
        return it == side.decisions.end() ? nullptr : &it->second;
      };
      const std::vector<Version>* old_versions = find(old_side);
      const std::vector<Version>* new_versions = find(new_side);
      const Version* before = old_versions != nullptr ? Pick(*old_versions, flags->old_version,
                                                             flags->old_path, context)
                                                      : nullptr;
      const Version* after = new_versions != nullptr
                                 ? Pick(*new_versions, flags->new_version, flags->new_path, context)
                                 : nullptr;
      if ((old_versions != nullptr && before == nullptr) ||
          (new_versions != nullptr && after == nullptr)) {
        return;
      }
      DecisionDiff d;
      d.name = name;
      if (before != nullptr) d.old_version = before->policy->id().version;
      if (after != nullptr) d.new_version = after->policy->id().version;
      if (before != nullptr && after != nullptr) {
        d.changes = engine::DiffPolicies(before->policy->checked(), after->policy->checked());
        ShowFiles(old_side, new_side, &d.changes);
      } else {
        d.changes.push_back(WholeDecision(after != nullptr ? *after : *before, after != nullptr));
      }
      diffs.push_back(std::move(d));
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
