// creditctl impact: a candidate version against the decisions the log holds.
#include "cli/impact.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/decision.h"
#include "audit/record.h"
#include "audit/sqlite_store.h"
#include "cli/audit_review.h"
#include "engine/bundle.h"
#include "engine/evaluator.h"
#include "engine/facts_codec.h"
#include "engine/file_system.h"
#include "engine/value.h"
#include "engine/versions.h"
#include "rapidjson/prettywriter.h"
#include "rapidjson/stringbuffer.h"

namespace creditd::cli {
namespace {

constexpr char kNone[] = "(none)";

// What is wrong with a fact, without the value a caller sent: the facts of
// many decisions fall under a few such keys.
std::string ProblemKey(const engine::FactProblem& p) {
  const std::string& text = p.problem;
  std::string what;
  if (absl::StartsWith(text, "missing")) {
    what = "missing: a required input now";
  } else if (absl::StartsWith(text, "not an input")) {
    what = "not an input any more";
  } else if (text.find("outside the declared range") != std::string::npos) {
    what = "outside the range now declared";
  } else if (text.find("decimal place") != std::string::npos) {
    what = "more decimal places than the input now takes";
  } else if (text.find("given more than once") != std::string::npos) {
    what = "given more than once";
  } else {
    what = "of another type than the input now takes";
  }
  return absl::StrCat(p.fact, ": ", what);
}

void Count(Tally& tally, const std::string& id, int examples) {
  ++tally.count;
  if (static_cast<int>(tally.examples.size()) < examples) tally.examples.push_back(id);
}

// The candidate's version of one decision, and where in it the flags point.
struct Candidate {
  std::shared_ptr<const engine::CompiledPolicy> policy;
  std::vector<int> enum_outputs;  // indexes into policy->outputs()
  std::vector<int> sum_outputs;   // per ImpactOptions::sums: an output index, or -1
  std::vector<int> by_inputs;     // per ImpactOptions::by: an input index, or -1
};

// One logged decision, and what comparing it found. Each worker fills one
// in turn for every record it reads, so its buffers serve them all.
struct Item {
  const audit::AuditRecord* record = nullptr;
  const Candidate* candidate = nullptr;
  enum class Result { kCompared, kNoLongerFits, kFailed, kOlderFormat } result = Result::kCompared;
  std::string error;
  std::string old_outcome, new_outcome;
  std::vector<std::pair<std::string, std::string>> enums;  // per enum output
  std::vector<std::optional<engine::Decimal>> sum_before, sum_after;
  std::vector<std::string> gained, lost;
  std::vector<std::string> by_values;  // per --by
  std::vector<std::string> problems;
  bool outputs_changed = false;
  bool reasons_changed = false;

  void Reset(const audit::AuditRecord& r, const Candidate& c) {
    record = &r;
    candidate = &c;
    result = Result::kCompared;
    error.clear();
    old_outcome.clear();
    new_outcome.clear();
    enums.clear();
    sum_before.clear();
    sum_after.clear();
    gained.clear();
    lost.clear();
    by_values.clear();
    problems.clear();
    outputs_changed = false;
    reasons_changed = false;
  }
};

// The evaluation date a candidate that reads `today` is given: the date
// the answer names, or else the day the decision was made (UTC).
std::optional<int64_t> EvaluationDate(const api::AnswerSummary& logged,
                                      const audit::AuditRecord& r) {
  for (const std::string& text :
       {logged.evaluation_date, r.time.size() >= 10 ? r.time.substr(0, 10) : std::string()}) {
    if (text.empty()) continue;
    absl::StatusOr<int64_t> days = engine::ParseDate(text);
    if (days.ok()) return *days;
  }
  return std::nullopt;
}

// The value of each --by input among `facts`.
void ByValues(const engine::Facts& facts, Item& item) {
  const engine::CompiledPolicy& policy = *item.candidate->policy;
  for (int input : item.candidate->by_inputs) {
    std::string value = input < 0 ? kNone : "(not given)";
    if (input >= 0) {
      const std::string& name = policy.inputs()[static_cast<size_t>(input)].name;
      for (const engine::Fact& fact : facts.all()) {
        if (fact.name == name) value = std::string(fact.value.text);
      }
    }
    item.by_values.push_back(std::move(value));
  }
}

void Compare(Item& item) {
  const audit::AuditRecord& r = *item.record;
  const Candidate& c = *item.candidate;
  if (r.format < audit::kAnswerAsSentFormat) {
    item.result = Item::Result::kOlderFormat;
    return;
  }
  auto fail = [&item](const absl::Status& status) {
    item.result = Item::Result::kFailed;
    item.error = std::string(status.message());
  };
  absl::StatusOr<engine::CanonicalFacts> facts = engine::FactsFromCanonicalJson(r.facts_json);
  if (!facts.ok()) return fail(facts.status());
  thread_local api::AnswerSummary logged;
  if (absl::Status status = api::SummarizeAnswer(r.result_json, &logged); !status.ok()) {
    return fail(status);
  }
  const engine::CompiledPolicy& policy = *c.policy;
  ByValues(facts->facts(), item);
  engine::EvalOptions options;
  if (policy.reads_today()) options.evaluation_date = EvaluationDate(logged, r);
  thread_local engine::Decision decision;
  thread_local std::vector<engine::FactProblem> problems;
  absl::Status status = engine::EvaluateInto(policy, facts->facts(), options, &decision, &problems);
  if (!status.ok()) {
    if (problems.empty()) return fail(status);
    item.result = Item::Result::kNoLongerFits;
    for (const engine::FactProblem& p : problems) item.problems.push_back(ProblemKey(p));
    return;
  }
  item.old_outcome = logged.outcome;
  item.new_outcome = std::string(decision.outcome);
  auto logged_output = [&](absl::string_view name) -> const std::string* {
    for (const auto& [key, text] : logged.outputs) {
      if (key == name) return &text;
    }
    return nullptr;
  };
  thread_local std::string text_after;
  size_t enum_index = 0;
  size_t seen = 0;
  for (size_t o = 0; o < decision.outputs.size(); ++o) {
    const engine::OutputValue& out = decision.outputs[o];
    // The texts the answer would show: the logged one, the candidate's.
    if (out.has_value) {
      api::AssignValueText(out.value, out.type, out.places, &text_after);
    } else {
      text_after.assign(kNone);
    }
    const std::string* logged_text = logged_output(out.name);
    if (logged_text != nullptr) ++seen;
    const absl::string_view text_before =
        logged_text != nullptr ? absl::string_view(*logged_text) : kNone;
    if (text_before != text_after) item.outputs_changed = true;
    if (enum_index < c.enum_outputs.size() && c.enum_outputs[enum_index] == static_cast<int>(o)) {
      item.enums.emplace_back(std::string(text_before), text_after);
      ++enum_index;
    }
  }
  // An output the answer had that the candidate no longer gives.
  if (seen < logged.outputs.size()) item.outputs_changed = true;
  for (int output : c.sum_outputs) {
    std::optional<engine::Decimal> before, after;
    if (output >= 0) {
      const engine::OutputValue& out = decision.outputs[static_cast<size_t>(output)];
      if (out.has_value) after = out.value.d;
      const std::string* text = logged_output(out.name);
      if (text != nullptr && *text != kNone) {
        // An output of that name that was no amount before has no total.
        absl::StatusOr<engine::Decimal> parsed = engine::Decimal::Parse(*text);
        if (parsed.ok()) before = *parsed;
      }
    }
    item.sum_before.push_back(before);
    item.sum_after.push_back(after);
  }
  std::set<std::string> before_codes, after_codes;
  before_codes.insert(logged.reason_codes.begin(), logged.reason_codes.end());
  for (const engine::Reason& reason : decision.reasons) after_codes.emplace(reason.code);
  std::set_difference(after_codes.begin(), after_codes.end(), before_codes.begin(),
                      before_codes.end(), std::back_inserter(item.gained));
  std::set_difference(before_codes.begin(), before_codes.end(), after_codes.begin(),
                      after_codes.end(), std::back_inserter(item.lost));
  item.reasons_changed = !item.gained.empty() || !item.lost.empty();
}

// Compares the champion's logged answer with the challenger's result beside
// it (`result`, parsed from the record): no evaluation, both answers are
// logged. A challenger that could not decide counts as facts that did not
// fit it, by what it said.
void CompareChallenger(Item& item, const credit::v1::ChallengerResult& result) {
  const audit::AuditRecord& r = *item.record;
  const Candidate& c = *item.candidate;
  auto fail = [&item](const absl::Status& status) {
    item.result = Item::Result::kFailed;
    item.error = std::string(status.message());
  };
  absl::StatusOr<engine::CanonicalFacts> facts =
      engine::FactsFromCanonicalJson(result.facts().empty() ? r.facts_json : result.facts());
  if (!facts.ok()) return fail(facts.status());
  ByValues(facts->facts(), item);
  if (!result.has_decision()) {
    item.result = Item::Result::kNoLongerFits;
    // "NAME VERSION: `fact`: problem; …": the first problem, without its
    // version, keys the count.
    absl::string_view error = result.error();
    const size_t after_version = error.find(": ");
    if (after_version != absl::string_view::npos) error.remove_prefix(after_version + 2);
    item.problems.push_back(
        absl::StrCat("the challenger could not decide: ", error.substr(0, error.find(';'))));
    return;
  }
  thread_local api::AnswerSummary before, after;
  thread_local std::string after_bytes;
  if (absl::Status status = api::SummarizeAnswer(r.result_json, &before); !status.ok()) {
    return fail(status);
  }
  after_bytes = api::DeterministicBytes(result.decision());
  if (absl::Status status = api::SummarizeAnswer(after_bytes, &after); !status.ok()) {
    return fail(status);
  }
  item.old_outcome = before.outcome;
  item.new_outcome = after.outcome;
  auto text_of = [](const api::AnswerSummary& answer, absl::string_view name) -> absl::string_view {
    for (const auto& [key, text] : answer.outputs) {
      if (key == name) return text;
    }
    return kNone;
  };
  item.outputs_changed = before.outputs != after.outputs;
  for (int o : c.enum_outputs) {
    const std::string& name = c.policy->outputs()[static_cast<size_t>(o)].name;
    item.enums.emplace_back(std::string(text_of(before, name)), std::string(text_of(after, name)));
  }
  for (int output : c.sum_outputs) {
    std::optional<engine::Decimal> sum_before, sum_after;
    if (output >= 0) {
      const std::string& name = c.policy->outputs()[static_cast<size_t>(output)].name;
      for (auto [answer, into] :
           {std::make_pair(&before, &sum_before), std::make_pair(&after, &sum_after)}) {
        const absl::string_view text = text_of(*answer, name);
        if (text == kNone) continue;
        absl::StatusOr<engine::Decimal> parsed = engine::Decimal::Parse(text);
        if (parsed.ok()) *into = *parsed;
      }
    }
    item.sum_before.push_back(sum_before);
    item.sum_after.push_back(sum_after);
  }
  std::set<std::string> before_codes(before.reason_codes.begin(), before.reason_codes.end());
  std::set<std::string> after_codes(after.reason_codes.begin(), after.reason_codes.end());
  std::set_difference(after_codes.begin(), after_codes.end(), before_codes.begin(),
                      before_codes.end(), std::back_inserter(item.gained));
  std::set_difference(before_codes.begin(), before_codes.end(), after_codes.begin(),
                      after_codes.end(), std::back_inserter(item.lost));
  item.reasons_changed = !item.gained.empty() || !item.lost.empty();
}

// The figures of one decision over one part of the log. The --sum values
// are kept in log order rather than added up: the parts' values are added
// up in log order as the parts are merged, so that a total that would
// overflow stops where it would have in one pass over the log.
struct PartDecision {
  DecisionImpact figures;  // the sums' totals left at 0
  struct Values {
    std::vector<engine::Decimal> before, after;
  };
  std::map<std::string, Values> sum_values;  // by --sum output
};

// One part of the log (a range of sequences), read and compared by one
// worker, with its figures.
struct Part {
  int64_t first = 0, last = 0;
  absl::Status status;
  int64_t records = 0;  // decision records read
  std::map<std::string, PartDecision> decisions;
  std::map<std::string, int64_t> without_candidate;
  // With --challenger: the challenger versions seen, by decision.
  std::map<std::string, std::set<std::pair<std::string, std::string>>> challengers;
};

// Adds one compared item to the figures of its part (in log order, so the
// examples are the first ids of each kind).
void Add(const Item& item, const ImpactOptions& options, PartDecision& part) {
  DecisionImpact& d = part.figures;
  const std::string& id = item.record->decision_id;
  const int n = options.examples;
  const Candidate& c = *item.candidate;
  ++d.logged;
  switch (item.result) {
    case Item::Result::kOlderFormat:
      Count(d.older_format, id, n);
      return;
    case Item::Result::kFailed:
      Count(d.failed, id, n);
      return;
    case Item::Result::kNoLongerFits: {
      ++d.no_longer_fit_decisions;
      std::set<std::string> keys(item.problems.begin(), item.problems.end());
      for (const std::string& key : keys) Count(d.no_longer_fit[key], id, n);
      return;
    }
    case Item::Result::kCompared:
      break;
  }
  ++d.compared;
  const bool outcome_changed = item.old_outcome != item.new_outcome;
  if (outcome_changed) ++d.outcome_changed;
  if (item.outputs_changed) ++d.outputs_changed;
  if (!outcome_changed && !item.outputs_changed && !item.reasons_changed) ++d.unchanged;
  auto transition = [&](Transitions& t, const std::string& before, const std::string& after) {
    Tally& tally = t[{before, after}];
    if (before != after) {
      Count(tally, id, n);
    } else {
      ++tally.count;
    }
  };
  const std::string old_outcome = item.old_outcome.empty() ? kNone : item.old_outcome;
  const std::string new_outcome = item.new_outcome.empty() ? kNone : item.new_outcome;
  transition(d.outcome, old_outcome, new_outcome);
  for (size_t k = 0; k < item.enums.size(); ++k) {
    const std::string& name = c.policy->outputs()[static_cast<size_t>(c.enum_outputs[k])].name;
    transition(d.enum_outputs[name], item.enums[k].first, item.enums[k].second);
  }
  for (size_t k = 0; k < options.sums.size(); ++k) {
    if (c.sum_outputs[k] < 0) continue;
    DecisionImpact::Sum& sum = d.sums[options.sums[k]];
    PartDecision::Values& values = part.sum_values[options.sums[k]];
    if (item.sum_before[k]) {
      values.before.push_back(*item.sum_before[k]);
      ++sum.before_count;
    }
    if (item.sum_after[k]) {
      values.after.push_back(*item.sum_after[k]);
      ++sum.after_count;
    }
  }
  for (const std::string& code : item.gained) Count(d.reasons_gained[code], id, n);
  for (const std::string& code : item.lost) Count(d.reasons_lost[code], id, n);
  for (size_t k = 0; k < options.by.size(); ++k) {
    if (c.by_inputs[k] < 0) continue;
    Breakdown& b = d.by[options.by[k]][item.by_values[k]];
    ++b.decisions;
    if (outcome_changed) ++b.outcome_changed;
    transition(b.outcome, old_outcome, new_outcome);
  }
}

// Merging a part's figures into the report's, part after part in log order:
// counts add up, and examples are the first ids of the report, then of the
// part, up to `examples`.
void Merge(const Tally& part, int examples, Tally& into) {
  into.count += part.count;
  for (const std::string& id : part.examples) {
    if (static_cast<int>(into.examples.size()) >= examples) break;
    into.examples.push_back(id);
  }
}

void Merge(const Transitions& part, int examples, Transitions& into) {
  for (const auto& [pair, tally] : part) Merge(tally, examples, into[pair]);
}

void Merge(const std::map<std::string, Tally>& part, int examples,
           std::map<std::string, Tally>& into) {
  for (const auto& [key, tally] : part) Merge(tally, examples, into[key]);
}

// Totals of money are exact; one that overflows 38 digits is refused rather
// than wrapped (the sums stay at their last exact value).
void AddUp(const std::vector<engine::Decimal>& values, engine::Decimal& total) {
  for (const engine::Decimal& value : values) {
    absl::StatusOr<engine::Decimal> sum = total.Add(value);
    if (sum.ok()) total = *sum;
  }
}

void Merge(const PartDecision& part, int examples, DecisionImpact& d) {
  const DecisionImpact& p = part.figures;
  d.logged += p.logged;
  d.compared += p.compared;
  d.outcome_changed += p.outcome_changed;
  d.outputs_changed += p.outputs_changed;
  d.unchanged += p.unchanged;
  Merge(p.older_format, examples, d.older_format);
  Merge(p.failed, examples, d.failed);
  Merge(p.outcome, examples, d.outcome);
  for (const auto& [output, t] : p.enum_outputs) Merge(t, examples, d.enum_outputs[output]);
  for (const auto& [output, sum] : p.sums) {
    DecisionImpact::Sum& into = d.sums[output];
    into.before_count += sum.before_count;
    into.after_count += sum.after_count;
  }
  for (const auto& [output, values] : part.sum_values) {
    DecisionImpact::Sum& into = d.sums[output];
    AddUp(values.before, into.before);
    AddUp(values.after, into.after);
  }
  Merge(p.reasons_gained, examples, d.reasons_gained);
  Merge(p.reasons_lost, examples, d.reasons_lost);
  for (const auto& [input, values] : p.by) {
    std::map<std::string, Breakdown>& into = d.by[input];
    for (const auto& [value, b] : values) {
      Breakdown& breakdown = into[value];
      breakdown.decisions += b.decisions;
      breakdown.outcome_changed += b.outcome_changed;
      Merge(b.outcome, examples, breakdown.outcome);
    }
  }
  Merge(p.no_longer_fit, examples, d.no_longer_fit);
  d.no_longer_fit_decisions += p.no_longer_fit_decisions;
}

void Merge(const Part& part, int examples, ImpactReport& report) {
  for (const auto& [name, decision] : part.decisions) {
    Merge(decision, examples, report.decisions[name]);
  }
  for (const auto& [name, count] : part.without_candidate) report.without_candidate[name] += count;
}

// Reads one part and compares each decision in it; `item` is the worker's.
// With --challenger, `candidates` are by sha256: every version the log
// stores.
void ReadPart(audit::RecordRanges& ranges, const std::map<std::string, Candidate>& candidates,
              const ImpactOptions& options, Item& item, Part& part) {
  thread_local credit::v1::ChallengerResult result;
  absl::Status problem;
  part.status = ranges.ForEach(part.first, part.last, [&](const audit::AuditRecord& r) {
    ++part.records;
    if (options.challenger) {
      if (r.challenger.empty()) {
        ++part.without_candidate[r.decision];
        return true;
      }
      if (r.challenger.size() > static_cast<size_t>(INT32_MAX) ||
          !result.ParseFromArray(r.challenger.data(), static_cast<int>(r.challenger.size()))) {
        problem = absl::DataLossError(absl::StrCat(
            "decision ", r.decision_id, ": its challenger result is not a ChallengerResult"));
        return false;
      }
      auto it = candidates.find(result.policy().sha256());
      if (it == candidates.end()) {
        problem = absl::DataLossError(absl::StrCat(
            "decision ", r.decision_id, ": the challenger's version ", result.policy().name(), " ",
            result.policy().version(), " has no text stored in the log"));
        return false;
      }
      part.challengers[r.decision].emplace(result.policy().version(), result.policy().sha256());
      item.Reset(r, it->second);
      CompareChallenger(item, result);
      Add(item, options, part.decisions[r.decision]);
      return true;
    }
    auto it = candidates.find(r.decision);
    if (it == candidates.end()) {
      ++part.without_candidate[r.decision];
      return true;
    }
    item.Reset(r, it->second);
    Compare(item);
    Add(item, options, part.decisions[r.decision]);
    return true;
  });
  if (part.status.ok()) part.status = problem;
}

// Where the flags point in one candidate version.
Candidate MakeCandidate(std::shared_ptr<const engine::CompiledPolicy> policy,
                        const ImpactOptions& options) {
  Candidate c;
  c.policy = std::move(policy);
  const auto& outputs = c.policy->outputs();
  for (size_t o = 0; o < outputs.size(); ++o) {
    if (outputs[o].type.kind == engine::TypeKind::kEnum)
      c.enum_outputs.push_back(static_cast<int>(o));
  }
  for (const std::string& sum : options.sums) {
    int index = -1;
    for (size_t o = 0; o < outputs.size(); ++o) {
      if (outputs[o].name == sum && outputs[o].type.kind == engine::TypeKind::kMoney) {
        index = static_cast<int>(o);
      }
    }
    c.sum_outputs.push_back(index);
  }
  for (const std::string& by : options.by) {
    const int input = c.policy->FindInput(by);
    c.by_inputs.push_back(input >= 0 && c.policy->inputs()[static_cast<size_t>(input)].type.kind ==
                                            engine::TypeKind::kEnum
                              ? input
                              : -1);
  }
  return c;
}

// Flags that fit no candidate decision are mistakes, not empty figures.
absl::Status CheckFlags(const std::map<std::string, Candidate>& candidates,
                        const ImpactOptions& options) {
  const char* what =
      options.challenger ? "no version the log stores" : "no decision of the candidate";
  for (size_t k = 0; k < options.sums.size(); ++k) {
    if (std::none_of(candidates.begin(), candidates.end(),
                     [&](const auto& c) { return c.second.sum_outputs[k] >= 0; })) {
      return absl::InvalidArgumentError(
          absl::StrCat("--sum ", options.sums[k], ": ", what, " has a money output of that name"));
    }
  }
  for (size_t k = 0; k < options.by.size(); ++k) {
    if (std::none_of(candidates.begin(), candidates.end(),
                     [&](const auto& c) { return c.second.by_inputs[k] >= 0; })) {
      return absl::InvalidArgumentError(
          absl::StrCat("--by ", options.by[k], ": ", what, " has an enum input of that name"));
    }
  }
  return absl::OkStatus();
}

// With --challenger: every version the log stores, by sha256, rebuilt from
// its stored text (the challenger's versions are among them).
absl::StatusOr<std::map<std::string, Candidate>> LoadStoredVersions(const ImpactOptions& options) {
  absl::StatusOr<std::vector<audit::StoredPolicy>> stored =
      audit::ReadStoredVersions(options.audit);
  if (!stored.ok()) return stored.status();
  std::map<std::string, Candidate> candidates;
  for (const audit::StoredPolicy& p : *stored) {
    if (candidates.count(p.sha256) > 0) continue;
    absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> compiled =
        engine::CompileStoredSource(p.source, p.sha256, p.canonical_form);
    if (!compiled.ok()) {
      return absl::DataLossError(absl::StrCat("the text stored for ", p.name, " ", p.version,
                                              " does not rebuild: ", compiled.status().message()));
    }
    candidates.emplace(p.sha256, MakeCandidate(*std::move(compiled), options));
  }
  if (absl::Status status = CheckFlags(candidates, options); !status.ok()) return status;
  return candidates;
}

// The candidate's version of each decision: the highest version in DIR.
absl::StatusOr<std::map<std::string, Candidate>> LoadCandidates(const ImpactOptions& options,
                                                                Context& context) {
  engine::DiskFileReader reader;
  absl::StatusOr<engine::BundleLoad> load = engine::LoadBundle(options.candidate, reader);
  if (!load.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.candidate, ": ", load.status().message()));
  }
  if (load->bundle == nullptr) {
    context.err << load->report;
    return absl::FailedPreconditionError(absl::StrCat(
        load->errors, load->errors == 1 ? " error" : " errors", " in ", options.candidate));
  }
  std::map<std::string, Candidate> candidates;
  for (const auto& [name, versions] : load->bundle->decisions) {
    const engine::BundleVersion* highest = nullptr;
    for (const engine::BundleVersion& v : versions.versions) {
      if (highest == nullptr ||
          engine::CompareVersions(v.policy->id().version, highest->policy->id().version) > 0) {
        highest = &v;
      }
    }
    if (highest == nullptr) continue;
    candidates.emplace(name, MakeCandidate(highest->policy, options));
  }
  if (absl::Status status = CheckFlags(candidates, options); !status.ok()) return status;
  return candidates;
}

std::string Examples(const Tally& tally) {
  if (tally.examples.empty()) return "";
  return absl::StrCat("   e.g. ", absl::StrJoin(tally.examples, ", "));
}

void TransitionsText(const Transitions& t, const std::string& indent, std::string* out) {
  size_t width = 0;
  for (const auto& [pair, tally] : t) {
    width = std::max(width, pair.first.size() + pair.second.size() + 3);
  }
  // Changes first, then what stayed.
  for (bool changed : {true, false}) {
    for (const auto& [pair, tally] : t) {
      if ((pair.first != pair.second) != changed) continue;
      std::string label = absl::StrCat(pair.first, changed ? " → " : " = ", pair.second);
      const size_t shown = pair.first.size() + pair.second.size() + 3;
      label.append(width > shown ? width - shown : 0, ' ');
      absl::StrAppend(out, indent, label, "  ", Grouped(tally.count), Examples(tally), "\n");
    }
  }
}

}  // namespace

std::string Grouped(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string Share(int64_t part, int64_t whole) {
  if (whole == 0) return "-";
  const int64_t tenths = (part * 1000 + whole / 2) / whole;
  return absl::StrCat(tenths / 10, ".", tenths % 10, "%");
}

absl::StatusOr<ImpactReport> ComputeImpact(const ImpactOptions& options, Context& context) {
  absl::StatusOr<std::map<std::string, Candidate>> candidates =
      options.challenger ? LoadStoredVersions(options) : LoadCandidates(options, context);
  if (!candidates.ok()) return candidates.status();
  audit::RecordFilter filter;
  filter.since = options.since;
  filter.until = options.until;
  filter.decision = options.decision;
  filter.kind = audit::kDecisionRecord;
  // The parts are read and compared on the workers, each with a connection
  // of its own, and merged here in log order as they finish. A worker
  // starts a part only while fewer than two per worker wait to be merged.
  const int workers = options.workers > 0
                          ? options.workers
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::unique_ptr<audit::RecordRanges>> ranges;
  std::vector<std::string audit::AuditRecord::*> fields = {
      &audit::AuditRecord::decision_id, &audit::AuditRecord::time, &audit::AuditRecord::decision,
      &audit::AuditRecord::facts_json, &audit::AuditRecord::result_json};
  if (options.challenger) fields.push_back(&audit::AuditRecord::challenger);
  for (int w = 0; w < workers; ++w) {
    absl::StatusOr<std::unique_ptr<audit::RecordRanges>> opened =
        audit::RecordRanges::Open(options.audit, filter, fields);
    if (!opened.ok()) return opened.status();
    ranges.push_back(*std::move(opened));
  }
  // Parts of `size` sequences from the first to the last, at most
  // kMostParts of them however far apart those are (in unsigned arithmetic,
  // which cannot overflow).
  constexpr uint64_t kMostParts = uint64_t{1} << 16;
  const int64_t first = ranges[0]->first_sequence();
  const int64_t last = ranges[0]->last_sequence();
  const uint64_t span = static_cast<uint64_t>(last) - static_cast<uint64_t>(first);
  const uint64_t size = std::max(
      static_cast<uint64_t>(std::max<int64_t>(1, options.part_sequences)), span / kMostParts + 1);
  const int64_t parts = first > last ? 0 : static_cast<int64_t>(span / size + 1);
  const int64_t window = 2 * static_cast<int64_t>(workers);
  std::mutex mutex;
  std::condition_variable changed;
  std::map<int64_t, std::unique_ptr<Part>> finished;  // by index, not merged yet
  int64_t next = 0;                                   // the next part to start
  int64_t merged = 0;                                 // parts merged
  bool stop = false;
  auto work = [&](audit::RecordRanges& reader) {
    Item item;
    while (true) {
      int64_t index;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return stop || next >= parts || next < merged + window; });
        if (stop || next >= parts) return;
        index = next++;
      }
      auto part = std::make_unique<Part>();
      const uint64_t offset = static_cast<uint64_t>(index) * size;
      part->first = static_cast<int64_t>(static_cast<uint64_t>(first) + offset);
      part->last = span - offset < size
                       ? last
                       : static_cast<int64_t>(static_cast<uint64_t>(part->first) + size - 1);
      ReadPart(reader, *candidates, options, item, *part);
      {
        std::lock_guard<std::mutex> lock(mutex);
        finished.emplace(index, std::move(part));
      }
      changed.notify_all();
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(ranges.size());
  for (const std::unique_ptr<audit::RecordRanges>& reader : ranges) {
    threads.emplace_back(work, std::ref(*reader));
  }
  absl::Status status;
  // On a terminal, a progress bar of the records that match: counted while
  // the workers start.
  std::optional<ProgressBar> bar;
  if (&context.err == &std::cerr && isatty(STDERR_FILENO) == 1) {
    absl::StatusOr<int64_t> total = audit::CountMatchingRecords(options.audit, filter);
    if (total.ok()) {
      bar.emplace(context.err, *total);
    } else {
      status = total.status();
    }
  }
  ImpactReport report;
  report.challenger = options.challenger;
  std::map<std::string, std::set<std::pair<std::string, std::string>>> challengers;
  int64_t done = 0;
  for (int64_t index = 0; status.ok() && index < parts; ++index) {
    std::unique_ptr<Part> part;
    {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait(lock, [&] { return finished.count(index) > 0; });
      auto it = finished.find(index);
      part = std::move(it->second);
      finished.erase(it);
      ++merged;
    }
    changed.notify_all();
    // A part that could not be read to its end ends the report: no figures
    // from a log read in part.
    if (!part->status.ok()) {
      status = part->status;
      break;
    }
    Merge(*part, options.examples, report);
    for (const auto& [name, seen] : part->challengers) {
      challengers[name].insert(seen.begin(), seen.end());
    }
    done += part->records;
    if (bar) bar->Update(done);
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    stop = true;
  }
  changed.notify_all();
  for (std::thread& thread : threads) thread.join();
  if (bar) {
    if (status.ok()) {
      bar->Finish(done);
    } else {
      bar->Abandon();
    }
  }
  if (!status.ok()) return status;
  for (auto& [name, d] : report.decisions) {
    if (options.challenger) {
      // Every challenger version seen, in version order.
      std::vector<std::pair<std::string, std::string>> seen(challengers[name].begin(),
                                                            challengers[name].end());
      std::sort(seen.begin(), seen.end(), [](const auto& a, const auto& b) {
        return engine::CompareVersions(a.first, b.first) < 0;
      });
      for (const auto& [version, sha256] : seen) {
        absl::StrAppend(&d.candidate_version, d.candidate_version.empty() ? "" : ", ", version);
        absl::StrAppend(&d.candidate_sha256, d.candidate_sha256.empty() ? "" : ", ", sha256);
      }
      continue;
    }
    const engine::PolicyId& id = candidates->at(name).policy->id();
    d.candidate_version = id.version;
    d.candidate_sha256 = id.sha256;
  }
  return report;
}

std::string ImpactText(const ImpactReport& report) {
  std::string out;
  if (report.decisions.empty() && report.without_candidate.empty()) {
    return "no logged decisions match\n";
  }
  const bool ch = report.challenger;
  for (const auto& [name, d] : report.decisions) {
    if (ch) {
      // The champion's answers against the challengers' beside them.
      absl::StrAppend(&out, name, ": challenger ", d.candidate_version,
                      " against the champion's answers\n");
    } else {
      absl::StrAppend(&out, name, ": candidate ", d.candidate_version, " (sha256 ",
                      d.candidate_sha256.substr(0, 12), ")\n");
    }
    absl::StrAppend(
        &out, "  ", Grouped(d.logged),
        ch ? " decisions with a challenger result: " : " logged decisions: ", Grouped(d.compared),
        " compared, ", Grouped(d.no_longer_fit_decisions),
        ch ? " the challenger could not decide, " : " no longer fit the candidate, ",
        Grouped(d.failed.count), ch ? " could not be read" : " could not be re-evaluated",
        Examples(d.failed), "\n");
    if (d.older_format.count > 0) {
      absl::StrAppend(&out, "  ", Grouped(d.older_format.count),
                      " logged before record format 5 (answers kept as sent) are not compared",
                      Examples(d.older_format), "\n");
    }
    absl::StrAppend(&out, "  outcome changed for ", Grouped(d.outcome_changed), " (",
                    Share(d.outcome_changed, d.compared), " of those compared); outputs for ",
                    Grouped(d.outputs_changed), "; ", Grouped(d.unchanged),
                    " entirely unchanged\n");
    if (!d.outcome.empty()) {
      absl::StrAppend(&out, "  outcome:\n");
      TransitionsText(d.outcome, "    ", &out);
    }
    for (const auto& [output, t] : d.enum_outputs) {
      absl::StrAppend(&out, "  ", output, ":\n");
      TransitionsText(t, "    ", &out);
    }
    for (const auto& [output, sum] : d.sums) {
      absl::StatusOr<engine::Decimal> change = sum.after.Sub(sum.before);
      absl::StrAppend(&out, "  ", output, ": total ", sum.before.ToCanonicalString(), " → ",
                      sum.after.ToCanonicalString(),
                      change.ok() ? absl::StrCat(" (", change->is_negative() ? "" : "+",
                                                 change->ToCanonicalString(), ")")
                                  : "",
                      ", over ", Grouped(sum.before_count), " → ", Grouped(sum.after_count),
                      " answers with a value\n");
    }
    for (const auto& [label, reasons] : {std::make_pair("reasons gained", &d.reasons_gained),
                                         std::make_pair("reasons lost", &d.reasons_lost)}) {
      if (reasons->empty()) continue;
      absl::StrAppend(&out, "  ", label, ":\n");
      for (const auto& [code, tally] : *reasons) {
        absl::StrAppend(&out, "    ", code, "  ", Grouped(tally.count), Examples(tally), "\n");
      }
    }
    for (const auto& [input, values] : d.by) {
      absl::StrAppend(&out, "  by ", input, ":\n");
      for (const auto& [value, b] : values) {
        absl::StrAppend(&out, "    ", value, ": ", Grouped(b.decisions),
                        " compared, outcome changed for ", Grouped(b.outcome_changed), " (",
                        Share(b.outcome_changed, b.decisions), ")\n");
        Transitions changed;
        for (const auto& [pair, tally] : b.outcome) {
          if (pair.first != pair.second) changed.emplace(pair, tally);
        }
        TransitionsText(changed, "      ", &out);
      }
    }
    if (!d.no_longer_fit.empty()) {
      absl::StrAppend(&out, ch ? "  why the challenger could not decide:\n"
                               : "  facts that no longer fit the candidate:\n");
      for (const auto& [key, tally] : d.no_longer_fit) {
        absl::StrAppend(&out, "    ", key, "  ", Grouped(tally.count), Examples(tally), "\n");
      }
    }
  }
  for (const auto& [name, count] : report.without_candidate) {
    absl::StrAppend(&out, name, ": ", Grouped(count),
                    ch ? " logged decisions without a challenger result\n"
                       : " logged decisions, and no version of it in the candidate\n");
  }
  return out;
}

namespace {

using JsonWriter = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void JsonString(JsonWriter& w, const std::string& s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void JsonTally(JsonWriter& w, const Tally& t) {
  w.StartObject();
  w.Key("count");
  w.Int64(t.count);
  w.Key("examples");
  w.StartArray();
  for (const std::string& id : t.examples) JsonString(w, id);
  w.EndArray();
  w.EndObject();
}

void JsonTransitions(JsonWriter& w, const Transitions& t) {
  w.StartArray();
  for (const auto& [pair, tally] : t) {
    w.StartObject();
    w.Key("before");
    JsonString(w, pair.first);
    w.Key("after");
    JsonString(w, pair.second);
    w.Key("count");
    w.Int64(tally.count);
    w.Key("examples");
    w.StartArray();
    for (const std::string& id : tally.examples) JsonString(w, id);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
}

void JsonTallies(JsonWriter& w, const std::map<std::string, Tally>& tallies) {
  w.StartObject();
  for (const auto& [key, tally] : tallies) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    JsonTally(w, tally);
  }
  w.EndObject();
}

}  // namespace

std::string ImpactJson(const ImpactReport& report) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.SetIndent(' ', 2);
  w.StartObject();
  if (report.challenger) {
    // What "candidate" means below: the challenger versions seen (versions
    // and sha256s each listed with ", ").
    w.Key("compared_with");
    w.String("challenger");
  }
  w.Key("decisions");
  w.StartObject();
  for (const auto& [name, d] : report.decisions) {
    w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    w.StartObject();
    w.Key("candidate");
    w.StartObject();
    w.Key("version");
    JsonString(w, d.candidate_version);
    w.Key("sha256");
    JsonString(w, d.candidate_sha256);
    w.EndObject();
    for (const auto& [key, value] :
         {std::make_pair("logged", d.logged), std::make_pair("compared", d.compared),
          std::make_pair("outcome_changed", d.outcome_changed),
          std::make_pair("outputs_changed", d.outputs_changed),
          std::make_pair("unchanged", d.unchanged),
          std::make_pair("no_longer_fit", d.no_longer_fit_decisions)}) {
      w.Key(key);
      w.Int64(value);
    }
    w.Key("failed");
    JsonTally(w, d.failed);
    w.Key("older_format");
    JsonTally(w, d.older_format);
    w.Key("outcome");
    JsonTransitions(w, d.outcome);
    w.Key("enum_outputs");
    w.StartObject();
    for (const auto& [output, t] : d.enum_outputs) {
      w.Key(output.data(), static_cast<rapidjson::SizeType>(output.size()));
      JsonTransitions(w, t);
    }
    w.EndObject();
    w.Key("sums");
    w.StartObject();
    for (const auto& [output, sum] : d.sums) {
      w.Key(output.data(), static_cast<rapidjson::SizeType>(output.size()));
      w.StartObject();
      w.Key("before");
      JsonString(w, sum.before.ToCanonicalString());
      w.Key("after");
      JsonString(w, sum.after.ToCanonicalString());
      w.Key("before_count");
      w.Int64(sum.before_count);
      w.Key("after_count");
      w.Int64(sum.after_count);
      w.EndObject();
    }
    w.EndObject();
    w.Key("reasons_gained");
    JsonTallies(w, d.reasons_gained);
    w.Key("reasons_lost");
    JsonTallies(w, d.reasons_lost);
    w.Key("by");
    w.StartObject();
    for (const auto& [input, values] : d.by) {
      w.Key(input.data(), static_cast<rapidjson::SizeType>(input.size()));
      w.StartObject();
      for (const auto& [value, b] : values) {
        w.Key(value.data(), static_cast<rapidjson::SizeType>(value.size()));
        w.StartObject();
        w.Key("compared");
        w.Int64(b.decisions);
        w.Key("outcome_changed");
        w.Int64(b.outcome_changed);
        w.Key("outcome");
        JsonTransitions(w, b.outcome);
        w.EndObject();
      }
      w.EndObject();
    }
    w.EndObject();
    w.Key("no_longer_fit_by_problem");
    JsonTallies(w, d.no_longer_fit);
    w.EndObject();
  }
  w.EndObject();
  w.Key("without_candidate");
  w.StartObject();
  for (const auto& [name, count] : report.without_candidate) {
    w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    w.Int64(count);
  }
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

void AddImpactCommand(CLI::App& app, Context& context) {
  struct Flags {
    ImpactOptions options;
    std::string since, until, decision, format = "text";
  };
  auto flags = std::make_shared<Flags>();
  auto* command = app.add_subcommand(
      "impact", "What a candidate version would have decided on the decisions the log holds");
  command->footer(
      "Each logged decision is re-evaluated under the candidate's version of its decision\n"
      "(the highest version in DIR, whatever its effective date) on the facts the log kept,\n"
      "and compared with the answer the caller received: outcome and enum outputs as\n"
      "transition matrices, money totals before and after (--sum), reasons gained and lost,\n"
      "broken down by enum inputs (--by); facts that no longer fit the candidate are counted\n"
      "by what is wrong. Every core works; a progress bar shows on a terminal.\n"
      "With --challenger instead of --candidate, the challenger results creditd logged\n"
      "beside the champion's answers are compared with them, the same way.\n\n"
      "Examples:\n"
      "  creditctl impact --audit creditd-audit.db.snapshot --candidate policies \\\n"
      "      --decision credit_application --by segment --sum credit_limit\n"
      "  creditctl impact --audit creditd-audit.db.snapshot --challenger --by segment");
  command
      ->add_option("--audit", flags->options.audit,
                   "the decision log: a SQLite snapshot, or a PostgreSQL connection string")
      ->required();
  auto* candidate = command->add_option("--candidate", flags->options.candidate,
                                        "the candidate policy directory");
  auto* challenger = command->add_flag(
      "--challenger", flags->options.challenger,
      "instead of a candidate: compare the challenger results the log holds (creditd "
      "--challenger) with the champion's answers beside them");
  candidate->excludes(challenger);
  challenger->excludes(candidate);
  command->add_option("--since", flags->since,
                      "only decisions from this time on (RFC 3339, or a date: midnight UTC)");
  command->add_option("--until", flags->until, "only decisions before this time");
  command->add_option("-d,--decision", flags->decision, "only this decision");
  command->add_option("--by", flags->options.by, "break the figures down by this enum input")
      ->take_all();
  command->add_option("--sum", flags->options.sums, "total this money output before and after")
      ->take_all();
  command
      ->add_option("--examples", flags->options.examples,
                   "decision ids shown per kind of change (default 3)")
      ->check(CLI::Range(0, 100));
  command->add_option("--format", flags->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  command->callback([&context, flags] {
    ImpactOptions options = flags->options;
    if (options.candidate.empty() && !options.challenger) {
      context.err << "creditctl: impact needs --candidate DIR, or --challenger\n";
      context.exit_code = kExitUsage;
      return;
    }
    if (!flags->since.empty()) options.since = flags->since;
    if (!flags->until.empty()) options.until = flags->until;
    if (!flags->decision.empty()) options.decision = flags->decision;
    options.json = flags->format == "json";
    absl::StatusOr<ImpactReport> report = ComputeImpact(options, context);
    if (!report.ok()) {
      context.err << "creditctl: " << report.status().message() << "\n";
      context.exit_code = report.status().code() == absl::StatusCode::kFailedPrecondition
                              ? kExitFailure
                              : kExitUsage;
      return;
    }
    context.out << (options.json ? ImpactJson(*report) : ImpactText(*report));
    bool failed = false;
    for (const auto& [name, d] : report->decisions) failed = failed || d.failed.count > 0;
    context.exit_code = failed ? kExitFailure : kExitOk;
  });
}

}  // namespace creditd::cli
