// creditctl eval PATH --decision NAME --facts FILE|-: evaluates a decision
// and prints it as JSON.
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
                    const std::string& facts_path, bool trace, Context& context,
                    std::shared_ptr<const engine::CompiledPolicy>* policy,
                    engine::Decision* result) {
  absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> loaded =
      LoadDecision(path, decision, context);
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

void AddEvalCommand(CLI::App& app, Context& context) {
  struct Flags {
    std::string path;
    std::string decision;
    std::string facts;
    bool trace = false;
    bool compact = false;
  };
  auto flags = std::make_shared<Flags>();
  auto* command = app.add_subcommand("eval", "Evaluate a decision on facts and print it as JSON");
  command->footer(
      "Facts are a JSON object of input name to value. A JSON integer is an int (money and\n"
      "decimal inputs take one too); decimals are strings or numbers with a fraction, read\n"
      "exactly (no exponents); percents are fractions (\"0.55\") or \"55%\"; enum symbols and\n"
      "dates are strings.\n\n"
      "Example:\n"
      "  creditctl eval policies --decision credit_application \\\n"
      "      --facts docs/examples/credit_application.json");
  command->add_option("path", flags->path, "a policy file, or a directory of policies")->required();
  command->add_option("-d,--decision", flags->decision,
                      "the decision to evaluate (required with a directory)");
  command->add_option("-f,--facts", flags->facts, "JSON facts file, or - for stdin")->required();
  command->add_flag("--trace", flags->trace, "include every evaluation step");
  command->add_flag("--compact", flags->compact, "print the JSON on one line");
  command->callback([&context, flags] {
    std::shared_ptr<const engine::CompiledPolicy> policy;
    engine::Decision decision;
    if (!EvaluateForCli(flags->path, flags->decision, flags->facts, flags->trace, context, &policy,
                        &decision)) {
      return;
    }
    engine::JsonOptions options;
    options.pretty = !flags->compact;
    context.out << engine::DecisionToJson(decision, options);
    if (flags->compact) context.out << "\n";
  });
}

}  // namespace creditd::cli
