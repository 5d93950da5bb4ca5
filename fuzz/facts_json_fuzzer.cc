// libFuzzer target: the JSON facts reader of creditctl (cli::ParseFacts,
// what `creditctl eval`, `explain` and `audit replay` of records written
// before format 5 read facts with), against each reference policy, then
// evaluation when the facts read. These must hold:
//
// - ParseFacts never crashes; it refuses with INVALID_ARGUMENT and a
//   message, or hands over one fact per member that is not null, each
//   pointing into the document;
// - evaluation answers OK, INVALID_ARGUMENT listing its problems, or
//   FAILED_PRECONDITION with a message, nothing else;
// - an OK decision prints as strict JSON, and evaluating again, with or
//   without a trace, logs the same result.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/policy_loading.h"
#include "cli/replay.h"
#include "engine/decision_json.h"
#include "engine/evaluator.h"
#include "fuzz/fuzz_support.h"
#include "rapidjson/document.h"

namespace creditd::fuzz {
namespace {

size_t NonNullMembers(const rapidjson::Value& object) {
  size_t n = 0;
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) n += !it->value.IsNull();
  return n;
}

void CheckOne(const std::string& json, const engine::CompiledPolicy& policy) {
  cli::FactsJson document;
  engine::Facts facts;
  const absl::Status read = cli::ParseFacts(json, policy, &document, &facts);
  if (!read.ok()) {
    Check(absl::IsInvalidArgument(read) && !read.message().empty(),
          "unreadable facts are INVALID_ARGUMENT with a message", [&] { return read.ToString(); });
    return;
  }
  Check(document.root().IsObject(), "facts read only from an object");
  Check(facts.all().size() == NonNullMembers(document.root()),
        "one fact per member that is not null", [&] {
          return std::string(absl::StrCat(facts.all().size(), " facts from ",
                                          NonNullMembers(document.root()), " members"));
        });

  engine::Decision decision;
  std::vector<engine::FactProblem> problems;
  const absl::Status status =
      engine::EvaluateInto(policy, facts, FuzzEvalOptions(), &decision, &problems);
  if (absl::IsInvalidArgument(status)) {
    Check(!problems.empty(), "INVALID_ARGUMENT lists its problems",
          [&] { return status.ToString(); });
    return;
  }
  Check(problems.empty(), "problems come only with INVALID_ARGUMENT");
  if (absl::IsFailedPrecondition(status)) {
    Check(!status.message().empty(), "a failed evaluation says why");
    return;
  }
  Check(status.ok(), "evaluation answers only the documented codes",
        [&] { return status.ToString(); });
  const std::string printed = engine::DecisionToJson(decision);
  Check(IsStrictJson(printed), "a decision prints as strict JSON", [&] { return printed; });
  // As records of formats 2 to 4 logged it, which replay of such records
  // compares.
  const std::string logged = cli::LegacyLoggedResult(decision, 4);
  Check(IsStrictJson(logged), "a logged result is strict JSON", [&] { return logged; });

  const engine::EvalOptions traced = FuzzEvalOptions(/*trace=*/true);
  engine::Decision again;
  const absl::Status second = engine::EvaluateInto(policy, facts, traced, &again);
  Check(second.ok(), "evaluating again succeeds", [&] { return second.ToString(); });
  Check(cli::LegacyLoggedResult(again, 4) == logged, "evaluating again, traced, logs the same",
        [&] { return absl::StrCat(logged, "\n", cli::LegacyLoggedResult(again, 4)); });
  Check(IsStrictJson(engine::DecisionToJson(again)), "a traced decision prints as strict JSON");
}

int TestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::shared_ptr<const engine::CompiledPolicy>> policies =
      ReferencePolicies();
  const std::string json(reinterpret_cast<const char*>(data), size);
  for (const auto& policy : policies) CheckOne(json, *policy);
  return 0;
}

}  // namespace
}  // namespace creditd::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)creditd::fuzz::ReferenceBundle();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return creditd::fuzz::TestOneInput(data, size);
}
