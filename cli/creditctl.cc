#include "cli/creditctl.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "CLI/CLI.hpp"
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

int RunCreditctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Context context{out, err};
  CLI::App app{"creditctl: check, format, test and evaluate creditd policies", "creditctl"};
  app.set_version_flag("--version", std::string("creditctl ") + kVersion);
  app.require_subcommand(1);
  app.footer("Run `creditctl VERB --help` for a verb's flags and an example.");
  AddCheckCommand(app, context);
  AddFmtCommand(app, context);

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
