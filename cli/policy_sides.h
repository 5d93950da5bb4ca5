#pragma once

// The two sides of a comparison of policy versions, as `creditctl diff` and
// `creditctl report --against` take them: a policy file, a directory of
// policies, or `git:REV` for the other side's directory at a revision;
// and the semantic diff of the decisions they hold (engine::DiffPolicies).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/creditctl.h"
#include "cli/git_revision.h"
#include "engine/bundle.h"
#include "engine/compiled_policy.h"
#include "engine/policy_diff.h"

namespace creditd::cli {

// What an argument starts with to mean a git revision.
inline constexpr char kGitPrefix[] = "git:";

// One version of a decision, and its file as shown.
struct SideVersion {
  std::shared_ptr<const engine::CompiledPolicy> policy;
  std::string file;
};

// One side of the comparison, loaded.
struct PolicySide {
  std::string label;  // as given on the command line
  bool is_file = false;
  // Files are shown relative to this directory ("" when shown as loaded).
  std::string base;
  // By decision name, every version loaded.
  std::map<std::string, std::vector<SideVersion>> decisions;
  std::unique_ptr<TempDir> temporary;  // the revision's files, for git:REV
};

// Loads `arg` into `side` (whose label becomes `arg`): a policy file, a
// directory loaded as creditd loads it, or `git:REV`, `other`'s directory
// at REV (the directory itself when `other` is one, else the file's
// directory, and then the same file in it). Prints why not, sets the exit
// code (usage) and returns false when it cannot, or when a policy has
// errors (their diagnostics printed as check prints them).
bool LoadPolicySide(const std::string& arg, const std::string& other, PolicySide* side,
                    Context& context);

// Loads the directory `path` as creditd loads it (engine::LoadBundle),
// calling it `label` in messages. Null, with why printed (a policy's
// diagnostics as check prints them) and the exit code set (usage), when it
// cannot be read or a policy has errors.
std::shared_ptr<const engine::Bundle> LoadPolicyDirectory(const std::string& path,
                                                          const std::string& label,
                                                          Context& context);

// Adds every version of `bundle`, named by its path in the bundle's
// directory, to `side`: a directory loaded already.
void AddBundleToSide(const engine::Bundle& bundle, PolicySide* side);

// The comparison of one decision.
struct DecisionDiff {
  std::string name;
  std::string old_version;  // empty when only in NEW
  std::string new_version;  // empty when only in OLD
  std::vector<engine::Change> changes;
};

// Which decisions and versions to compare; empty: every decision, the
// latest version (by semantic version) of each on each side.
struct DiffSelection {
  std::string decision;
  std::string old_version;  // with `decision`
  std::string new_version;  // with `decision`
};

// The version of `versions` to compare: `wanted`, or else the latest by
// semantic version. Null, with the reason printed and the exit code set,
// when `wanted` is not there; null without a word when `versions` is empty.
const SideVersion* PickVersion(const std::vector<SideVersion>& versions, const std::string& wanted,
                               const std::string& label, Context& context);

// Compares the decisions of the two sides by name (two files: with each
// other, whatever their decisions are called), each decision by the
// versions `selection` picks; a decision on one side only is one change
// (added, or removed: that breaks callers). Files are shown relative to
// each side's base. False, with why printed and the exit code set (usage),
// when the selection names a decision or version that is not there.
bool DiffSides(const PolicySide& old_side, const PolicySide& new_side,
               const DiffSelection& selection, Context& context, std::vector<DecisionDiff>* diffs);

}  // namespace creditd::cli
