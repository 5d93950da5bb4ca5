// creditctl explain PATH --decision NAME --facts FILE|-: the same evaluation
// as eval, printed for a person: inputs, scorecard, derived values, rules
// with the values they read, outputs and reasons.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/creditctl.h"
#include "cli/policy_loading.h"
#include "engine/evaluator.h"

namespace creditd::cli {

namespace {

std::string Pad(const std::string& text, size_t width) {
  return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
}

std::string ReadsText(const std::vector<std::pair<std::string, std::string>>& reads) {
  std::vector<std::string> parts;
  for (const auto& [name, value] : reads) parts.push_back(absl::StrCat(name, " = ", value));
  return absl::StrJoin(parts, ", ");
}

void PrintExplanation(const engine::CompiledPolicy& policy, const engine::Decision& d,
                      std::ostream& out) {
  const engine::PolicyId& id = policy.id();
  out << id.name << " " << id.version << " (sha256 " << id.sha256.substr(0, 12) << ")\n";
  if (d.has_outcome) out << "outcome: " << d.outcome << "\n";
  if (d.evaluation_date)
    out << "evaluation date: " << engine::FormatDate(*d.evaluation_date) << "\n";

  // Inputs: the facts as the policy read them.
  out << "\nInputs\n";
  size_t width = 0;
  for (const engine::InputSlot& in : policy.inputs()) width = std::max(width, in.name.size());
  std::vector<std::pair<std::string, std::string>> inputs;
  for (const engine::TraceStep& step : d.trace) {
    for (const auto& read : step.reads) {
      if (policy.FindInput(read.first) >= 0 &&
          std::find(inputs.begin(), inputs.end(), read) == inputs.end()) {
        inputs.push_back(read);
      }
    }
  }
  for (const engine::InputSlot& in : policy.inputs()) {
    auto it = std::find_if(inputs.begin(), inputs.end(),
                           [&](const auto& read) { return read.first == in.name; });
    out << "  " << Pad(in.name, width + 2)
        << (it != inputs.end() ? it->second : std::string("(not read)")) << "\n";
  }

  // Scorecards.
  for (const engine::ScorecardResult& s : d.scorecards) {
    out << "\nScorecard " << s.name << ": " << s.total.ToCanonicalString() << " of 100\n";
    out << "  " << Pad("group", 13) << Pad("factor", 22) << Pad("bin", 14) << Pad("points", 8)
        << Pad("of", 6) << Pad("lost x weight", 15) << "reason\n";
    const engine::ScorecardSlot* slots = nullptr;
    for (const engine::ScorecardSlot& c : policy.scorecards()) {
      if (c.name == s.name) slots = &c;
    }
    for (size_t k = 0; k < s.factors.size(); ++k) {
      const engine::FactorResult& f = s.factors[k];
      const std::string bin =
          slots != nullptr ? slots->factors[k].bins[static_cast<size_t>(f.bin)] : "";
      const bool applies = std::find(s.top_reasons.begin(), s.top_reasons.end(),
                                     static_cast<int>(k)) != s.top_reasons.end();
      out << "  " << Pad(std::string(f.group), 13) << Pad(std::string(f.subject), 22)
          << Pad(bin, 14) << Pad(f.points.ToCanonicalString(), 8)
          << Pad(f.max_points.ToCanonicalString(), 6)
          << Pad(f.weighted_lost.ToCanonicalString(), 15) << (applies ? std::string(f.reason) : "")
          << "\n";
    }
    for (const engine::GroupResult& g : s.groups) {
      out << "  group " << g.name << ": " << g.points.ToCanonicalString() << " x "
          << g.weight.ToCanonicalString() << "\n";
    }
    std::vector<std::string> top;
    for (int k : s.top_reasons) top.emplace_back(s.factors[static_cast<size_t>(k)].reason);
    out << "  top reasons by points lost: " << (top.empty() ? "none" : absl::StrJoin(top, ", "))
        << "\n";
  }

  // Derived values.
  bool any = false;
  for (const engine::TraceStep& step : d.trace) {
    if (step.kind != engine::TraceStep::Kind::kLet && step.kind != engine::TraceStep::Kind::kBand &&
        step.kind != engine::TraceStep::Kind::kTable) {
      continue;
    }
    if (!any) out << "\nValues\n";
    any = true;
    out << "  " << step.name << " = " << step.value;
    std::vector<std::string> notes;
    if (!step.detail.empty()) notes.push_back(step.detail);
    if (!step.reads.empty()) notes.push_back(absl::StrCat("from ", ReadsText(step.reads)));
    if (!notes.empty()) out << "   (" << absl::StrJoin(notes, "; ") << ")";
    out << "\n";
  }

  // Rules: fired first, in source order, then the rest.
  out << "\nRules\n";
  for (bool fired : {true, false}) {
    for (const engine::TraceStep& step : d.trace) {
      if (step.kind != engine::TraceStep::Kind::kRule || step.fired != fired) continue;
      out << "  " << Pad(fired ? "fired" : "not fired", 11) << Pad(step.name, 34)
          << ReadsText(step.reads) << "   " << step.location << "\n";
    }
  }

  out << "\nOutputs\n";
  width = 7;
  for (const engine::OutputValue& o : d.outputs) width = std::max(width, o.name.size());
  if (d.has_outcome) out << "  " << Pad("outcome", width + 2) << d.outcome << "\n";
  for (const engine::OutputValue& o : d.outputs) {
    out << "  " << Pad(std::string(o.name), width + 2)
        << (o.has_value ? engine::FormatValue(o.value, o.type) : "(no value)") << "\n";
  }

  out << "\nReasons\n";
  if (d.reasons.empty()) out << "  none\n";
  int n = 0;
  for (const engine::Reason& r : d.reasons) {
    out << "  " << ++n << ". " << r.code << ": " << r.Message() << "\n     rule " << r.rule
        << " at " << r.file << ":" << r.line << "\n";
  }
}

}  // namespace

void AddExplainCommand(CLI::App& app, Context& context) {
  struct Flags {
    std::string path;
    std::string decision;
    std::string facts;
    VersionFlags version;
  };
  auto flags = std::make_shared<Flags>();
  auto* command = app.add_subcommand(
      "explain", "Evaluate a decision and show why: scorecard, values, rules, outputs, reasons");
  command->footer(
      "Example:\n"
      "  creditctl explain policies --decision credit_application \\\n"
      "      --facts docs/examples/credit_application.json");
  command->add_option("path", flags->path, "a policy file, or a directory of policies")->required();
  command->add_option("-d,--decision", flags->decision,
                      "the decision to evaluate (required with a directory)");
  command->add_option("-f,--facts", flags->facts, "JSON facts file, or - for stdin")->required();
  AddVersionChoice(*command, &flags->version);
  command->callback([&context, flags] {
    VersionChoice choice;
    if (!ParseVersionChoice(flags->version, context, &choice)) return;
    std::shared_ptr<const engine::CompiledPolicy> policy;
    engine::Decision decision;
    if (!EvaluateForCli(flags->path, flags->decision, flags->facts, /*trace=*/true, choice, context,
                        &policy, &decision)) {
      return;
    }
    PrintExplanation(*policy, decision, context.out);
  });
}

}  // namespace creditd::cli
