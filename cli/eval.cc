// creditctl eval PATH --decision NAME --facts FILE|- [--as-of DATE]
// [--audit LOG]: evaluates a decision and prints it as JSON.
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/time/clock.h"
#include "absl/time/time.h"
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
  options.evaluation_date = EvaluationDate(choice);
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

void AddVersionChoice(CLI::App& command, VersionFlags* flags, bool evaluation_date) {
  command.add_option("--as-of", flags->as_of,
                     "with a directory: the version in force on this day (YYYY-MM-DD; default "
                     "today, UTC)");
  command.add_option("--audit", flags->audit,
                     "with a directory: an audit log whose versions are candidates too, and "
                     "which the directory is held against as creditd holds it");
  if (!evaluation_date) return;
  command.add_option("--evaluation-date", flags->evaluation_date,
                     "the date the decision is made for, `today` in an edition 2 policy "
                     "(YYYY-MM-DD; default the --as-of day, else today, UTC)");
}

bool ParseVersionChoice(const VersionFlags& flags, Context& context, VersionChoice* choice) {
  choice->audit = flags.audit;
  for (const auto& [text, day] :
       {std::make_pair(&flags.as_of, &choice->as_of),
        std::make_pair(&flags.evaluation_date, &choice->evaluation_date)}) {
    if (text->empty()) continue;
    absl::StatusOr<absl::CivilDay> parsed = ParseAsOf(*text);
    if (!parsed.ok()) {
      context.err << "creditctl: " << parsed.status().message() << "\n";
      context.exit_code = kExitUsage;
      return false;
    }
    *day = *parsed;
  }
  return true;
}

int64_t EvaluationDate(const VersionChoice& choice) {
  const absl::CivilDay day = choice.evaluation_date ? *choice.evaluation_date
                             : choice.as_of         ? *choice.as_of
                                            : absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  return day - absl::CivilDay(1970, 1, 1);
}

void AddEvalCommand(CLI::App& app, Context& context) {
  struct Flags {
    std::string path;
    std::string decision;
    std::string facts;
    bool trace = false;
    bool compact = false;
    VersionFlags version;
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
      "the versions that log has served are candidates too. An edition 2 policy's `today` is\n"
      "--evaluation-date, or the --as-of day, or else today (UTC).\n\n"
      "Example:\n"
      "  creditctl eval policies --decision credit_application \\\n"
      "      --facts docs/examples/credit_application.json --as-of 2026-06-30");
  command->add_option("path", flags->path, "a policy file, or a directory of policies")->required();
  command->add_option("-d,--decision", flags->decision,
                      "the decision to evaluate (required with a directory)");
  command->add_option("-f,--facts", flags->facts, "JSON facts file, or - for stdin")->required();
  command->add_flag("--trace", flags->trace, "include every evaluation step");
  command->add_flag("--compact", flags->compact, "print the JSON on one line");
  AddVersionChoice(*command, &flags->version);
  command->callback([&context, flags] {
    VersionChoice choice;
    if (!ParseVersionChoice(flags->version, context, &choice)) return;
    std::shared_ptr<const engine::CompiledPolicy> policy;
    engine::Decision decision;
    if (!EvaluateForCli(flags->path, flags->decision, flags->facts, flags->trace, choice, context,
                        &policy, &decision)) {
      return;
    }
    engine::JsonOptions options;
    options.pretty = !flags->compact;
    options.percent_points = policy->edition() >= 2;
    context.out << engine::DecisionToJson(decision, options);
    if (flags->compact) context.out << "\n";
  });
}

}  // namespace creditd::cli
