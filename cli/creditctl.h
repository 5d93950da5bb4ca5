#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace CLI {
class App;
}

namespace creditd::cli {

// Exit codes shared by every verb.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure =
    1;                                // errors in the input (diagnostics, failed tests, bad facts)
inline constexpr int kExitUsage = 2;  // bad command line, unreadable file

// What a verb writes to and the exit code it sets.
struct Context {
  std::ostream& out;
  std::ostream& err;
  int exit_code = kExitOk;
};

// Runs creditctl with `args` (without the program name). Returns the exit code.
int RunCreditctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// Reads a whole file; NotFound or Unavailable naming the path on failure.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Expands directories (recursively, *.credit files, sorted) and keeps files
// as given; NotFound for a path that does not exist.
absl::StatusOr<std::vector<std::string>> ExpandPolicyPaths(const std::vector<std::string>& paths);
// The same for any file name ending (".tests.json").
absl::StatusOr<std::vector<std::string>> ExpandPaths(const std::vector<std::string>& paths,
                                                     absl::string_view suffix);

// One function per verb, each in its own file.
void AddCheckCommand(CLI::App& app, Context& context);
void AddFmtCommand(CLI::App& app, Context& context);
void AddEvalCommand(CLI::App& app, Context& context);
void AddTestCommand(CLI::App& app, Context& context);
void AddExplainCommand(CLI::App& app, Context& context);
void AddSchemaCommand(CLI::App& app, Context& context);
void AddImpactCommand(CLI::App& app, Context& context);
void AddAuditCommand(CLI::App& app, Context& context);
void AddLspCommand(CLI::App& app, Context& context);
void AddDiffCommand(CLI::App& app, Context& context);
void AddApproveCommand(CLI::App& app, Context& context);
void AddReportCommand(CLI::App& app, Context& context);

}  // namespace creditd::cli
