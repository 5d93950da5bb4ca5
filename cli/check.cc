// creditctl check PATH...: reports every diagnostic in the given policies.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/creditctl.h"
#include "dsl/diagnostic.h"
#include "dsl/parser.h"
#include "dsl/source.h"

namespace creditd::cli {

void AddCheckCommand(CLI::App& app, Context& context) {
  auto* command = app.add_subcommand("check", "Check policy files and print their diagnostics");
  command->footer("Example:\n  creditctl check policies/credit_application.credit");
  auto paths = std::make_shared<std::vector<std::string>>();
  command->add_option("paths", *paths, "policy files")->required()->check(CLI::ExistingFile);
  command->callback([&context, paths] {
    dsl::SourceSet sources;
    dsl::DiagnosticSink sink;
    for (const std::string& path : *paths) {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        context.err << "creditctl: cannot read " << path << "\n";
        context.exit_code = kExitUsage;
        return;
      }
      std::stringstream text;
      text << in.rdbuf();
      const int file = sources.Add(path, text.str());
      if (absl::Status status = dsl::CheckSyntax(sources, file, sink); !status.ok()) {
        context.err << "creditctl: " << status.message() << "\n";
        context.exit_code = kExitUsage;
        return;
      }
    }
    context.err << dsl::FormatDiagnostics(sink, sources);
    context.exit_code = sink.has_errors() ? kExitFailure : kExitOk;
  });
}

}  // namespace creditd::cli
