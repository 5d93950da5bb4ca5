#include "server/decide.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/decision.h"
#include "api/facts.h"
#include "dsl/utf8.h"
#include "engine/evaluator.h"
#include "engine/facts_codec.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace creditd::server {

namespace v1 = credit::v1;

namespace {

// 64 bits from the operating system's CSPRNG (getrandom), drawn 4 KiB at a
// time per thread. Decision ids must not be guessable from earlier ones.
uint64_t RandomBits() {
  thread_local uint64_t pool[512];
  thread_local size_t next = sizeof pool / sizeof pool[0];
  if (next == sizeof pool / sizeof pool[0]) {
    size_t filled = 0;
    auto* bytes = reinterpret_cast<unsigned char*>(pool);
    while (filled < sizeof pool) {
      const ssize_t n = getrandom(bytes + filled, sizeof pool - filled, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        // getrandom cannot fail on Linux >= 3.17 with a valid buffer; if it
        // ever does, ids must not silently become predictable.
        std::perror("creditd: getrandom");
        std::abort();
      }
      filled += static_cast<size_t>(n);
    }
    next = 0;
  }
  return pool[next++];
}

}  // namespace

grpc::ByteBuffer AnswerWithDecision(const std::string& prefix, int field,
                                    const std::string& decision) {
  using google::protobuf::internal::WireFormatLite;
  uint8_t head[16];
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteTagToArray(
      WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED), head);
  end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      static_cast<uint32_t>(decision.size()), end);
  grpc::Slice slices[] = {grpc::Slice(prefix), grpc::Slice(head, static_cast<size_t>(end - head)),
                          grpc::Slice(decision)};
  return grpc::ByteBuffer(slices, 3);
}

// A UUIDv7 (RFC 9562): the decision time in Unix milliseconds, then 74
// random bits. Ids sort by time, so the log's index on them grows at one end.
std::string NewDecisionId(int64_t unix_ms) {
  const uint64_t a = RandomBits();
  const uint64_t b = RandomBits();
  const uint64_t ms = static_cast<uint64_t>(unix_ms) & 0xffffffffffffULL;
  return absl::StrFormat("%08x-%04x-7%03x-%04x-%012x", ms >> 16, ms & 0xffff, a & 0xfff,
                         0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffULL);
}

// RFC 3339 in UTC with milliseconds; the formatted second is kept per thread.
std::string FormatTime(int64_t unix_ms) {
  thread_local int64_t cached_second = -1;
  thread_local char prefix[32];
  const int64_t second = unix_ms / 1000;
  if (second != cached_second) {
    const std::string text =
        absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(second), absl::UTCTimeZone());
    std::snprintf(prefix, sizeof prefix, "%s", text.c_str());
    cached_second = second;
  }
  return absl::StrFormat("%s.%03dZ", prefix, static_cast<int>(unix_ms % 1000));
}

namespace {

grpc::StatusCode GrpcCode(absl::StatusCode code) {
  return static_cast<grpc::StatusCode>(static_cast<int>(code));
}

// Does `text` hold a control character (a NUL, a line break)? Ids are
// logged and printed; such characters would cut or forge what a reviewer
// reads.
bool HasControl(absl::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return true;
  }
  return false;
}

// Checks the request against `limits` before any work: sizes of the ids, the
// decision name, the pinned version, the facts' count, names and values.
Decided CheckBounds(const v1::EvaluateRequest& request, const Limits& limits) {
  Decided result;
  auto refuse = [&](std::string message) {
    result.status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
    return result;
  };
  if (request.decision().size() > limits.max_name_bytes) {
    return refuse(absl::StrCat("decision `", engine::EchoText(request.decision()), "` is ",
                               request.decision().size(), " bytes; at most ",
                               limits.max_name_bytes));
  }
  if (request.policy_version().size() > limits.max_name_bytes) {
    return refuse(absl::StrCat("policy_version is ", request.policy_version().size(),
                               " bytes; at most ", limits.max_name_bytes));
  }
  if (!request.evaluation_date().empty() && !engine::ParseDate(request.evaluation_date()).ok()) {
    return refuse(absl::StrCat("evaluation_date `", engine::EchoText(request.evaluation_date()),
                               "` is not a date: YYYY-MM-DD, from 0001-01-01 to 9999-12-31"));
  }
  for (const auto& [field, value] : {std::make_pair("request_id", &request.request_id()),
                                     std::make_pair("customer_id", &request.customer_id())}) {
    if (value->size() > limits.max_id_bytes) {
      return refuse(
          absl::StrCat(field, " is ", value->size(), " bytes; at most ", limits.max_id_bytes));
    }
    if (HasControl(*value)) {
      return refuse(absl::StrCat(field, " `", engine::EchoText(*value),
                                 "` holds a control character (such as NUL or a line break)"));
    }
    // As over the wire, where proto3 strings are UTF-8: the request id is
    // echoed in the answer, which the log keeps and reads back as a message.
    if (dsl::FindInvalidUtf8(*value) != absl::string_view::npos) {
      return refuse(absl::StrCat(field, " `", engine::EchoText(*value), "` is not UTF-8"));
    }
  }
  if (request.facts_size() > limits.max_facts) {
    return refuse(absl::StrCat(request.facts_size(), " facts; a request may hold at most ",
                               limits.max_facts));
  }
  for (const auto& [name, value] : request.facts()) {
    std::string problem;
    if (name.size() > limits.max_name_bytes) {
      problem =
          absl::StrCat("the name is ", name.size(), " bytes; at most ", limits.max_name_bytes);
    } else {
      const std::string* text = nullptr;
      switch (value.value_case()) {
        case v1::FactValue::kDecimalValue:
          text = &value.decimal_value();
          break;
        case v1::FactValue::kEnumValue:
          text = &value.enum_value();
          break;
        case v1::FactValue::kDateValue:
          text = &value.date_value();
          break;
        default:
          break;
      }
      if (text != nullptr && text->size() > limits.max_value_bytes) {
        problem =
            absl::StrCat("the value is ", text->size(), " bytes; at most ", limits.max_value_bytes);
      }
    }
    if (!problem.empty()) {
      v1::FactProblem* p = result.problems.add_problems();
      p->set_fact(name);
      p->set_problem(std::move(problem));
    }
  }
  if (result.problems.problems_size() > 0)
    result.status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "");
  return result;
}

// Makes `result` answer INVALID_ARGUMENT with its problems, sorted by fact,
// at most kMaxProblemsShown of them and each echo cut short, so that the
// message and the trailing metadata stay far below HTTP/2's header limits.
void FinishProblems(Decided& result) {
  auto* problems = result.problems.mutable_problems();
  std::sort(problems->begin(), problems->end(),
            [](const v1::FactProblem& a, const v1::FactProblem& b) { return a.fact() < b.fact(); });
  const int total = problems->size();
  if (total > kMaxProblemsShown)
    problems->DeleteSubrange(kMaxProblemsShown, total - kMaxProblemsShown);
  std::string message = total == 1 ? "1 problem" : absl::StrCat(total, " problems");
  message += " with the facts: ";
  bool first = true;
  for (v1::FactProblem& p : *problems) {
    p.set_fact(engine::EchoText(p.fact(), 64));
    p.set_problem(engine::EchoText(p.problem(), 160));
    absl::StrAppend(&message, first ? "" : "; ", "`", p.fact(), "`: ", p.problem());
    first = false;
  }
  if (total > kMaxProblemsShown) {
    absl::StrAppend(&message, "; and ", total - kMaxProblemsShown, " more");
  }
  result.status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

// `today` for a policy that reads it: the request's evaluation date, or the
// server's date in the zone effective dates are midnights in; as days since
// 1970-01-01.
absl::StatusOr<int64_t> EvaluationDay(const v1::EvaluateRequest& request, absl::Time now,
                                      absl::TimeZone zone) {
  if (!request.evaluation_date().empty()) return engine::ParseDate(request.evaluation_date());
  return absl::ToCivilDay(now, zone) - absl::CivilDay(1970, 1, 1);
}

// Whether two answers differ in what a credit manager acts on: the outcome,
// or for a decision of outputs only, an output.
bool Disagree(const v1::Decision& a, const v1::Decision& b) {
  if (a.outcome() != b.outcome()) return true;
  if (!a.outcome().empty()) return false;
  if (a.outputs_size() != b.outputs_size()) return true;
  for (const auto& [name, value] : a.outputs()) {
    auto it = b.outputs().find(name);
    if (it == b.outputs().end() || it->second.SerializeAsString() != value.SerializeAsString()) {
      return true;
    }
  }
  return false;
}

// Runs the challenger's version in force at `now` of the request's decision
// on the request's facts, into `record.challenger`; nothing when it has no
// version of the decision in force. Facts that do not fit it, or an
// evaluation that fails, are its result too (`error`).
void Challenge(Challenger& challenger, const v1::EvaluateRequest& request,
               const v1::Decision& champion, absl::Time now, absl::TimeZone zone,
               audit::AuditRecord& record) {
  std::shared_ptr<const engine::Bundle> bundle = challenger.Current();
  const engine::BundleVersion* version =
      bundle != nullptr ? bundle->InForce(request.decision(), now) : nullptr;
  if (version == nullptr) return;
  const engine::CompiledPolicy& policy = *version->policy;
  thread_local engine::Facts facts;
  thread_local engine::Decision decision;
  thread_local std::vector<engine::FactProblem> problems;
  facts.Clear();
  api::AddRequestFacts(request, policy, &facts);
  engine::EvalOptions options;
  options.facts = engine::FactRules::kStrict;
  // On an arena, as the server holds the champion's answer: one block, not
  // an allocation per field.
  google::protobuf::Arena arena;
  v1::ChallengerResult& result =
      *google::protobuf::Arena::CreateMessage<v1::ChallengerResult>(&arena);
  v1::PolicyId* id = result.mutable_policy();
  id->set_name(policy.id().name);
  id->set_version(policy.id().version);
  id->set_sha256(policy.id().sha256);
  absl::Status status = absl::OkStatus();
  if (policy.reads_today()) {
    absl::StatusOr<int64_t> day = EvaluationDay(request, now, zone);
    if (day.ok()) {
      options.evaluation_date = *day;
    } else {
      status = day.status();
    }
  }
  if (options.evaluation_date.has_value()) {
    result.set_evaluation_date(engine::FormatDate(*options.evaluation_date));
  }
  if (status.ok()) status = engine::EvaluateInto(policy, facts, options, &decision, &problems);
  if (!status.ok()) {
    std::string error;
    int shown = 0;
    for (const engine::FactProblem& p : problems) {
      if (++shown > kMaxProblemsShown) {
        absl::StrAppend(&error, "; and ", problems.size() - kMaxProblemsShown, " more");
        break;
      }
      absl::StrAppend(&error, error.empty() ? "" : "; ", "`", engine::EchoText(p.fact, 64),
                      "`: ", engine::EchoText(p.problem, 160));
    }
    if (error.empty()) error = engine::EchoText(status.message(), 1024);
    result.set_error(absl::StrCat(policy.id().name, " ", policy.id().version, ": ", error));
  } else {
    v1::Decision* answer = result.mutable_decision();
    api::FillDecision(decision, answer);
    answer->set_decision_id(champion.decision_id());
    answer->set_time(champion.time());
    answer->set_request_id(champion.request_id());
  }
  std::string facts_text = engine::ToCanonicalJson(facts);
  if (facts_text != record.facts_json) result.set_facts(std::move(facts_text));
  record.challenger = api::DeterministicBytes(result);
  challenger.Count(!status.ok() || Disagree(champion, result.decision()), !status.ok());
}

}  // namespace

audit::PolicySource SourceToStore(const engine::CompiledPolicy& policy) {
  audit::PolicySource source;
  source.sha256 = policy.id().sha256;
  source.name = policy.id().name;
  source.version = policy.id().version;
  source.source = policy.canonical_source();
  source.canonical_form = policy.canonical_form();
  return source;
}

Decided Decide(const engine::Registry& registry, const v1::EvaluateRequest& request,
               v1::Decision* out, const DecideOptions& decide_options) {
  Decided result = CheckBounds(request, decide_options.limits);
  if (!result.status.ok()) {
    if (result.problems.problems_size() > 0) FinishProblems(result);
    return result;
  }
  std::shared_ptr<const engine::CompiledPolicy> policy;
  std::shared_ptr<const engine::Bundle> bundle = registry.Current();
  // One instant for the whole decision: the version in force then, and the
  // decision's time.
  const absl::Time now = registry.Now();
  if (!request.policy_version().empty()) {
    policy = registry.Find(request.decision(), request.policy_version());
    if (policy == nullptr) {
      result.status =
          grpc::Status(grpc::StatusCode::NOT_FOUND,
                       absl::StrCat("no version ", engine::EchoText(request.policy_version()),
                                    " of decision `", engine::EchoText(request.decision()), "`"));
      return result;
    }
  } else if (bundle != nullptr) {
    auto it = bundle->decisions.find(request.decision());
    if (it != bundle->decisions.end()) {
      const engine::BundleVersion* in_force = it->second.InForce(now);
      if (in_force == nullptr) {
        // Every version is scheduled: the first takes effect later.
        const engine::BundleVersion& first = it->second.versions.front();
        result.status = grpc::Status(
            grpc::StatusCode::NOT_FOUND,
            absl::StrCat(
                "decision `", it->first,
                "` has no version in force yet: ", first.policy->id().version, " takes effect ",
                absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", first.effective, absl::UTCTimeZone())));
        return result;
      }
      policy = in_force->policy;
    }
  }
  if (policy == nullptr) {
    std::string known;
    if (bundle != nullptr) {
      for (const auto& [name, versions] : bundle->decisions)
        absl::StrAppend(&known, known.empty() ? "" : ", ", name);
    }
    result.status = grpc::Status(grpc::StatusCode::NOT_FOUND,
                                 absl::StrCat("no decision `", engine::EchoText(request.decision()),
                                              "`; served: ", known.empty() ? "none" : known));
    return result;
  }
  // Kept per thread: a warm evaluation reuses their buffers.
  thread_local engine::Facts facts;
  facts.Clear();
  api::AddRequestFacts(request, *policy, &facts);
  engine::EvalOptions options;
  options.trace = request.explain();
  // Each fact keeps its meaning or is refused (record format 3 and later).
  options.facts = engine::FactRules::kStrict;
  // `today`: the request's date (checked by CheckBounds), or the server's
  // in the zone its effective dates are midnights in.
  if (policy->reads_today()) {
    absl::StatusOr<int64_t> day = EvaluationDay(request, now, registry.zone());
    if (!day.ok()) {
      result.status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   engine::EchoText(day.status().message(), 1024));
      return result;
    }
    options.evaluation_date = *day;
  }
  thread_local engine::Decision decision;
  thread_local std::vector<engine::FactProblem> problems;
  absl::Status status = engine::EvaluateInto(*policy, facts, options, &decision, &problems);
  if (!status.ok()) {
    for (const engine::FactProblem& p : problems) {
      v1::FactProblem* problem = result.problems.add_problems();
      problem->set_fact(p.fact);
      problem->set_problem(p.problem);
    }
    if (result.problems.problems_size() > 0) {
      FinishProblems(result);
    } else {
      result.status =
          grpc::Status(GrpcCode(status.code()), engine::EchoText(status.message(), 1024));
    }
    return result;
  }
  api::FillDecision(decision, out);
  const int64_t now_ms = absl::ToUnixMillis(now);
  out->set_decision_id(NewDecisionId(now_ms));
  out->set_time(FormatTime(now_ms));
  out->set_request_id(request.request_id());
  audit::AuditRecord& r = result.record;
  r.decision_id = out->decision_id();
  r.time = out->time();
  r.customer_id = request.customer_id();
  r.request_id = request.request_id();
  r.decision = request.decision();
  r.policy_name = policy->id().name;
  r.policy_version = policy->id().version;
  r.policy_sha256 = policy->id().sha256;
  // Exactly the facts evaluated, and the answer as the caller receives it
  // (record format 5).
  r.facts_json = engine::ToCanonicalJson(facts);
  r.result_json = api::DeterministicBytes(*out);
  r.outcome = out->outcome();
  r.caller = decide_options.caller;
  r.via = decide_options.via;
  // The challenger's result: only for requests that pin no version, for a
  // customer in its share. Never part of the answer.
  if (decide_options.challenger != nullptr && request.policy_version().empty() &&
      decide_options.challenger->Chosen(request.customer_id())) {
    Challenge(*decide_options.challenger, request, *out, now, registry.zone(), r);
  }
  return result;
}

}  // namespace creditd::server
