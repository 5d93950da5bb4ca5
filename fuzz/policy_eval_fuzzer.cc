// libFuzzer target: a policy that parses and checks without errors is
// compiled and evaluated. The input is policy text, then optionally a NUL
// byte and bytes that choose the facts (fact_generator.h): for each input,
// values of every kind inside and outside its declared range. The policy may
// import the reference libraries (`import "shared/common.credit"`). These
// must hold:
//
// - compiling a policy that checked without errors succeeds (a library is
//   refused with FAILED_PRECONDITION); nothing crashes, hangs or leaks;
// - evaluation answers OK, INVALID_ARGUMENT listing its problems, or
//   FAILED_PRECONDITION (overflow, division by zero) with a message; never
//   another code;
// - validation agrees with the documented contract (facts that must pass
//   are not refused, facts that must fail are);
// - an OK decision has every output and an outcome on its scale, prints as
//   strict JSON, and evaluating again with a trace answers the same;
// - the facts' canonical text (what the audit log stores) decodes to the
//   same facts, whatever bytes they hold and in whatever order they came,
//   and those decide the same;
// - the policy's canonical source (what the audit log stores) compiles to
//   the same sha256 and decides the same, as replay needs.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/decision.h"
#include "credit/v1/creditd.pb.h"
#include "dsl/diagnostic.h"
#include "engine/bundle.h"
#include "engine/checker.h"
#include "engine/compiler.h"
#include "engine/decision_json.h"
#include "engine/evaluator.h"
#include "engine/facts_codec.h"
#include "engine/file_system.h"
#include "engine/program.h"
#include "fuzz/fact_generator.h"
#include "fuzz/fuzz_support.h"
#include "fuzzer/FuzzedDataProvider.h"

namespace creditd::fuzz {
namespace {

constexpr char kPath[] = "fuzz.credit";

// The reference libraries, read once: policies/shared/*.credit as
// "shared/NAME.credit".
const std::map<std::string, std::string>& Libraries() {
  static const std::map<std::string, std::string> libraries = [] {
    std::map<std::string, std::string> files;
    // Through the policy directory's own reader: nothing here can throw, and
    // an error fails the run instead of leaving a library out.
    engine::PolicyDirReader policies(PolicyDirectory());
    absl::StatusOr<std::vector<engine::DirectoryEntry>> entries =
        engine::FileSystem::Default().ListDirectory(PolicyDirectory() + "/shared");
    if (!entries.ok()) Fail("the reference libraries load", entries.status().ToString());
    for (const engine::DirectoryEntry& entry : *entries) {
      if (!absl::EndsWith(entry.name, ".credit")) continue;
      const std::string path = "shared/" + entry.name;
      absl::StatusOr<std::string> text = policies.Read(path);
      if (!text.ok()) Fail("the reference libraries load", text.status().ToString());
      files[path] = *text;
    }
    if (files.empty()) Fail("the reference libraries load", PolicyDirectory() + "/shared");
    return files;
  }();
  return libraries;
}

class Reader : public engine::FileReader {
 public:
  explicit Reader(const std::string& text) : text_(text) {}
  absl::StatusOr<std::string> Read(const std::string& path) override {
    const std::string normalized = engine::NormalizePath(path);
    if (normalized == kPath) return text_;
    auto it = Libraries().find(normalized);
    if (it != Libraries().end()) return it->second;
    return absl::NotFoundError(absl::StrCat("no file ", path));
  }

 private:
  const std::string& text_;
};

std::string Show(const std::vector<GeneratedFact>& facts) {
  std::string text;
  for (const GeneratedFact& f : facts) {
    absl::StrAppend(&text, "\n  `", f.name.substr(0, 64), "` kind ", static_cast<int>(f.kind),
                    " b ", f.b, " i ", f.i, " text `", f.text.substr(0, 64), "`");
  }
  return text;
}

void CheckDecision(const engine::CompiledPolicy& policy, const engine::Decision& d) {
  Check(d.outputs.size() == policy.outputs().size(), "a decision has every output");
  if (policy.outcome() != nullptr) {
    Check(d.has_outcome && d.outcome_ordinal >= 0 &&
              static_cast<size_t>(d.outcome_ordinal) < policy.outcome()->symbols.size(),
          "the outcome is on its scale");
  }
  const std::string printed = engine::DecisionToJson(d);
  Check(IsStrictJson(printed), "a decision prints as strict JSON", [&] { return printed; });
}

// The answer creditd answers and logs for `d` (api::FillDecision), without
// the trace, which only a traced evaluation has.
credit::v1::Decision Answer(const engine::Decision& d) {
  credit::v1::Decision out;
  api::FillDecision(d, &out);
  out.clear_trace();
  return out;
}

// The facts' canonical text (what the log stores) decodes to the same facts,
// whatever bytes their names and texts hold, and does not depend on their
// order.
void CheckCanonicalText(const engine::Facts& facts) {
  const std::string text = engine::ToCanonicalJson(facts);
  absl::StatusOr<engine::CanonicalFacts> decoded = engine::FactsFromCanonicalJson(text);
  Check(decoded.ok(), "canonical facts decode",
        [&] { return absl::StrCat(decoded.status().message(), "\n", text); });
  Check(Sorted(decoded->facts()) == Sorted(facts), "canonical facts decode to the same facts",
        [&] { return text; });
  Check(engine::ToCanonicalJson(decoded->facts()) == text, "decoded facts encode alike",
        [&] { return text; });
  engine::Facts reversed;
  for (auto it = facts.all().rbegin(); it != facts.all().rend(); ++it) {
    reversed.Add(it->name, it->value);
  }
  Check(engine::ToCanonicalJson(reversed) == text, "facts in another order encode alike",
        [&] { return text; });
}

// Evaluates one set of facts and checks the answer; returns the answer of an
// OK decision.
std::optional<credit::v1::Decision> EvaluateOnce(const engine::CompiledPolicy& policy,
                                                 const std::vector<GeneratedFact>& generated) {
  const engine::Facts facts = ToEngineFacts(policy, generated);
  CheckCanonicalText(facts);
  const Verdict verdict = Judge(policy, generated);
  engine::Decision decision;
  std::vector<engine::FactProblem> problems;
  const absl::Status status =
      engine::EvaluateInto(policy, facts, FuzzEvalOptions(), &decision, &problems);
  auto detail = [&] { return absl::StrCat(status.ToString(), Show(generated)); };
  if (Verbose()) {
    std::fprintf(stderr, "%s verdict %d: %.200s\n", policy.name().c_str(),
                 static_cast<int>(verdict), status.ToString().c_str());
  }
  if (verdict == Verdict::kValid) {
    Check(!absl::IsInvalidArgument(status), "valid facts are not refused", detail);
  } else if (verdict == Verdict::kInvalid) {
    Check(absl::IsInvalidArgument(status), "invalid facts are refused", detail);
  }
  if (absl::IsInvalidArgument(status)) {
    Check(!problems.empty(), "INVALID_ARGUMENT lists its problems", detail);
    return std::nullopt;
  }
  Check(problems.empty(), "problems come only with INVALID_ARGUMENT");
  if (absl::IsFailedPrecondition(status)) {
    Check(!status.message().empty(), "a failed evaluation says why");
    return std::nullopt;
  }
  Check(status.ok(), "evaluation answers only the documented codes", detail);
  CheckDecision(policy, decision);
  const credit::v1::Decision answer = Answer(decision);
  std::string difference;

  const engine::EvalOptions traced = FuzzEvalOptions(/*trace=*/true);
  engine::Decision again;
  const absl::Status second = engine::EvaluateInto(policy, facts, traced, &again);
  Check(second.ok(), "evaluating again succeeds", [&] { return second.ToString(); });
  Check(api::SameDecision(answer, Answer(again), &difference),
        "evaluating again, traced, answers the same", [&] { return difference; });
  Check(IsStrictJson(engine::DecisionToJson(again)), "a traced decision prints as strict JSON");
  // The log keeps the answer, trace included, as bytes and reads it back.
  credit::v1::Decision full;
  api::FillDecision(again, &full);
  credit::v1::Decision back;
  Check(api::ParseDecision(api::DeterministicBytes(full), &back).ok(),
        "the answer's logged bytes parse");
  Check(api::SameDecision(back, full, &difference), "the answer's logged bytes read back the same",
        [&] { return difference; });

  // Replay reads the facts back from their canonical text.
  absl::StatusOr<engine::CanonicalFacts> logged =
      engine::FactsFromCanonicalJson(engine::ToCanonicalJson(facts));
  Check(logged.ok(), "canonical facts decode");
  engine::Decision replayed;
  const absl::Status third =
      engine::EvaluateInto(policy, logged->facts(), FuzzEvalOptions(), &replayed);
  Check(third.ok(), "the logged facts evaluate", [&] { return third.ToString(); });
  Check(api::SameDecision(answer, Answer(replayed), &difference),
        "the logged facts answer the same", [&] { return difference; });
  return answer;
}

int TestOneInput(const uint8_t* data, size_t size) {
  const char* begin = reinterpret_cast<const char*>(data);
  const char* nul = static_cast<const char*>(std::memchr(begin, '\0', size));
  const std::string text(begin, nul != nullptr ? static_cast<size_t>(nul - begin) : size);
  const size_t rest = nul != nullptr ? size - static_cast<size_t>(nul - begin) - 1 : 0;
  FuzzedDataProvider choices(nul != nullptr ? data + (nul - begin) + 1 : data + size, rest);

  Reader reader(text);
  dsl::DiagnosticSink sink;
  absl::StatusOr<std::unique_ptr<engine::CheckedPolicy>> checked =
      engine::LoadAndCheck(kPath, reader, sink);
  if (!checked.ok() || sink.has_errors()) return 0;
  const bool library = (*checked)->is_library;
  absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> compiled =
      engine::Compile(*std::move(checked));
  if (library) {
    Check(absl::IsFailedPrecondition(compiled.status()), "a library does not compile",
          [&] { return compiled.status().ToString(); });
    return 0;
  }
  Check(compiled.ok(), "a policy that checked without errors compiles",
        [&] { return compiled.status().ToString(); });
  const engine::CompiledPolicy& policy = **compiled;

  // The canonical source, as the audit log stores it, rebuilds the policy.
  absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> rebuilt =
      engine::CompileCanonicalSource(policy.canonical_source());
  Check(rebuilt.ok(), "the canonical source compiles", [&] {
    return std::string(absl::StrCat(rebuilt.status().ToString(), "\n", policy.canonical_source()));
  });
  Check((*rebuilt)->id().sha256 == policy.id().sha256,
        "the canonical source compiles to the same sha256",
        [&] { return policy.canonical_source(); });

  for (int round = 0; round < 3; ++round) {
    const std::vector<GeneratedFact> facts = GenerateFacts(policy, choices);
    const std::optional<credit::v1::Decision> logged = EvaluateOnce(policy, facts);
    if (logged) {
      // Replay: the rebuilt policy decides the same. Reasons name the rule's
      // file and line, which move when the text was not in canonical form;
      // only the strict run compares them.
      engine::Decision replayed;
      const absl::Status status = engine::EvaluateInto(**rebuilt, ToEngineFacts(**rebuilt, facts),
                                                       FuzzEvalOptions(), &replayed);
      Check(status.ok(), "a decision replays on the canonical source",
            [&] { return status.ToString(); });
      credit::v1::Decision want = *logged;
      credit::v1::Decision got = Answer(replayed);
      if (!Strict("replay_locations")) {
        for (credit::v1::Reason& r : *want.mutable_reasons()) r.clear_location();
        for (credit::v1::Reason& r : *got.mutable_reasons()) r.clear_location();
      }
      std::string difference;
      Check(api::SameDecision(want, got, &difference), "a decision replays to the same result",
            [&] { return difference; });
    }
    if (choices.remaining_bytes() == 0) break;
  }
  return 0;
}

}  // namespace
}  // namespace creditd::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)creditd::fuzz::Libraries();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return creditd::fuzz::TestOneInput(data, size);
}
