// creditctl check PATH... [--audit LOG]: loads, checks and analyses policies
// and prints every diagnostic, as text or JSON, with optional statistics. A
// directory loads as creditd loads it.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "cli/creditctl.h"
#include "cli/policy_loading.h"
#include "dsl/diagnostic.h"
#include "engine/approvals.h"
#include "engine/checker.h"
#include "engine/compiler.h"
#include "engine/decision_json.h"

namespace creditd::cli {

namespace {

std::string DiagnosticJson(const dsl::Diagnostic& d, const std::string& file) {
  using engine::JsonQuote;
  return absl::StrCat(
      "{\"severity\": ", JsonQuote(d.severity == dsl::Severity::kError ? "error" : "warning"),
      ", \"code\": ", JsonQuote(d.code), ", \"file\": ", JsonQuote(file),
      ", \"line\": ", d.span.line, ", \"column\": ", d.span.column,
      ", \"end_line\": ", d.span.end_line, ", \"end_column\": ", d.span.end_column,
      ", \"message\": ", JsonQuote(d.message), ", \"help\": ", JsonQuote(d.help), "}");
}

// What the compiled form of a policy costs: the static bound on the work
// per decision; and what its static analysis cost.
std::string Stats(const engine::CompiledPolicy& p, int64_t analysis_work) {
  const engine::program::Program& code = p.code();
  return absl::StrCat(p.name(), " ", p.id().version, ": ", p.inputs().size(), " inputs, ",
                      p.outputs().size(), " outputs, ", p.rules().size(), " rules; at most ",
                      p.max_steps(),
                      " instructions per decision (the program only jumps "
                      "forward), a frame of ",
                      code.slot_count + code.constants.size(), " slots (", code.constants.size(),
                      " constants), ", code.lookups.size(), " interval lookups, ",
                      code.tables.size(), " tables; the analysis spent ", analysis_work, " of ",
                      engine::CheckOptions().max_analysis_work, " work units\n");
}

}  // namespace

void AddCheckCommand(CLI::App& app, Context& context) {
  struct Flags {
    std::vector<std::string> paths;
    std::string format = "text";
    bool stats = false;
    std::string audit;
    std::string approvers;
    int required_approvals = 0;
  };
  auto flags = std::make_shared<Flags>();
  auto* command =
      app.add_subcommand("check", "Check policy files: syntax, names, types and static analysis");
  command->footer(
      "A directory is checked as creditd loads it: every *.credit file, several versions of a\n"
      "decision side by side (one name and version in two files is an error), files named\n"
      "relative to the directory; with --audit LOG, each version the log has served must keep\n"
      "its text. Exit status: 0 clean (warnings allowed), 1 errors, 2 usage.\n\n"
      "Examples:\n"
      "  creditctl check policies/\n"
      "  creditctl check --format json policies/dunning.credit\n"
      "  creditctl check --stats policies/\n"
      "  creditctl check --approvers approvers.txt --required_approvals 2 policies/");
  command->add_option("paths", flags->paths, "policy files or directories")->required();
  command->add_option("--format", flags->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  command->add_flag("--stats", flags->stats,
                    "also print each policy's compiled size and its bound on the work per "
                    "decision");
  command->add_option("--audit", flags->audit,
                      "an audit log: hold each directory against the versions it has served, "
                      "as creditd does at start");
  command->add_option("--approvers", flags->approvers,
                      "trusted approvers and their public keys (four-eyes approval, "
                      "docs/review.md)");
  command
      ->add_option("--required_approvals", flags->required_approvals,
                   "approvals by distinct trusted approvers each version needs (E0603)")
      ->check(CLI::Range(0, 100));
  command->callback([&context, flags] {
    const bool json = flags->format == "json";
    if ((flags->required_approvals > 0) != !flags->approvers.empty()) {
      context.err << "creditctl: --approvers and --required_approvals (at least 1) go together\n";
      context.exit_code = kExitUsage;
      return;
    }
    engine::BundleOptions bundle_options;
    bundle_options.required_approvals = flags->required_approvals;
    bundle_options.approvers_file = flags->approvers;
    engine::Approvers approvers;
    if (flags->required_approvals > 0) {
      absl::StatusOr<engine::Approvers> read =
          engine::ReadApprovers(engine::FileSystem::Default(), flags->approvers);
      if (!read.ok()) {
        context.err << "creditctl: " << flags->approvers << ": " << read.status().message() << "\n";
        context.exit_code = kExitUsage;
        return;
      }
      approvers = *std::move(read);
    }
    int errors = 0;
    int warnings = 0;
    std::vector<std::string> json_items;
    std::string stats;
    std::vector<std::string> files;
    for (const std::string& path : flags->paths) {
      std::error_code error;
      if (!std::filesystem::is_directory(path, error)) {
        files.push_back(path);
        continue;
      }
      // The loader creditd uses: the same verdict.
      engine::Registry registry;
      absl::StatusOr<engine::BundleLoad> load =
          LoadDirectory(path, flags->audit, registry, context, bundle_options);
      if (!load.ok()) return;
      errors += load->errors;
      warnings += load->warnings;
      if (json) {
        for (size_t i = 0; i < load->diagnostics.size(); ++i) {
          json_items.push_back(DiagnosticJson(
              load->diagnostics[i], load->diagnostic_files[i].empty()
                                        ? ""
                                        : engine::JoinPath(path, load->diagnostic_files[i])));
        }
      } else {
        context.err << load->report;
      }
      if (flags->stats && load->bundle != nullptr) {
        for (const auto& [name, decision] : load->bundle->decisions) {
          for (const engine::BundleVersion& v : decision.versions) {
            stats += Stats(*v.policy, v.policy->checked().analysis_work);
          }
        }
      }
    }
    if (!flags->audit.empty() && files.size() == flags->paths.size()) {
      context.err << "creditctl: --audit holds a policy directory against the log; give one\n";
      context.exit_code = kExitUsage;
      return;
    }
    engine::DiskFileReader reader;
    // Libraries imported by several policies are reported once.
    std::vector<std::tuple<std::string, int, int, std::string>> seen;
    for (const std::string& path : files) {
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
        if (json) {
          json_items.push_back(DiagnosticJson(d, file));
        } else if (sources != nullptr) {
          context.err << dsl::FormatDiagnostic(d, *sources);
        } else {
          context.err << "error[" << d.code << "]: " << path << ": " << d.message << "\n";
        }
      }
      if ((flags->stats || flags->required_approvals > 0) && policy.ok() && !sink.has_errors() &&
          !(*policy)->is_library) {
        const int64_t analysis = (*policy)->analysis_work;
        absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> compiled =
            engine::Compile(*std::move(policy));
        if (compiled.ok() && flags->stats) stats += Stats(**compiled, analysis);
        if (compiled.ok() && flags->required_approvals > 0) {
          // The approvals beside the file, as `creditctl approve FILE` writes them.
          std::filesystem::path dir = std::filesystem::path(path).parent_path();
          if (dir.empty()) dir = ".";
          absl::StatusOr<std::vector<engine::ApprovalText>> approvals = engine::ReadApprovals(
              engine::FileSystem::Default(), (dir / engine::kApprovalsDir).string(),
              (dir / engine::kApprovalsDir).string());
          dsl::Diagnostic d;
          if (!approvals.ok()) {
            ++errors;
            context.err << "creditctl: " << approvals.status().message() << "\n";
          } else if (engine::NotApproved(
                         **compiled,
                         engine::CountApprovals((*compiled)->id(), *approvals, approvers),
                         flags->required_approvals, &d)) {
            ++errors;
            if (json) {
              json_items.push_back(DiagnosticJson(d, path));
            } else {
              context.err << dsl::FormatDiagnostic(d, (*compiled)->checked().program->sources);
            }
          }
        }
      }
    }
    if (json) {
      context.out << "[";
      for (size_t i = 0; i < json_items.size(); ++i) {
        context.out << (i > 0 ? ",\n " : "") << json_items[i];
      }
      context.out << "]\n";
    } else if (errors + warnings > 0) {
      context.err << errors << (errors == 1 ? " error, " : " errors, ") << warnings
                  << (warnings == 1 ? " warning\n" : " warnings\n");
    } else {
      // Clean says so: silence could also be a check that never ran.
      context.out << "no errors, no warnings\n";
    }
    context.out << stats;
    context.exit_code = errors > 0 ? kExitFailure : kExitOk;
  });
}

}  // namespace creditd::cli
