#include "cli/creditctl.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "creditd/version.h"
#include "engine/file_system.h"

namespace creditd::cli {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::UnavailableError(absl::StrCat("error reading ", path));
  return text.str();
}

absl::StatusOr<std::vector<std::string>> ExpandPolicyPaths(const std::vector<std::string>& paths) {
  return ExpandPaths(paths, ".credit");
}

absl::StatusOr<std::vector<std::string>> ExpandPaths(const std::vector<std::string>& paths,
                                                     absl::string_view suffix) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
      // The walk the server's loads use: hidden names skipped, links to
      // directories not followed, and any part that cannot be read is an
      // error rather than files silently left out.
      absl::StatusOr<engine::Tree> tree = engine::WalkTree(engine::FileSystem::Default(), path);
      if (!tree.ok()) {
        return absl::Status(tree.status().code(),
                            absl::StrCat("cannot read ", path, ": ", tree.status().message()));
      }
      if (!tree->problems.empty()) {
        return absl::Status(tree->problems[0].code(),
                            absl::StrCat(path, ": ", tree->problems[0].message()));
      }
      // Sorted by path already; files, links and anything else with the
      // suffix (the reader says what it cannot read).
      for (const engine::TreeEntry& entry : tree->entries) {
        if (entry.type != engine::FileType::kDirectory && absl::EndsWith(entry.path, suffix)) {
          files.push_back(engine::JoinPath(path, entry.path));
        }
      }
    } else if (fs::exists(path, error)) {
      files.push_back(path);
    } else if (error) {
      return absl::UnavailableError(absl::StrCat("cannot look at ", path, ": ", error.message()));
    } else {
      return absl::NotFoundError(absl::StrCat("no such file or directory: ", path));
    }
  }
  return files;
}

int RunCreditctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Context context{out, err};
  CLI::App app{"creditctl: check, format, test and evaluate creditd policies", "creditctl"};
  app.set_version_flag("--version", std::string("creditctl ") + kVersion);
  app.require_subcommand(1);
  app.footer("Run `creditctl VERB --help` for a verb's flags and an example.");
  AddCheckCommand(app, context);
  AddFmtCommand(app, context);
  AddEvalCommand(app, context);
  AddTestCommand(app, context);
  AddExplainCommand(app, context);
  AddSchemaCommand(app, context);
  AddImpactCommand(app, context);
  AddAuditCommand(app, context);
  AddLspCommand(app, context);
  AddDiffCommand(app, context);
  AddApproveCommand(app, context);
  AddReportCommand(app, context);

  // CLI11 wants argv order reversed when given a vector.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return kExitOk;
  } catch (const CLI::CallForVersion&) {
    out << app.version() << "\n";
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      out << app.help();
      return kExitOk;
    }
    err << "creditctl: " << e.what() << "\n";
    err << "Run `creditctl --help` for usage.\n";
    return kExitUsage;
  }
  return context.exit_code;
}

}  // namespace creditd::cli
