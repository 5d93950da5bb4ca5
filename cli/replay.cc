#include "cli/replay.h"

#include "absl/strings/str_cat.h"
#include "api/decision.h"
#include "cli/policy_loading.h"
#include "credit/v1/creditd.pb.h"
#include "engine/decision_json.h"
#include "engine/evaluator.h"
#include "engine/facts_codec.h"

namespace creditd::cli {

absl::StatusOr<Replayed> ReplayRecord(const audit::AuditRecord& record,
                                      const engine::CompiledPolicy& policy) {
  if (record.format < audit::kAnswerAsSentFormat) return ReplayLegacyRecord(record, policy);
  absl::StatusOr<engine::CanonicalFacts> facts = engine::FactsFromCanonicalJson(record.facts_json);
  if (!facts.ok()) return facts.status();
  // Kept per thread: replaying a log reuses their buffers.
  thread_local engine::Decision decision;
  thread_local credit::v1::Decision replayed;
  // The evaluation date the answer says the policy read, if any: the
  // decision is replayed on that day.
  std::optional<int64_t> evaluation_date;
  if (policy.reads_today()) {
    if (absl::Status status = api::EvaluationDateOf(record.result_json, &evaluation_date);
        !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("its result: ", status.message()));
    }
  }
  // The answer as the server gives it, with the trace when asked with explain.
  auto run = [&](bool trace) -> absl::Status {
    engine::EvalOptions options;
    options.facts = engine::FactRules::kStrict;
    options.trace = trace;
    options.evaluation_date = evaluation_date;
    if (absl::Status status = engine::EvaluateInto(policy, facts->facts(), options, &decision);
        !status.ok()) {
      return status;
    }
    replayed.Clear();
    api::FillDecision(decision, &replayed);
    replayed.set_decision_id(record.decision_id);
    replayed.set_time(record.time);
    replayed.set_request_id(record.request_id);
    return absl::OkStatus();
  };
  // Most answers were asked without explain, and the same bytes are the same
  // message: that case needs neither the logged answer parsed nor the
  // differencer's reflection.
  if (absl::Status status = run(false); !status.ok()) return status;
  Replayed result;
  result.same = api::DeterministicBytes(replayed) == record.result_json;
  if (!result.same) {
    credit::v1::Decision logged;
    if (absl::Status status = api::ParseDecision(record.result_json, &logged); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("its result: ", status.message()));
    }
    // Asked with explain: the answer held the trace, which replays too.
    if (logged.trace_size() > 0) {
      if (absl::Status status = run(true); !status.ok()) return status;
    }
    // Other bytes may still be the same message (another protobuf version
    // orders some differently): compared field by field.
    result.same = api::SameDecision(logged, replayed, &result.difference);
  }
  // The record's own outcome field says what the answer said.
  if (record.outcome != replayed.outcome() && result.same) {
    result.same = false;
    result.difference = absl::StrCat("the record's outcome `", record.outcome,
                                     "` is not the answer's `", replayed.outcome(), "`");
  }
  return result;
}

namespace {

absl::Status ParseChallenger(const audit::AuditRecord& record, credit::v1::ChallengerResult* out) {
  if (record.challenger.size() > static_cast<size_t>(INT32_MAX) ||
      !out->ParseFromArray(record.challenger.data(), static_cast<int>(record.challenger.size()))) {
    return absl::InvalidArgumentError(absl::StrCat("its challenger result: the ",
                                                   record.challenger.size(),
                                                   " bytes are not a credit.v1.ChallengerResult"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<engine::PolicyId> ChallengerPolicyOf(const audit::AuditRecord& record) {
  credit::v1::ChallengerResult logged;
  if (absl::Status status = ParseChallenger(record, &logged); !status.ok()) return status;
  return engine::PolicyId{logged.policy().name(), logged.policy().version(),
                          logged.policy().sha256()};
}

absl::StatusOr<Replayed> ReplayChallenger(const audit::AuditRecord& record,
                                          const engine::CompiledPolicy& policy) {
  credit::v1::ChallengerResult logged;
  if (absl::Status status = ParseChallenger(record, &logged); !status.ok()) return status;
  absl::StatusOr<engine::CanonicalFacts> facts =
      engine::FactsFromCanonicalJson(logged.facts().empty() ? record.facts_json : logged.facts());
  engine::EvalOptions options;
  options.facts = engine::FactRules::kStrict;
  if (policy.reads_today()) {
    // The date it was given (logged beside its answer).
    if (logged.evaluation_date().empty()) {
      return absl::InvalidArgumentError(
          "its challenger result names no evaluation date, and its version reads `today`");
    }
    absl::StatusOr<int64_t> day = engine::ParseDate(logged.evaluation_date());
    if (!day.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("its challenger result: ", day.status().message()));
    }
    options.evaluation_date = *day;
  }
  engine::Decision decision;
  absl::Status status = facts.ok()
                            ? engine::EvaluateInto(policy, facts->facts(), options, &decision)
                            : facts.status();
  Replayed result;
  if (!logged.has_decision()) {
    result.same = !status.ok();
    if (!result.same) {
      result.difference =
          absl::StrCat("the challenger could not decide (", logged.error(), ") and now decides");
    }
    return result;
  }
  if (!status.ok()) {
    result.difference = absl::StrCat("the challenger decided and now cannot: ", status.message());
    return result;
  }
  credit::v1::Decision replayed;
  api::FillDecision(decision, &replayed);
  replayed.set_decision_id(logged.decision().decision_id());
  replayed.set_time(logged.decision().time());
  replayed.set_request_id(logged.decision().request_id());
  result.same = api::SameDecision(logged.decision(), replayed, &result.difference);
  if (!result.same) result.difference = "the challenger's answer: " + result.difference;
  return result;
}

absl::StatusOr<Replayed> ReplayLegacyRecord(const audit::AuditRecord& record,
                                            const engine::CompiledPolicy& policy) {
  FactsJson document;
  engine::Facts facts;
  if (absl::Status status = ParseFacts(record.facts_json, policy, &document, &facts);
      !status.ok()) {
    return status;
  }
  // A decision replays under the fact rules it was made with.
  engine::EvalOptions options;
  options.facts = record.format >= audit::kStrictFactsFormat ? engine::FactRules::kStrict
                                                             : engine::FactRules::kLenient;
  engine::Decision decision;
  if (absl::Status status = engine::EvaluateInto(policy, facts, options, &decision); !status.ok()) {
    return status;
  }
  Replayed result;
  const std::string replayed = LegacyLoggedResult(decision, record.format);
  result.same = replayed == record.result_json;
  if (!result.same) {
    result.difference = absl::StrCat("logged:   ", record.result_json, "\nreplayed: ", replayed);
  }
  return result;
}

std::string LegacyLoggedResult(const engine::Decision& decision, int format) {
  engine::JsonOptions json;
  json.pretty = false;
  json.scorecards = format < 2;
  json.trace = false;
  return engine::DecisionToJson(decision, json);
}

}  // namespace creditd::cli
