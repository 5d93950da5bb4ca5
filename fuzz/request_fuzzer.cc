// libFuzzer target: the request path of creditd. Each input is used twice:
// as the bytes of a credit.v1.EvaluateRequest off the wire, and as choices
// that build a request for one of the reference decisions (facts named after
// its real inputs, with values of every kind, inside and outside their
// ranges, and hostile text), which then also crosses the wire. Each request
// goes through server::Decide, and these must hold:
//
// - Decide never crashes and answers only OK, INVALID_ARGUMENT, NOT_FOUND
//   or FAILED_PRECONDITION, each with a message;
// - NOT_FOUND exactly when the decision (or the pinned version) is not
//   served; otherwise validation agrees with the documented contract,
//   judged here independently (fact_generator.h): facts that must pass are
//   not refused, facts that must fail are refused with every problem listed;
// - an OK answer has a UUIDv7 decision id, the policy that decided, decimals
//   as exact decimal text, and an audit record that matches the answer: its
//   facts the canonical text of exactly the facts sent, its result the
//   answer's deterministic bytes, and it replays (through
//   `creditctl audit replay`'s own code) to the same answer;
// - deciding again, with or without a trace, gives the same result.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/decision.h"
#include "audit/record.h"
#include "cli/replay.h"
#include "credit/v1/creditd.pb.h"
#include "engine/bundle.h"
#include "engine/decimal.h"
#include "engine/evaluator.h"
#include "engine/facts_codec.h"
#include "engine/value.h"
#include "fuzz/fact_generator.h"
#include "fuzz/fuzz_support.h"
#include "fuzzer/FuzzedDataProvider.h"
#include "google/protobuf/stubs/logging.h"
#include "server/decide.h"

namespace creditd::fuzz {
namespace {

namespace v1 = credit::v1;
using Kind = GeneratedFact::Kind;

struct Reference {
  engine::Registry registry;
  std::vector<std::shared_ptr<const engine::CompiledPolicy>> policies;
  // Each policy rebuilt from its canonical source, as replay rebuilds it.
  std::map<std::string, std::shared_ptr<const engine::CompiledPolicy>> replay;
};

Reference& Ref() {
  static Reference* ref = [] {
    auto* r = new Reference;
    if (absl::Status s = r->registry.Install(ReferenceBundle()); !s.ok()) {
      Fail("the reference bundle installs", std::string(s.message()));
    }
    r->policies = ReferencePolicies();
    for (const auto& policy : r->policies) {
      absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> rebuilt =
          engine::CompileCanonicalSource(policy->canonical_source());
      if (!rebuilt.ok())
        Fail("a canonical source compiles", std::string(rebuilt.status().message()));
      Check((*rebuilt)->id().sha256 == policy->id().sha256,
            "a canonical source compiles to the same sha256", [&] { return policy->name(); });
      r->replay[policy->id().sha256] = *rebuilt;
    }
    return r;
  }();
  return *ref;
}

bool IsLowerHex(const std::string& text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// 8-4-4-4-12 lowercase hex, version 7, variant 10.
bool IsUuidV7(const std::string& id) {
  if (id.size() != 36) return false;
  for (size_t k = 0; k < id.size(); ++k) {
    const bool dash = k == 8 || k == 13 || k == 18 || k == 23;
    if (dash != (id[k] == '-')) return false;
    if (!dash && !IsLowerHex(std::string(1, id[k]))) return false;
  }
  return id[14] == '7' && std::string("89ab").find(id[19]) != std::string::npos;
}

// "2026-11-22T10:15:30.123Z"
bool IsRfc3339Millis(const std::string& t) {
  if (t.size() != 24) return false;
  static constexpr char kShape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
  for (size_t k = 0; k < t.size(); ++k) {
    if (kShape[k] == 'd' ? (t[k] < '0' || t[k] > '9') : t[k] != kShape[k]) return false;
  }
  return true;
}

std::vector<GeneratedFact> FactsOf(const v1::EvaluateRequest& request) {
  std::vector<GeneratedFact> facts;
  for (const auto& [name, value] : request.facts()) {
    GeneratedFact f;
    f.name = name;
    switch (value.value_case()) {
      case v1::FactValue::kBoolValue:
        f.kind = Kind::kBool;
        f.b = value.bool_value();
        break;
      case v1::FactValue::kIntValue:
        f.kind = Kind::kInt;
        f.i = value.int_value();
        break;
      case v1::FactValue::kDecimalValue:
        f.kind = Kind::kDecimal;
        f.text = value.decimal_value();
        break;
      case v1::FactValue::kEnumValue:
        f.kind = Kind::kSymbol;
        f.text = value.enum_value();
        break;
      case v1::FactValue::kDateValue:
        f.kind = Kind::kDate;
        f.text = value.date_value();
        break;
      default:
        break;
    }
    facts.push_back(std::move(f));
  }
  return facts;
}

v1::FactValue ToFactValue(const GeneratedFact& f) {
  v1::FactValue v;
  switch (f.kind) {
    case Kind::kNone:
      break;
    case Kind::kBool:
      v.set_bool_value(f.b);
      break;
    case Kind::kInt:
      v.set_int_value(f.i);
      break;
    case Kind::kDecimal:
      v.set_decimal_value(f.text);
      break;
    case Kind::kSymbol:
      v.set_enum_value(f.text);
      break;
    case Kind::kDate:
      v.set_date_value(f.text);
      break;
  }
  return v;
}

// A request for a reference decision (or a name that is none), built from
// `data`.
v1::EvaluateRequest BuildRequest(FuzzedDataProvider& data) {
  Reference& ref = Ref();
  v1::EvaluateRequest request;
  const int which = data.ConsumeIntegralInRange<int>(0, 9);
  const engine::CompiledPolicy& policy = *ref.policies[static_cast<size_t>(which) % 4];
  request.set_decision(policy.name());
  if (which == 8) request.set_decision(HostileText(data));
  if (which == 9) {
    static constexpr const char* kVersions[] = {"1.0.0", "1.0.0 ", "9.9.9", "", "1.0"};
    const int v = data.ConsumeIntegralInRange<int>(0, 5);
    request.set_policy_version(v < 5 ? kVersions[v] : HostileText(data));
  }
  if (data.ConsumeBool()) {
    request.set_customer_id(data.ConsumeBool()
                                ? absl::StrCat("C-", data.ConsumeIntegral<uint32_t>())
                                : HostileText(data));
  }
  if (data.ConsumeBool()) request.set_request_id(HostileText(data));
  request.set_explain(data.ConsumeBool());
  for (const GeneratedFact& f : GenerateFacts(policy, data)) {
    // A map: a fact given twice keeps its last value, as on the wire.
    (*request.mutable_facts())[f.name] = ToFactValue(f);
  }
  return request;
}

// The logged facts of an OK answer are the canonical text of exactly the
// request's facts: each fact sent with a value, as sent, and nothing else
// (a fact without a value names an input, which reads it as missing).
void CheckLoggedFacts(const v1::EvaluateRequest& request, const std::string& json) {
  Check(IsStrictJson(json), "the logged facts are strict JSON", [&] { return json; });
  absl::StatusOr<engine::CanonicalFacts> logged = engine::FactsFromCanonicalJson(json);
  Check(logged.ok(), "the logged facts decode",
        [&] { return absl::StrCat(logged.status().message(), "\n", json); });
  Check(engine::ToCanonicalJson(logged->facts()) == json, "the logged facts encode back alike",
        [&] { return json; });
  size_t with_value = 0;
  for (const auto& [name, value] : request.facts()) {
    with_value += value.value_case() != v1::FactValue::VALUE_NOT_SET;
  }
  Check(logged->facts().all().size() == with_value, "one logged fact per fact sent with a value",
        [&] { return json; });
  for (const engine::Fact& fact : logged->facts().all()) {
    auto sent = request.facts().find(std::string(fact.name));
    Check(sent != request.facts().end(), "the logged facts name only facts sent",
          [&] { return std::string(fact.name); });
    const v1::FactValue& v = sent->second;
    engine::FactValue want;
    switch (v.value_case()) {
      case v1::FactValue::kBoolValue:
        want = engine::FactValue::Bool(v.bool_value());
        break;
      case v1::FactValue::kIntValue:
        want = engine::FactValue::Int(v.int_value());
        break;
      case v1::FactValue::kDecimalValue:
        want = engine::FactValue::Decimal(v.decimal_value());
        break;
      case v1::FactValue::kEnumValue:
        want = engine::FactValue::Symbol(v.enum_value());
        break;
      case v1::FactValue::kDateValue:
        want = engine::FactValue::Date(v.date_value());
        break;
      default:
        Check(false, "a fact without a value is not logged",
              [&] { return std::string(fact.name); });
    }
    Check(fact.value == want, "the logged facts keep each value as sent",
          [&] { return absl::StrCat(fact.name, " in ", json); });
  }
}

// A logged answer without what differs from call to call (id, time) and the
// trace, which explain adds: what deciding the same facts again must give.
v1::Decision Comparable(const std::string& bytes) {
  v1::Decision d;
  Check(api::ParseDecision(bytes, &d).ok(), "a logged result is a credit.v1.Decision");
  d.clear_decision_id();
  d.clear_time();
  d.clear_trace();
  return d;
}

void CheckDecisionValues(const v1::Decision& d) {
  for (const auto& output : d.outputs()) {
    const v1::Value& value = output.second;
    if (value.value_case() != v1::Value::kDecimalValue) continue;
    // Exact decimal text: no exponent, no binary floating point.
    Check(engine::Decimal::Parse(value.decimal_value()).ok(), "decimal outputs are decimal text",
          [&] { return absl::StrCat(output.first, " = ", value.decimal_value()); });
  }
  for (const v1::Scorecard& card : d.scorecards()) {
    Check(engine::Decimal::Parse(card.total()).ok(), "scorecard totals are decimal text",
          [&] { return card.total(); });
  }
}

// Replays the record as `creditctl audit replay` does.
void CheckReplay(const audit::AuditRecord& record) {
  auto it = Ref().replay.find(record.policy_sha256);
  Check(it != Ref().replay.end(), "the record names a served policy's sha256",
        [&] { return record.policy_sha256; });
  absl::StatusOr<cli::Replayed> replayed = cli::ReplayRecord(record, *it->second);
  Check(replayed.ok(), "a logged decision replays",
        [&] { return absl::StrCat(replayed.status().message(), "\nfacts: ", record.facts_json); });
  Check(replayed->same, "a logged decision replays to the same answer",
        [&] { return replayed->difference; });
}

std::string Describe(const server::Decided& d) {
  std::string text = absl::StrCat("code ", d.status.error_code(), ": ", d.status.error_message());
  for (const v1::FactProblem& p : d.problems.problems()) {
    absl::StrAppend(&text, "\n  problem `", p.fact(), "`: ", p.problem());
  }
  return text;
}

bool HasControl(const std::string& text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return true;
  }
  return false;
}

// Is `request` refused before its decision is looked up: over one of
// `limits`' bounds (server/limits.h), or with a malformed evaluation date?
bool OverBounds(const v1::EvaluateRequest& request, const server::Limits& limits) {
  if (request.decision().size() > limits.max_name_bytes ||
      request.policy_version().size() > limits.max_name_bytes ||
      request.request_id().size() > limits.max_id_bytes ||
      request.customer_id().size() > limits.max_id_bytes || HasControl(request.request_id()) ||
      HasControl(request.customer_id()) || !IsUtf8(request.request_id()) ||
      !IsUtf8(request.customer_id()) || request.facts_size() > limits.max_facts) {
    return true;
  }
  // A malformed evaluation date is refused with the bounds, before the
  // decision is looked up.
  if (!request.evaluation_date().empty() && !engine::ParseDate(request.evaluation_date()).ok()) {
    return true;
  }
  for (const auto& [name, value] : request.facts()) {
    if (name.size() > limits.max_name_bytes) return true;
    const std::string* text = value.has_decimal_value() ? &value.decimal_value()
                              : value.has_enum_value()  ? &value.enum_value()
                              : value.has_date_value()  ? &value.date_value()
                                                        : nullptr;
    if (text != nullptr && text->size() > limits.max_value_bytes) return true;
  }
  return false;
}

// What goes back to the caller is bounded: the message travels in the
// grpc-message trailer, the problems in another, both under HTTP/2's
// header limits.
void CheckBounded(const server::Decided& d) {
  Check(d.status.error_message().size() <= 2048, "error messages are bounded",
        [&] { return absl::StrCat(d.status.error_message().size(), " bytes"); });
  Check(d.problems.problems_size() <= server::kMaxProblemsShown, "at most 10 problems are listed",
        [&] { return absl::StrCat(d.problems.problems_size(), " problems"); });
  Check(d.problems.ByteSizeLong() <= 4096, "the problems trailer is bounded",
        [&] { return absl::StrCat(d.problems.ByteSizeLong(), " bytes"); });
}

// Decides `request` and checks every invariant; returns the result for
// comparisons.
server::Decided CheckDecide(const v1::EvaluateRequest& request, bool from_wire, v1::Decision* out) {
  Reference& ref = Ref();
  server::Decided d = server::Decide(ref.registry, request, out);
  const grpc::StatusCode code = d.status.error_code();
  if (Verbose()) {
    std::fprintf(stderr, "%s `%.64s`: %s\n", from_wire ? "wire" : "direct",
                 request.decision().c_str(),
                 code == grpc::StatusCode::OK ? out->outcome().c_str() : Describe(d).c_str());
  }
  Check(code == grpc::StatusCode::OK || code == grpc::StatusCode::INVALID_ARGUMENT ||
            code == grpc::StatusCode::NOT_FOUND || code == grpc::StatusCode::FAILED_PRECONDITION,
        "Decide answers only the documented codes", [&] { return Describe(d); });
  Check(code == grpc::StatusCode::OK || !d.status.error_message().empty(), "an error has a message",
        [&] { return Describe(d); });

  // Over a bound of server/limits.h (the defaults): refused before anything
  // else, INVALID_ARGUMENT.
  if (OverBounds(request, server::Limits{})) {
    Check(code == grpc::StatusCode::INVALID_ARGUMENT, "a request over a bound is refused",
          [&] { return Describe(d); });
    CheckBounded(d);
    return d;
  }

  std::shared_ptr<const engine::CompiledPolicy> policy;
  if (!request.policy_version().empty()) {
    policy = ref.registry.Find(request.decision(), request.policy_version());
  } else {
    const engine::BundleVersion* in_force =
        ReferenceBundle()->InForce(request.decision(), ref.registry.Now());
    if (in_force != nullptr) policy = in_force->policy;
  }
  Check((policy == nullptr) == (code == grpc::StatusCode::NOT_FOUND),
        "NOT_FOUND exactly when the decision or version is not served",
        [&] { return Describe(d); });
  if (policy == nullptr) return d;

  const std::vector<GeneratedFact> facts = FactsOf(request);
  const Verdict verdict = Judge(*policy, facts);
  if (verdict == Verdict::kValid) {
    Check(code != grpc::StatusCode::INVALID_ARGUMENT, "valid facts are not refused",
          [&] { return Describe(d); });
  }
  if (verdict == Verdict::kInvalid) {
    Check(code == grpc::StatusCode::INVALID_ARGUMENT, "invalid facts are refused",
          [&] { return Describe(d); });
  }
  if (code == grpc::StatusCode::INVALID_ARGUMENT) {
    Check(d.problems.problems_size() >= 1, "INVALID_ARGUMENT lists at least one problem",
          [&] { return Describe(d); });
    // Each problem names a fact sent (as sent, or cut short and escaped as
    // an echo) or an input of the policy.
    for (const v1::FactProblem& p : d.problems.problems()) {
      bool named = policy->FindInput(p.fact()) >= 0;
      for (const auto& [name, value] : request.facts()) {
        named = named || p.fact() == name || p.fact() == engine::EchoText(name) ||
                p.fact() == engine::EchoText(name, 64) ||
                p.fact() == engine::EchoText(engine::EchoText(name), 64);
      }
      Check(named, "each problem names a fact sent or an input", [&] { return Describe(d); });
    }
  }
  CheckBounded(d);
  if (from_wire) {
    // A stream answer carries the message in a proto3 string.
    Check(IsUtf8(d.status.error_message()), "error messages are UTF-8",
          [&] { return Describe(d); });
  }
  if (code != grpc::StatusCode::OK) return d;

  // An OK answer and its record.
  const audit::AuditRecord& r = d.record;
  Check(IsUuidV7(out->decision_id()), "the decision id is a UUIDv7",
        [&] { return out->decision_id(); });
  Check(IsRfc3339Millis(out->time()), "the time is RFC 3339 UTC", [&] { return out->time(); });
  Check(out->decision() == request.decision(), "the answer names the decision asked for");
  Check(out->policy().name() == policy->id().name &&
            out->policy().version() == policy->id().version &&
            out->policy().sha256() == policy->id().sha256,
        "the answer names the policy that decided",
        [&] { return out->policy().ShortDebugString(); });
  Check(out->policy().sha256().size() == 64 && IsLowerHex(out->policy().sha256()),
        "the policy sha256 is 64 hex digits");
  Check(out->request_id() == request.request_id(), "the request id is echoed");
  if (policy->outcome() != nullptr) {
    Check(policy->outcome()->Find(out->outcome()) >= 0, "the outcome is a symbol of the scale",
          [&] { return out->outcome(); });
  } else {
    Check(out->outcome().empty(), "a decision without an outcome answers none");
  }
  Check(out->trace_size() > 0 || !request.explain(), "explain answers a trace");
  Check(out->trace_size() == 0 || request.explain(), "no trace unless asked");
  CheckDecisionValues(*out);
  Check(r.decision_id == out->decision_id() && r.time == out->time() &&
            r.customer_id == request.customer_id() && r.request_id == request.request_id() &&
            r.decision == request.decision() && r.policy_name == policy->id().name &&
            r.policy_version == policy->id().version && r.policy_sha256 == policy->id().sha256,
        "the record matches the answer");
  CheckLoggedFacts(request, r.facts_json);
  // The logged result is the answer as the caller receives it.
  Check(r.format == audit::kLogFormat && audit::ResultIsAnswerBytes(r),
        "a decision is logged in the current format");
  v1::Decision logged;
  Check(api::ParseDecision(r.result_json, &logged).ok(), "the logged result parses");
  std::string difference;
  Check(api::SameDecision(logged, *out, &difference), "the logged result is the answer",
        [&] { return difference; });
  Check(api::DeterministicBytes(logged) == r.result_json, "the logged result is deterministic");
  CheckReplay(r);
  if (from_wire) {
    // The answer goes back over the wire and reads back the same.
    std::string bytes;
    Check(out->SerializeToString(&bytes), "the answer serializes");
    v1::Decision back;
    Check(back.ParseFromString(bytes), "the answer parses back",
          [&] { return out->ShortDebugString(); });
  }
  return d;
}

// Decides once more with the trace flipped: the same answer either way.
void CheckDeterministic(const v1::EvaluateRequest& request, const server::Decided& first) {
  v1::EvaluateRequest again = request;
  again.set_explain(!request.explain());
  v1::Decision out;
  server::Decided second = CheckDecide(again, false, &out);
  Check(second.status.error_code() == first.status.error_code(),
        "deciding again gives the same code",
        [&] { return absl::StrCat(Describe(first), "\n", Describe(second)); });
  if (first.status.ok()) {
    std::string difference;
    Check(api::SameDecision(Comparable(first.record.result_json),
                            Comparable(second.record.result_json), &difference),
          "deciding again gives the same result", [&] { return difference; });
    Check(second.record.facts_json == first.record.facts_json, "the same facts log the same");
  } else {
    Check(second.status.error_message() == first.status.error_message(),
          "deciding again gives the same error",
          [&] { return absl::StrCat(Describe(first), "\n", Describe(second)); });
  }
}

int TestOneInput(const uint8_t* data, size_t size) {
  // 1. The bytes as a request off the wire.
  v1::EvaluateRequest wire;
  if (wire.ParseFromArray(data, static_cast<int>(size))) {
    v1::Decision out;
    const server::Decided d = CheckDecide(wire, true, &out);
    CheckDeterministic(wire, d);
  }
  // 2. A request built from the bytes, called directly (as a test or an
  // in-process caller could, with any bytes in its strings).
  FuzzedDataProvider provider(data, size);
  const v1::EvaluateRequest built = BuildRequest(provider);
  v1::Decision out;
  const server::Decided direct = CheckDecide(built, false, &out);
  CheckDeterministic(built, direct);
  // 3. The same request over the wire: it arrives when its strings are
  // UTF-8, and is decided as before.
  std::string bytes;
  built.SerializeToString(&bytes);
  v1::EvaluateRequest arrived;
  if (arrived.ParseFromString(bytes)) {
    v1::Decision out2;
    const server::Decided d = CheckDecide(arrived, true, &out2);
    Check(d.status.error_code() == direct.status.error_code() &&
              (!d.status.ok() || api::SameDecision(Comparable(d.record.result_json),
                                                   Comparable(direct.record.result_json))),
          "a request decides the same after crossing the wire",
          [&] { return absl::StrCat(Describe(direct), "\n", Describe(d)); });
  }
  return 0;
}

}  // namespace
}  // namespace creditd::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Invalid UTF-8 in a proto3 string is logged on every parse; the checks
  // here say what matters.
  google::protobuf::SetLogHandler(nullptr);
  (void)creditd::fuzz::Ref();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return creditd::fuzz::TestOneInput(data, size);
}
