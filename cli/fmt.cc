// creditctl fmt PATH...: prints policies in canonical form, checks or rewrites them.
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/creditctl.h"
#include "dsl/diagnostic.h"
#include "dsl/formatter.h"
#include "dsl/parser.h"
#include "dsl/source.h"

namespace creditd::cli {

void AddFmtCommand(CLI::App& app, Context& context) {
  struct Flags {
    std::vector<std::string> paths;
    bool check = false;
    bool write = false;
  };
  auto flags = std::make_shared<Flags>();
  auto* command = app.add_subcommand("fmt", "Print policy files in canonical form");
  command->footer(
      "Examples:\n"
      "  creditctl fmt policies/dunning.credit          print the canonical form\n"
      "  creditctl fmt --check policies/*.credit        exit 1 if any file is not canonical\n"
      "  creditctl fmt -w policies/*.credit             rewrite the files in place");
  command->add_option("paths", flags->paths, "policy files")->required()->check(CLI::ExistingFile);
  auto* check = command->add_flag("--check", flags->check,
                                  "print nothing; list the files that are not canonical, exit 1");
  command->add_flag("-w,--write", flags->write, "rewrite files in place")->excludes(check);
  command->callback([&context, flags] {
    dsl::SourceSet sources;
    for (const std::string& path : flags->paths) {
      absl::StatusOr<std::string> text = ReadFile(path);
      if (!text.ok()) {
        context.err << "creditctl: " << text.status().message() << "\n";
        context.exit_code = kExitUsage;
        return;
      }
      const int index = sources.Add(path, *std::move(text));
      dsl::DiagnosticSink sink;
      absl::StatusOr<std::unique_ptr<dsl::ast::File>> file = dsl::Parse(sources, index, sink);
      if (!file.ok() || *file == nullptr) {
        context.err << dsl::FormatDiagnostics(sink, sources);
        context.exit_code = kExitFailure;
        continue;
      }
      const std::string& original = sources.file(index).text();
      const std::string formatted = dsl::Format(**file, sources.file(index));
      if (flags->check) {
        if (formatted != original) {
          context.out << path << "\n";
          context.exit_code = kExitFailure;
        }
      } else if (flags->write) {
        if (formatted != original) {
          std::ofstream out(path, std::ios::binary | std::ios::trunc);
          out << formatted;
          if (!out.flush()) {
            context.err << "creditctl: cannot write " << path << "\n";
            context.exit_code = kExitUsage;
            return;
          }
        }
      } else {
        context.out << formatted;
      }
    }
  });
}

}  // namespace creditd::cli
