// creditctl eval PATH --decision NAME --facts FILE|- [--as-of DATE]
// [--audit LOG]: evaluates a decision and prints it as JSON.
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "cli/creditctl.h"
#include "cli/policy_loading.h"
#include "engine/decision_json.h"
#include "engine/evaluator.h"

namespace creditd::cli {

// Evaluates for eval and explain; prints fact problems and returns false on failure.
bool EvaluateForCli(const std::string& path, const std::string& decision,
                    const std::string& facts_path, bool trace, const VersionChoice& choice,
                    Context& context, std::shared_ptr<const engine::CompiledPolicy>* policy,
                    engine::Decision* result) {
  absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> loaded =
      LoadDecision(path, decision, context, choice);
  if (!loaded.ok()) return false;
  *policy = *loaded;
  FactsJson document;
  engine::Facts facts;
  if (absl::Status status = ReadFacts(facts_path, **policy, &document, &facts); !status.ok()) {
    context.err << "creditctl: " << status.message() << "\n";
    context.exit_code = kExitFailure;
    return false;
  }
  engine::EvalOptions options;
  options.trace = trace;
  std::vector<engine::FactProblem> problems;
  absl::Status status = engine::EvaluateInto(**policy, facts, options, result, &problems);
  if (!status.ok()) {
    if (problems.empty()) {
      context.err << "creditctl: " << status.message() << "\n";
    } else {
      context.err << "creditctl: the facts have " << problems.size()
                  << (problems.size() == 1 ? " problem:\n" : " problems:\n");
      for (const engine::FactProblem& p : problems) {
        context.err << "  " << p.fact << ": " << p.problem << "\n";
      }
    }
    context.exit_code = kExitFailure;
    return false;
  }
  return true;
}

void AddVersionChoice(CLI::App& command, std::string* as_of, std::string* audit) {
  command.add_option("--as-of", *as_of,
                     "with a directory: the version in force on this day (YYYY-MM-DD; default "
                     "today, UTC)");
  command.add_option("--audit", *audit,
                     "with a directory: an audit log whose versions are candidates too, and "
                     "which the directory is held against as creditd holds it");
}

bool ParseVersionChoice(const std::string& as_of, const std::string& audit, Context& context,
                        VersionChoice* choice) {
  choice->audit = audit;
  if (as_of.empty()) return true;
  absl::StatusOr<absl::CivilDay> day = ParseAsOf(as_of);
  if (!day.ok()) {
    context.err << "creditctl: " << day.status().message() << "\n";
    context.exit_code = kExitUsage;
    return false;
  }
  choice->as_of = *day;
  return true;
}

void AddEvalCommand(CLI::App& app, Context& context) {
  struct Flags {
    std::string path;
    std::string decision;
    std::string facts;
    bool trace = false;
    bool compact = false;
    std::string as_of;
    std::string audit;
  };
  auto flags = std::make_shared<Flags>();
  auto* command = app.add_subcommand("eval", "Evaluate a decision on facts and print it as JSON");
  command->footer(
      "Facts are a JSON object of input name to value. A JSON integer is an int (money and\n"
      "decimal inputs take one too); decimals are strings or numbers with a fraction, read\n"
      "exactly (no exponents); percents are fractions (\"0.55\") or \"55%\"; enum symbols and\n"
      "dates are strings.\n\n"
      "A directory is loaded as creditd loads it, several versions of a decision side by\n"
      "side; the version in force today (UTC), or on --as-of DATE, is evaluated: the latest\n"
      "effective on or before that day, ties broken by semantic version. With --audit LOG\n"
      "the versions that log has served are candidates too.\n\n"
      "Example:\n"
      "  creditctl eval policies --decision credit_application \\\n"
      "      --facts docs/examples/credit_application.json --as-of 2026-06-30");
  command->add_option("path", flags->path, "a policy file, or a directory of policies")->required();
  command->add_option("-d,--decision", flags->decision,
                      "the decision to evaluate (required with a directory)");
  command->add_option("-f,--facts", flags->facts, "JSON facts file, or - for stdin")->required();
  command->add_flag("--trace", flags->trace, "include every evaluation step");
  command->add_flag("--compact", flags->compact, "print the JSON on one line");
  AddVersionChoice(*command, &flags->as_of, &flags->audit);
  command->callback([&context, flags] {
    VersionChoice choice;
    if (!ParseVersionChoice(flags->as_of, flags->audit, context, &choice)) return;
    std::shared_ptr<const engine::CompiledPolicy> policy;
    engine::Decision decision;
    if (!EvaluateForCli(flags->path, flags->decision, flags->facts, flags->trace, choice, context,
                        &policy, &decision)) {
      return;
    }
    engine::JsonOptions options;
    options.pretty = !flags->compact;
    context.out << engine::DecisionToJson(decision, options);
    if (flags->compact) context.out << "\n";
  });
}

}  // namespace creditd::cli
