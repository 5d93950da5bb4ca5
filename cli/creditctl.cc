#include "cli/creditctl.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "creditd/version.h"

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
      std::vector<std::string> found;
      for (const auto& entry : fs::recursive_directory_iterator(path, error)) {
        if (entry.is_regular_file() && absl::EndsWith(entry.path().string(), suffix)) {
          found.push_back(entry.path().string());
        }
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(path, error)) {
      files.push_back(path);
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
  AddAuditCommand(app, context);

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
