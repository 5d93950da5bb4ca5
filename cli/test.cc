// creditctl test PATH...: runs policy test files and reports failures and
// coverage.
#include <iomanip>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "cli/creditctl.h"
#include "cli/policy_loading.h"
#include "cli/policy_tests.h"

namespace creditd::cli {

void AddTestCommand(CLI::App& app, Context& context) {
  struct Flags {
    std::vector<std::string> paths;
    double min_coverage = 0;
    bool verbose = false;
  };
  auto flags = std::make_shared<Flags>();
  auto* command = app.add_subcommand("test", "Run policy test files, with coverage");
  command->footer(
      "Test files are NAME.tests.json beside the policy (docs/testing.md). Exit status: 0 all\n"
      "cases pass and coverage is at least --min-coverage, 1 otherwise, 2 usage.\n\n"
      "Example:\n  creditctl test policies --min-coverage 100");
  command->add_option("paths", flags->paths, "test files or directories")->required();
  command
      ->add_option("--min-coverage", flags->min_coverage,
                   "fail when a policy's cases reach less than this percent of its rules, "
                   "band and table rows and scorecard bins")
      ->check(CLI::Range(0.0, 100.0));
  command->add_flag("-v,--verbose", flags->verbose, "list passing cases too");
  command->callback([&context, flags] {
    absl::StatusOr<std::vector<std::string>> files = ExpandPaths(flags->paths, ".tests.json");
    if (!files.ok()) {
      context.err << "creditctl: " << files.status().message() << "\n";
      context.exit_code = kExitUsage;
      return;
    }
    if (files->empty()) {
      context.err << "creditctl: no *.tests.json files found\n";
      context.exit_code = kExitUsage;
      return;
    }
    // Group test files by policy, so coverage adds up over all of them.
    std::map<std::string, std::vector<std::string>> by_policy;
    for (const std::string& file : *files) {
      absl::StatusOr<std::string> policy = PolicyPathFor(file);
      if (!policy.ok()) {
        context.err << "creditctl: " << policy.status().message() << "\n";
        context.exit_code = kExitUsage;
        return;
      }
      by_policy[*policy].push_back(file);
    }
    int passed = 0, failed = 0;
    bool coverage_low = false;
    TestRunOptions options;
    options.verbose = flags->verbose;
    for (const auto& [policy_path, tests] : by_policy) {
      absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> policy =
          LoadDecision(policy_path, "", context);
      if (!policy.ok()) {
        context.exit_code = kExitFailure;
        return;
      }
      Coverage coverage(**policy);
      for (const std::string& test : tests) {
        context.out << test << "\n";
        absl::StatusOr<TestFileResult> result =
            RunTestFile(test, **policy, coverage, options, context.out);
        if (!result.ok()) {
          context.err << "creditctl: " << result.status().message() << "\n";
          context.exit_code = kExitUsage;
          return;
        }
        passed += result->passed;
        failed += result->failed;
      }
      const double percent =
          coverage.total() == 0 ? 100.0 : 100.0 * coverage.covered() / coverage.total();
      context.out << "  coverage of " << (*policy)->name() << ": " << coverage.covered() << "/"
                  << coverage.total() << " (" << std::fixed << std::setprecision(1) << percent
                  << "%)\n";
      for (const CoverageItem& item : coverage.Missing()) {
        context.out << "    not reached: " << item.what << " at " << item.location << "\n";
      }
      if (percent + 1e-9 < flags->min_coverage) {
        coverage_low = true;
        context.out << "  coverage is below --min-coverage " << flags->min_coverage << "%\n";
      }
    }
    context.out << passed + failed << " cases: " << passed << " passed, " << failed << " failed\n";
    context.exit_code = failed > 0 || coverage_low ? kExitFailure : kExitOk;
  });
}

}  // namespace creditd::cli
