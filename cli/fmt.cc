// creditctl fmt PATH...: prints policies in canonical form, checks or rewrites them.
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/creditctl.h"
#include "cli/output.h"
#include "cli/text_diff.h"
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
      "  creditctl fmt policies/dunning.credit   print the canonical form\n"
      "  creditctl fmt --check policies          show how each file that is not canonical\n"
      "                                          differs (a unified diff), exit 1\n"
      "  creditctl fmt -w policies               rewrite the files that are not canonical");
  command->add_option("paths", flags->paths, "policy files or directories (their *.credit files)")
      ->required();
  auto* check = command->add_flag(
      "--check", flags->check,
      "change nothing; print a unified diff for each file that is not canonical, exit 1");
  command
      ->add_flag("-w,--write", flags->write,
                 "rewrite the files that are not canonical (each replaced whole, by rename)")
      ->excludes(check);
  command->callback([&context, flags] {
    absl::StatusOr<std::vector<std::string>> paths = ExpandPolicyPaths(flags->paths);
    if (!paths.ok()) {
      context.err << "creditctl: " << paths.status().message() << "\n";
      context.exit_code = kExitUsage;
      return;
    }
    if (paths->empty()) {
      context.err << "creditctl: no *.credit files found\n";
      context.exit_code = kExitUsage;
      return;
    }
    dsl::SourceSet sources;
    int differ = 0;
    for (const std::string& path : *paths) {
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
          ++differ;
          context.out << UnifiedDiff(original, formatted, path, path + " (canonical)");
          context.exit_code = kExitFailure;
        }
      } else if (flags->write) {
        if (formatted != original) {
          // Replaced whole, keeping its permissions: a failed write leaves
          // the policy as it was, never cut short.
          struct stat st;
          const mode_t mode = stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0644;
          absl::StatusOr<std::unique_ptr<FileOutput>> output = FileOutput::Create(path, mode);
          absl::Status status = output.ok() ? absl::OkStatus() : output.status();
          if (status.ok()) {
            (*output)->Write(formatted);
            status = (*output)->Finish();
          }
          if (!status.ok()) {
            context.err << "creditctl: " << status.message() << "\n";
            context.exit_code = kExitUsage;
            return;
          }
        }
      } else {
        context.out << formatted;
      }
    }
    if (flags->check && differ > 0) {
      context.err << differ << (differ == 1 ? " file is" : " files are") << " not canonical: "
                  << "`creditctl fmt -w` rewrites " << (differ == 1 ? "it" : "them") << "\n";
    }
  });
}

}  // namespace creditd::cli
