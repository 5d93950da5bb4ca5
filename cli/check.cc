// creditctl check PATH...: loads, checks and analyses policies and prints
// every diagnostic.
#include <algorithm>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/creditctl.h"
#include "dsl/diagnostic.h"
#include "engine/checker.h"

namespace creditd::cli {

void AddCheckCommand(CLI::App& app, Context& context) {
  auto paths = std::make_shared<std::vector<std::string>>();
  auto* command =
      app.add_subcommand("check", "Check policy files: syntax, names, types and static analysis");
  command->footer(
      "Directories are searched for *.credit files. Exit status: 0 clean (warnings allowed),\n"
      "1 errors, 2 usage.\n\n"
      "Example:\n  creditctl check policies/");
  command->add_option("paths", *paths, "policy files or directories")->required();
  command->callback([&context, paths] {
    absl::StatusOr<std::vector<std::string>> files = ExpandPolicyPaths(*paths);
    if (!files.ok()) {
      context.err << "creditctl: " << files.status().message() << "\n";
      context.exit_code = kExitUsage;
      return;
    }
    engine::DiskFileReader reader;
    int errors = 0;
    int warnings = 0;
    // Libraries imported by several policies are reported once.
    std::vector<std::tuple<std::string, int, int, std::string>> seen;
    for (const std::string& path : *files) {
      dsl::DiagnosticSink sink;
      absl::StatusOr<std::unique_ptr<engine::CheckedPolicy>> policy =
          engine::LoadAndCheck(path, reader, sink);
      if (!policy.ok() && sink.diagnostics().empty()) {
        context.err << "creditctl: " << policy.status().message() << "\n";
        context.exit_code = kExitUsage;
        return;
      }
      const dsl::SourceSet* sources = policy.ok() ? &(*policy)->program->sources : nullptr;
      for (const dsl::Diagnostic& d : sink.Sorted()) {
        const std::string file =
            sources != nullptr && d.span.known() ? sources->file(d.span.file).path() : path;
        auto key = std::make_tuple(file, d.span.line, d.span.column, d.message);
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
        seen.push_back(key);
        (d.severity == dsl::Severity::kError ? errors : warnings)++;
        if (sources != nullptr) {
          context.err << dsl::FormatDiagnostic(d, *sources);
        } else {
          context.err << "error[" << d.code << "]: " << path << ": " << d.message << "\n";
        }
      }
    }
    if (errors + warnings > 0) {
      context.err << errors << (errors == 1 ? " error, " : " errors, ") << warnings
                  << (warnings == 1 ? " warning\n" : " warnings\n");
    }
    context.exit_code = errors > 0 ? kExitFailure : kExitOk;
  });
}

}  // namespace creditd::cli
