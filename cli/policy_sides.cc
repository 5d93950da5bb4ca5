#include "cli/policy_sides.h"

#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/policy_loading.h"
#include "engine/versions.h"

namespace creditd::cli {
namespace {

using engine::Change;
using Policy = std::shared_ptr<const engine::CompiledPolicy>;

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
bool Load(const std::string& path, PolicySide* side, Context& context) {
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
  std::shared_ptr<const engine::Bundle> bundle = LoadPolicyDirectory(path, side->label, context);
  if (bundle == nullptr) return false;
  AddBundleToSide(*bundle, side);
  return true;
}

// A decision only one side has, as one change.
Change WholeDecision(const SideVersion& v, bool added) {
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

void ShowFiles(const PolicySide& old_side, const PolicySide& new_side,
               std::vector<Change>* changes) {
  for (Change& c : *changes) {
    if (c.what == "decision") continue;
    c.file_before = Shown(c.file_before, old_side.base);
    c.file_after = Shown(c.file_after, new_side.base);
  }
}

}  // namespace

std::shared_ptr<const engine::Bundle> LoadPolicyDirectory(const std::string& path,
                                                          const std::string& label,
                                                          Context& context) {
  engine::DiskFileReader reader;
  absl::StatusOr<engine::BundleLoad> load = engine::LoadBundle(path, reader);
  if (!load.ok()) {
    context.err << "creditctl: " << label << ": " << load.status().message() << "\n";
    context.exit_code = kExitUsage;
    return nullptr;
  }
  if (load->bundle == nullptr) {
    context.err << load->report << load->errors << (load->errors == 1 ? " error" : " errors")
                << " in " << label << "\n";
    context.exit_code = kExitUsage;
    return nullptr;
  }
  return load->bundle;
}

void AddBundleToSide(const engine::Bundle& bundle, PolicySide* side) {
  for (const auto& [name, versions] : bundle.decisions) {
    for (const engine::BundleVersion& v : versions.versions) {
      side->decisions[name].push_back({v.policy, v.path});
    }
  }
}

bool LoadPolicySide(const std::string& arg, const std::string& other, PolicySide* side,
                    Context& context) {
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

const SideVersion* PickVersion(const std::vector<SideVersion>& versions, const std::string& wanted,
                               const std::string& label, Context& context) {
  const SideVersion* best = nullptr;
  for (const SideVersion& v : versions) {
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

bool DiffSides(const PolicySide& old_side, const PolicySide& new_side,
               const DiffSelection& selection, Context& context, std::vector<DecisionDiff>* diffs) {
  // Two files are two versions of one decision, whatever their names.
  const bool pair_files = old_side.is_file && new_side.is_file;
  std::set<std::string> names;
  if (!selection.decision.empty()) {
    if (old_side.decisions.count(selection.decision) == 0 &&
        new_side.decisions.count(selection.decision) == 0) {
      context.err << "creditctl: no decision `" << selection.decision << "` in " << old_side.label
                  << " or " << new_side.label << "\n";
      context.exit_code = kExitUsage;
      return false;
    }
    names.insert(selection.decision);
  } else if (pair_files) {
    names.insert(new_side.decisions.begin()->first);
  } else {
    for (const auto& [name, versions] : old_side.decisions) names.insert(name);
    for (const auto& [name, versions] : new_side.decisions) names.insert(name);
  }
  for (const std::string& name : names) {
    auto find = [&](const PolicySide& side) -> const std::vector<SideVersion>* {
      if (pair_files && selection.decision.empty()) return &side.decisions.begin()->second;
      auto it = side.decisions.find(name);
      return it == side.decisions.end() ? nullptr : &it->second;
    };
    const std::vector<SideVersion>* old_versions = find(old_side);
    const std::vector<SideVersion>* new_versions = find(new_side);
    const SideVersion* before =
        old_versions != nullptr
            ? PickVersion(*old_versions, selection.old_version, old_side.label, context)
            : nullptr;
    const SideVersion* after =
        new_versions != nullptr
            ? PickVersion(*new_versions, selection.new_version, new_side.label, context)
            : nullptr;
    if ((old_versions != nullptr && before == nullptr) ||
        (new_versions != nullptr && after == nullptr)) {
      return false;
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
    diffs->push_back(std::move(d));
  }
  return true;
}

}  // namespace creditd::cli
